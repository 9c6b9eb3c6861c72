"""Behavioural tests of the trained model in our domain: the cases of data/behaviour.yaml
(minimum functionality, invariance, direction), and the model's scores and choices."""

from __future__ import annotations

import numpy as np
import pytest

from outsourcing_classifier.behaviour import failures, load_behaviour
from outsourcing_classifier.config import PROJECT_ROOT, ModelConfig, load_paths
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


def test_model_choice_covers_three_classifier_kinds(trained):
    assert {c.kind for c in trained.candidates} == {"logreg", "linear_svc", "sgd"}
    best = max(trained.candidates, key=lambda c: c.cv_macro_f1_mean)
    assert (trained.kind, trained.strength) == (best.kind, best.strength)


def test_probabilities_are_calibrated_distributions(trained):
    proba = trained.pipeline.predict_proba(["Data entry of insurance forms", "Payroll"])
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_training_is_deterministic(corpus, taxonomy):
    sample = corpus.groupby("label").head(60).reset_index(drop=True)
    config = ModelConfig(candidates=(("logreg", (10.0,)), ("sgd", (1e-4,))), cv_folds=2)
    probe = ["Invoice processing for a retailer", "Lab assay development", "Hire 40 nurses"]
    first = train(sample, config, taxonomy).pipeline.predict_proba(probe)
    second = train(sample, config, taxonomy).pipeline.predict_proba(probe)
    assert np.array_equal(first, second)
