"""Reading through frames (DESIGN §1): the label follows the work, never the document around it.

Single framed texts whose label is fixed (an advert for a payroll post is hro, a tender for
recruitment services is recruitment_po, ...) are behavioural cases in data/behaviour.yaml, run by
test_behaviour.py and by the retrain gate."""

from __future__ import annotations

import numpy as np
import pytest

from outsourcing_classifier.frames import load_frames, wrap_all

pytestmark = pytest.mark.slow

CLEAR = {
    "bpo": "Key in scanned insurance application forms and check every field against the image.",
    "kpo": "Build competitor pricing benchmarks and a market-sizing model for a consumer brand.",
    "lpo": "Review supplier agreements for change-of-control clauses and summarise the risks.",
    "research_po": "Run cell-based potency assays for a biotech sponsor's antibody candidates.",
    "recruitment_po": "Source and screen applicants for 60 call-centre vacancies; book interviews.",
    "hro": "Run the monthly payroll for 1,400 employees, with pension deductions and payslips.",
    "mbpo": "Assign ICD-10 and CPT codes to outpatient encounters and submit the claims to payers.",
    "procurement_bpo": "Run RFQs for office supplies, compare quotes and raise purchase orders.",
    "other": "Repaint the corridors and replace damaged ceiling tiles across the school buildings.",
}


@pytest.fixture(scope="module")
def heldout(project_paths, taxonomy):
    return load_frames(project_paths.frames, taxonomy).half(heldout=True)


def test_clear_texts_keep_their_label_in_held_out_frames(trained, heldout):
    labels, texts = list(CLEAR), list(CLEAR.values())
    assert trained.pipeline.predict(texts).tolist() == labels
    moved = []
    for register in heldout.registers:
        for seed in range(3):
            framed, _ = wrap_all(texts, heldout, seed, register)
            predicted = trained.pipeline.predict(framed)
            moved += [
                (register, label, str(p))
                for label, p in zip(labels, predicted, strict=True)
                if p != label
            ]
    # 9 labels x 6 registers x 3 framings: at most one in twenty may move
    assert len(moved) <= 8, moved


def test_a_frame_alone_is_not_confident_evidence(trained):
    """Boilerplate without work must not be read as a confident label."""
    frame_only = (
        "We are looking for an enthusiastic person to join our friendly team. The post holder "
        "will report to the operations manager. Apply with your CV by 30 June."
    )
    assert float(np.max(trained.pipeline.predict_proba([frame_only]))) < 0.9


def test_explain_names_the_sentence_that_decided(trained, taxonomy):
    from outsourcing_classifier.predict import Predictor

    advert = (
        "We are recruiting a Payroll Officer to join our friendly finance team. The post holder "
        "will run monthly payroll for 1,200 staff. Apply with your CV."
    )
    predictor = Predictor(trained.pipeline, taxonomy)
    long, short = predictor.predict([advert, "Monthly payroll for 1,200 staff"], explain=True)
    assert (long.label, long.explanation.sentence) == (
        "hro",
        "The post holder will run monthly payroll for 1,200 staff.",
    )
    assert long.as_dict(explain=True)["explanation"]["sentence"] == long.explanation.sentence
    assert 'read from: "The post holder will run' in long.explanation.summary("hro", "bpo")
    assert short.explanation.sentence is None  # one sentence: nothing to choose between
