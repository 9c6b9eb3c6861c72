"""The safety gates: may a challenger replace the champion, and does a batch of new examples
contradict the champion so squarely that it looks mislabelled or poisoned?

The facts are measured by the callers (``retrain`` for a challenger, :func:`add_checked` for a
batch); the decisions are pure functions of those facts and :class:`GateConfig`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from outsourcing_classifier.behaviour import BehaviourFailure
from outsourcing_classifier.config import GateConfig, Paths
from outsourcing_classifier.corpus import AdditionPlan, append_examples, plan_examples
from outsourcing_classifier.evaluate import FramedMetrics, Metrics
from outsourcing_classifier.outputs import project_lock
from outsourcing_classifier.store import load_model
from outsourcing_classifier.taxonomy import Taxonomy


@dataclass(frozen=True)
class ConfidentFlip:
    """A test row the champion labelled right and confidently, which the challenger labels
    otherwise."""

    text: str
    label: str
    champion_confidence: float
    challenger: str
    challenger_confidence: float


def confident_flips(
    rows: pd.DataFrame,
    champion: np.ndarray,
    champion_confidence: np.ndarray,
    challenger: np.ndarray,
    challenger_confidence: np.ndarray,
    confident_at: float,
) -> tuple[dict[str, int], tuple[ConfidentFlip, ...]]:
    """The champion's confident, correct predictions per label, and those the challenger flips.

    ``rows`` has ``text`` and ``label``; the arrays are each model's label and confidence for
    them. A confident mistake that the challenger corrects is not a flip.
    """
    labels = rows["label"].to_numpy(dtype=object)
    kept = (champion_confidence >= confident_at) & (champion == labels)
    flips = tuple(
        ConfidentFlip(text, label, float(sure), str(new), float(new_sure))
        for text, label, sure, new, new_sure, keep in zip(
            rows["text"],
            labels,
            champion_confidence,
            challenger,
            challenger_confidence,
            kept,
            strict=True,
        )
        if keep and new != label
    )
    return dict(sorted(Counter(labels[kept].tolist()).items())), flips


@dataclass(frozen=True)
class Comparison:
    """What was measured of a challenger against the champion: scores on the test rows the
    champion was judged on, behavioural cases, and confident test predictions flipped.

    A new check is one more field here and one more rule in :data:`RULES`.
    """

    champion: Metrics
    challenger: Metrics
    champion_failures: tuple[BehaviourFailure, ...]
    challenger_failures: tuple[BehaviourFailure, ...]
    confident: dict[str, int]  # the champion's confident, correct test predictions per label
    confident_flips: tuple[ConfidentFlip, ...]
    champion_framed: FramedMetrics  # the same test rows in held-out frames
    challenger_framed: FramedMetrics

    @property
    def new_failures(self) -> tuple[BehaviourFailure, ...]:
        """Behavioural cases the challenger fails and the champion passes."""
        known = {failure.case for failure in self.champion_failures}
        return tuple(f for f in self.challenger_failures if f.case not in known)

    @property
    def class_f1_deltas(self) -> dict[str, float]:
        """Challenger minus champion F1 per class (both are scored over every taxonomy label)."""
        return {
            label: self.challenger.per_class[label].f1 - scores.f1
            for label, scores in self.champion.per_class.items()
        }

    def as_dict(self) -> dict:
        """The facts as the comparison artifact records them."""
        flipped = Counter(flip.label for flip in self.confident_flips)
        return {
            "champion": self.champion.flat(),
            "challenger": self.challenger.flat(),
            "class_f1_deltas": self.class_f1_deltas,
            "behaviour": {
                "new_failures": [f.as_dict() for f in self.new_failures],
                "champion_fails_too": [
                    f.as_dict() for f in self.challenger_failures if f not in self.new_failures
                ],
            },
            "confident_flips": {
                "per_label": {
                    label: {"confident": count, "flipped": flipped[label]}
                    for label, count in self.confident.items()
                },
                "rows": [asdict(flip) for flip in self.confident_flips],
            },
            "framed": {
                "champion": self.champion_framed.flat(),
                "challenger": self.challenger_framed.flat(),
            },
        }


def _macro_f1(comparison: Comparison, config: GateConfig) -> Iterator[str]:
    champion, challenger = comparison.champion.macro_f1, comparison.challenger.macro_f1
    if champion - challenger > config.max_macro_f1_drop:
        yield (
            f"macro-F1 fell by {champion - challenger:.3f} ({champion:.3f} -> {challenger:.3f}),"
            f" more than {config.max_macro_f1_drop}"
        )


def _class_f1(comparison: Comparison, config: GateConfig) -> Iterator[str]:
    for label, delta in comparison.class_f1_deltas.items():
        if -delta > config.max_class_f1_drop:
            yield f"F1 of {label} fell by {-delta:.3f}, more than {config.max_class_f1_drop}"


def _behaviour(comparison: Comparison, config: GateConfig) -> Iterator[str]:
    for failure in comparison.new_failures:
        yield f"fails a behavioural case the champion passes: {failure}"


def _flips(comparison: Comparison, config: GateConfig) -> Iterator[str]:
    flips = comparison.confident_flips
    for label, flipped in sorted(Counter(flip.label for flip in flips).items()):
        confident = comparison.confident[label]
        allowed = max(config.flip_allowance, int(config.max_flip_share * confident))
        if flipped > allowed:
            example = next(flip for flip in flips if flip.label == label)
            yield (
                f"{flipped} of the champion's {confident} confident (>= {config.confident_at:g})"
                f" correct {label} test predictions flipped, more than the {allowed} allowed;"
                f" e.g. {example.text!r} is now {example.challenger}"
            )


def _frames(comparison: Comparison, config: GateConfig) -> Iterator[str]:
    champion = comparison.champion_framed.flip_rate
    challenger = comparison.challenger_framed.flip_rate
    if challenger - champion > config.max_frame_flip_rise:
        yield (
            f"reads through frames worse: flip rate in held-out frames {champion:.3f} -> "
            f"{challenger:.3f}, up more than {config.max_frame_flip_rise}"
        )


Rule = Callable[[Comparison, GateConfig], Iterator[str]]
RULES: tuple[Rule, ...] = (_macro_f1, _class_f1, _behaviour, _flips, _frames)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: tuple[str, ...]


def decide(comparison: Comparison, config: GateConfig) -> GateDecision:
    """Promote only if no rule finds a reason to refuse; every reason found is returned."""
    reasons = tuple(reason for rule in RULES for reason in rule(comparison, config))
    return GateDecision(not reasons, reasons)


@dataclass(frozen=True)
class Contradiction:
    champion: str  # the label the champion gives, confidently
    batch: str  # the label the batch gives
    rows: int


@dataclass(frozen=True)
class BatchCheck:
    """A batch whose labels contradict the champion's confident predictions on most rows."""

    rows: int
    confident_at: float
    contradictions: tuple[Contradiction, ...]  # largest first

    def text(self) -> str:
        return "; ".join(
            f"{c.rows} of {self.rows} rows: champion says {c.champion} with ≥ "
            f"{self.confident_at:g}, batch says {c.batch}"
            for c in self.contradictions
        )


