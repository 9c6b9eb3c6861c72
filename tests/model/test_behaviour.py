"""Behavioural tests of the trained model in our domain: the cases of data/behaviour.yaml
(minimum functionality, invariance, direction), and the model's scores and choices."""

from __future__ import annotations

import numpy as np
import pytest

from outsourcing_classifier.behaviour import failures, load_behaviour
from outsourcing_classifier.config import PROJECT_ROOT, ModelConfig, load_paths
from outsourcing_classifier.frames import REGISTERS, load_frames
from outsourcing_classifier.taxonomy import load_taxonomy
from outsourcing_classifier.train import train

pytestmark = pytest.mark.slow


PATHS = load_paths(PROJECT_ROOT)
CASES = load_behaviour(PATHS.behaviour, load_taxonomy(PATHS.taxonomy))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}: {c.texts[-1][:50]}" for c in CASES])
def test_behavioural_case(trained, case):
    # the cases live in data/behaviour.yaml: the retraining gate runs the same ones
    assert failures(trained.pipeline, (case,)) == ()


def test_beats_the_baselines(trained):
    for name, baseline in trained.baselines.items():
        assert trained.test.macro_f1 > baseline.macro_f1, name
    assert trained.baselines["majority_class"].macro_f1 < 0.1


def test_test_metrics_are_complete(trained, taxonomy):
    assert set(trained.test.per_class) == set(taxonomy.ids)
    assert 0 <= trained.test.ece <= 1
    assert trained.test.log_loss > 0
    assert trained.test.rows == len(trained.test_keys) == len(trained.test_predictions)


def test_framed_test_metrics_cover_every_register(trained):
    framed = trained.framed
    assert framed.rows == trained.test.rows
    assert set(framed.per_register) == set(REGISTERS)
    rates = [scores["flip_rate"] for scores in framed.per_register.values()]
    assert framed.flip_rate == pytest.approx(np.mean(rates))
    assert 0 < framed.flip_rate < 0.5  # frames move some labels, and far from most
    assert framed.unframed_macro_f1 == pytest.approx(trained.test.macro_f1)


def test_model_choice_covers_both_classifier_kinds(trained):
    assert {c.kind for c in trained.candidates} == {"linear_svc", "sgd"}
    best = max(trained.candidates, key=lambda c: c.cv_macro_f1_mean)
    assert (trained.kind, trained.strength) == (best.kind, best.strength)


def test_probabilities_are_calibrated_distributions(trained):
    proba = trained.pipeline.predict_proba(["Data entry of insurance forms", "Payroll"])
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_training_is_deterministic(corpus, taxonomy, project_paths):
    sample = corpus.groupby("label").head(60).reset_index(drop=True)
    config = ModelConfig(candidates=(("logreg", (10.0,)), ("sgd", (1e-4,))), cv_folds=2)
    frames = load_frames(project_paths.frames, taxonomy)
    probe = [
        "Invoice processing for a retailer",
        "Lab assay development",
        "Join our team! Hire 40 nurses. Apply with your CV by Friday.",
    ]
    first = train(sample, config, taxonomy, frames=frames)
    second = train(sample, config, taxonomy, frames=frames)
    assert np.array_equal(first.pipeline.predict_proba(probe), second.pipeline.predict_proba(probe))
    assert first.framed == second.framed
