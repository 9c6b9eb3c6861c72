"""The gates' pure decisions: each rule of the challenger gate names its reason, confident flips
are counted per label, and a batch that contradicts the champion on most rows is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outsourcing_classifier.behaviour import BehaviourFailure, InvarianceCase, MinimumCase
from outsourcing_classifier.config import GateConfig
from outsourcing_classifier.evaluate import FramedMetrics, compute_metrics
from outsourcing_classifier.gate import (
    Comparison,
    ConfidentFlip,
    check_batch,
    confident_flips,
    decide,
)

PAYROLL = MinimumCase("duty line", "Payroll for 800 staff", "hro")
CITY = InvarianceCase("city", ("Payroll in Leeds", "Payroll in Lyon"))
PAYROLL_FAILS = BehaviourFailure(PAYROLL, "'Payroll for 800 staff' is kpo (0.99), expected hro")
CITY_FAILS = BehaviourFailure(CITY, "'Payroll in Leeds' is hro, but 'Payroll in Lyon' is bpo")


def _flips(count: int) -> tuple[ConfidentFlip, ...]:
    return tuple(ConfidentFlip(f"Payroll run {i}", "hro", 0.99, "kpo", 0.97) for i in range(count))


def _framed(flip_rate: float) -> FramedMetrics:
    scores = {"flip_rate": flip_rate, "macro_f1": 0.85, "ece": 0.05}
    return FramedMetrics(40, flip_rate, 0.85, 0.05, 0.88, {"job_advert": scores})


def _comparison(taxonomy, **changes) -> Comparison:
    """A challenger exactly as good as the champion, with ``changes`` applied."""
    truth = ["hro"] * 20 + ["kpo"] * 20
    same = compute_metrics(truth, truth, taxonomy)
    facts = {
        "champion": same,
        "challenger": same,
        "champion_failures": (),
        "challenger_failures": (),
        "confident": {"hro": 100, "kpo": 300},
        "confident_flips": (),
        "champion_framed": _framed(0.05),
        "challenger_framed": _framed(0.05),
    }
    return Comparison(**(facts | changes))


def test_a_challenger_as_good_as_the_champion_is_promoted(taxonomy):
    assert decide(_comparison(taxonomy), GateConfig()).reasons == ()
    assert decide(_comparison(taxonomy), GateConfig()).promote


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        (  # a behavioural case the champion passes
            {"challenger_failures": (PAYROLL_FAILS,)},
            [
                "fails a behavioural case the champion passes: minimum (duty line): "
                "'Payroll for 800 staff' is kpo (0.99), expected hro"
            ],
        ),
        (  # a case the champion fails too is not held against the challenger
            {"champion_failures": (CITY_FAILS,), "challenger_failures": (CITY_FAILS,)},
            [],
        ),
        (  # 4 of 100 confident hro predictions flipped: over the floor of 3 rows
            {"confident_flips": _flips(4)},
            [
                "4 of the champion's 100 confident (>= 0.9) correct hro test predictions "
                "flipped, more than the 3 allowed; e.g. 'Payroll run 0' is now kpo"
            ],
        ),
        ({"confident_flips": _flips(3)}, []),  # 3 flips: within the floor
        (  # 7 of 300 is over 2% (6)
            {"confident": {"hro": 300}, "confident_flips": _flips(7)},
            [
                "7 of the champion's 300 confident (>= 0.9) correct hro test predictions "
                "flipped, more than the 6 allowed; e.g. 'Payroll run 0' is now kpo"
            ],
        ),
        ({"confident": {"hro": 300}, "confident_flips": _flips(6)}, []),  # 2% of 300: allowed
        (  # frames move 3 points more texts than they did with the champion
            {"challenger_framed": _framed(0.08)},
            [
                "reads through frames worse: flip rate in held-out frames 0.050 -> 0.080, "
                "up more than 0.02"
            ],
        ),
        ({"challenger_framed": _framed(0.065)}, []),  # 1.5 points more: within the margin
        ({"challenger_framed": _framed(0.01)}, []),  # reading better is no reason to refuse
    ],
)
def test_each_rule_names_its_reason(taxonomy, changes, reasons):
    decision = decide(_comparison(taxonomy, **changes), GateConfig())
    assert list(decision.reasons) == reasons
    assert decision.promote == (not reasons)


def test_worse_scores_are_refused_by_the_aggregate_rules(taxonomy):
    truth = ["hro"] * 20 + ["kpo"] * 20
    worse = compute_metrics(truth, ["hro"] * 24 + ["kpo"] * 16, taxonomy)
    # hro: precision 20/24, F1 0.909; kpo: recall 16/20, F1 0.889
    assert decide(_comparison(taxonomy, challenger=worse), GateConfig()).reasons == (
        "macro-F1 fell by 0.101 (1.000 -> 0.899), more than 0.005",
        "F1 of kpo fell by 0.111, more than 0.05",  # in taxonomy order
        "F1 of hro fell by 0.091, more than 0.05",
    )


def test_the_artifact_holds_the_failures_and_the_flipped_texts(taxonomy):
    facts = _comparison(
        taxonomy,
        champion_failures=(CITY_FAILS,),
        challenger_failures=(PAYROLL_FAILS, CITY_FAILS),
        confident_flips=_flips(1),
    ).as_dict()
    assert facts["behaviour"] == {
        "new_failures": [{"kind": "minimum", "why": "duty line", "detail": PAYROLL_FAILS.detail}],
        "champion_fails_too": [{"kind": "invariance", "why": "city", "detail": CITY_FAILS.detail}],
    }
    assert facts["confident_flips"] == {
        "per_label": {
            "hro": {"confident": 100, "flipped": 1},
            "kpo": {"confident": 300, "flipped": 0},
        },
        "rows": [
            {
                "text": "Payroll run 0",
                "label": "hro",
                "champion_confidence": 0.99,
                "challenger": "kpo",
                "challenger_confidence": 0.97,
            }
        ],
    }


def test_confident_flips_count_only_confident_correct_predictions():
    rows = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d", "e"],
            "label": ["hro", "hro", "hro", "kpo", "kpo"],
        }
    )
    confident, flips = confident_flips(
        rows,
        np.array(["hro", "hro", "hro", "hro", "kpo"], dtype=object),
        np.array([0.95, 0.99, 0.6, 0.97, 0.9]),
        np.array(["hro", "kpo", "kpo", "kpo", "kpo"], dtype=object),
        np.array([0.9, 0.8, 0.7, 0.99, 0.9]),
        confident_at=0.9,
    )
    # a: confident and kept; b: confident, flipped; c: flipped but unsure; d: a confident
    # mistake the challenger corrects; e: confident (exactly 0.9) and kept
    assert confident == {"hro": 2, "kpo": 1}
    assert flips == (ConfidentFlip("b", "hro", 0.99, "kpo", 0.8),)


CLASSES = np.array(["bpo", "hro", "kpo"], dtype=object)
SURE_HRO, UNSURE_HRO, SURE_BPO = [0.02, 0.97, 0.01], [0.1, 0.8, 0.1], [0.96, 0.02, 0.02]


@pytest.mark.parametrize(
    ("labels", "proba", "text"),
    [
        (  # the pattern
            ["kpo"] * 3,
            [SURE_HRO] * 3,
            "3 of 3 rows: champion says hro with ≥ 0.95, batch says kpo",
        ),
        (  # most rows, in two patterns, the larger first
            ["kpo", "bpo", "bpo", "hro"],
            [SURE_HRO, SURE_HRO, SURE_HRO, SURE_HRO],
            "2 of 4 rows: champion says hro with ≥ 0.95, batch says bpo; "
            "1 of 4 rows: champion says hro with ≥ 0.95, batch says kpo",
        ),
        (["kpo", "kpo", "hro", "hro"], [SURE_HRO] * 4, None),  # half the rows is not most
        (["kpo"] * 3, [UNSURE_HRO] * 3, None),  # the champion is not sure enough
        (["bpo", "kpo"], [SURE_BPO, SURE_HRO], None),  # agrees on one, contradicts one
    ],
)
def test_a_batch_is_named_when_most_rows_contradict_a_sure_champion(labels, proba, text):
    check = check_batch(labels, np.array(proba), CLASSES, GateConfig())
    assert (check.text() if check else None) == text