def check_batch(
    labels: list[str], champion: np.ndarray, classes: np.ndarray, config: GateConfig
) -> BatchCheck | None:
    """A :class:`BatchCheck` when more than ``config.max_batch_contradiction_share`` of the rows
    carry another label than the one the champion gives them with ``config.batch_confident_at``
    or more (``champion``: its probabilities over ``classes``); else ``None``."""
    predicted = np.asarray(classes, dtype=object)[champion.argmax(1)]
    confident = champion.max(1) >= config.batch_confident_at
    pairs = Counter(
        (said, given)
        for said, given, sure in zip(predicted, labels, confident, strict=True)
        if sure and said != given
    )
    if sum(pairs.values()) <= config.max_batch_contradiction_share * len(labels):
        return None
    return BatchCheck(
        len(labels),
        config.batch_confident_at,
        tuple(Contradiction(str(said), given, n) for (said, given), n in pairs.most_common()),
    )


@dataclass(frozen=True)
class CheckedAddition:
    plan: AdditionPlan
    check: BatchCheck | None  # the batch contradicts the champion
    held: bool  # nothing written because ``strict`` and ``check``


def add_checked(
    paths: Paths,
    taxonomy: Taxonomy,
    path: Path,
    *,
    strict: bool = False,
    dry_run: bool = False,
    config: GateConfig | None = None,
    **options,
) -> CheckedAddition:
    """``outsourcing add``: plan the batch (``options`` as for :func:`plan_examples`), check it
    against the champion in ``models/`` if there is one, and append it unless anything is
    refused, it is a dry run, or ``strict`` and the batch contradicts the champion."""
    with project_lock(paths):  # from reading the corpus to appending: no row lost or contradicted
        plan = plan_examples(path, paths.corpus, taxonomy, **options)
        check = None
        if not plan.refused and len(plan.rows) and paths.champion_model.is_file():
            pipeline = load_model(paths.models).pipeline
            proba = pipeline.predict_proba(plan.rows["text"].tolist())
            check = check_batch(
                plan.rows["label"].tolist(), proba, pipeline.classes_, config or GateConfig()
            )
        held = strict and check is not None
        if not (plan.refused or dry_run or held or plan.rows.empty):
            plan = append_examples(plan, path, paths.added_examples)
    return CheckedAddition(plan, check, held)
