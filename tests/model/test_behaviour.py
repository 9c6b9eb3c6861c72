"""Behavioural tests of the trained model in our domain: functionality, invariance, direction."""

from __future__ import annotations

import numpy as np
import pytest

from outsourcing_classifier.config import ModelConfig
from outsourcing_classifier.frames import REGISTERS, load_frames
from outsourcing_classifier.train import train

pytestmark = pytest.mark.slow


def _proba(pipeline, text: str, label: str) -> float:
    return float(pipeline.predict_proba([text])[0][list(pipeline.classes_).index(label)])


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Inbound customer support by phone, chat and email for a telecom operator", "bpo"),
        ("Equity research and financial modelling support for a hedge fund", "kpo"),
        ("Patent application drafting and prior-art searches for a technology client", "lpo"),
        (
            "Preclinical toxicology studies and assay development for a biotech sponsor",
            "research_po",
        ),
        (
            "Source, screen and interview candidates to fill 200 warehouse vacancies",
            "recruitment_po",
        ),
        ("Monthly payroll processing and benefits administration for 3,000 employees", "hro"),
        ("Medical coding with ICD-10 and CPT and claims submission for a hospital", "mbpo"),
        (
            "Run RFQs, select suppliers and raise purchase orders for indirect spend",
            "procurement_bpo",
        ),
        ("Office cleaning and facilities maintenance for our Leeds headquarters", "other"),
        ("Develop and maintain a mobile banking app in React Native", "other"),
    ],
)
def test_minimum_functionality(trained, text, label):
    assert trained.pipeline.predict([text])[0] == label


@pytest.mark.parametrize(
    ("original", "changed"),
    [
        (  # vendor name
            "Acme Services Ltd to process supplier invoices and post them to the ledger",
            "Globex Pvt Ltd to process supplier invoices and post them to the ledger",
        ),
        (  # city
            "Payroll processing for 800 staff at our Manila office",
            "Payroll processing for 800 staff at our Krakow office",
        ),
        (  # amount and currency
            "Medical billing and denial management, annual value $250,000",
            "Medical billing and denial management, annual value EUR 1.2m",
        ),
        (  # casing and punctuation
            "Contract review and NDA drafting for the legal team",
            "CONTRACT REVIEW & NDA DRAFTING FOR THE LEGAL TEAM!",
        ),
    ],
)
def test_invariance(trained, original, changed):
    assert trained.pipeline.predict([original])[0] == trained.pipeline.predict([changed])[0]


@pytest.mark.parametrize(
    ("base", "addition", "label"),
    [
        ("Back-office support for a hospital group", " including ICD-10 coding", "mbpo"),
        ("Document processing support", " for e-discovery and privilege review", "lpo"),
        ("Back-office support for our HR team", " covering payroll and payslips", "hro"),
        (
            "Back-office support for our buying team",
            " handling RFQs and purchase orders",
            "procurement_bpo",
        ),
        (
            "Research support for a pharma company",
            " running cell-based assays in the lab",
            "research_po",
        ),
    ],
)
def test_direction(trained, base, addition, label):
    assert _proba(trained.pipeline, base + addition, label) > _proba(trained.pipeline, base, label)


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
