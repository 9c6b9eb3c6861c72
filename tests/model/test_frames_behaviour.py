"""Reading through frames (DESIGN §1): the label follows the work, never the document around it."""

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


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (  # an advert for a payroll post is HR work, however much it recruits
            "We are recruiting a Payroll Officer to join our friendly finance team. The post "
            "holder will run monthly payroll for 1,200 staff. Apply with your CV.",
            "hro",
        ),
        (  # a tender for payroll services is HR work, however much it buys
            "Contract notice. The Council invites tenders for a managed payroll and pensions "
            "service for 4,000 employees. Lot 1. Estimated value GBP 900,000. Bids by 12 May.",
            "hro",
        ),
        (  # a tender whose service is hiring stays recruitment
            "Contract notice. The Trust invites tenders for a recruitment process outsourcing "
            "partner to source, screen and shortlist candidates for 300 nursing vacancies a year. "
            "Lot 2. Estimated value GBP 1.1m. Bids by 3 March.",
            "recruitment_po",
        ),
        (  # an advert for a recruiter: hiring is the job
            "Join our talent team as an in-house recruiter. You will source candidates on "
            "LinkedIn, run phone screens and manage offers for engineering roles. Apply with your "
            "CV.",
            "recruitment_po",
        ),
        (  # an advert for a buyer: buying is the job
            "We are hiring a Buyer to join our operations team. The post holder will run RFQs, "
            "negotiate with suppliers and raise purchase orders. Closing date 30 June.",
            "procurement_bpo",
        ),
        (  # a tender for contract review: legal work is the service
            "Invitation to tender. The Authority seeks a provider to review and summarise 2,000 "
            "supplier contracts for termination and liability clauses. Lot 1. Bids by noon.",
            "lpo",
        ),
        (  # a statement of work for medical coding, with the contract's legal words around it
            "2.1 The Supplier shall provide the following Services: coding of inpatient episodes "
            "in ICD-10 and submission of claims. This Agreement is governed by the laws of "
            "England.",
            "mbpo",
        ),
        (  # an e-mail handing over data entry
            "Hi Sam, following our call, can your team pick up keying the paper order forms "
            "into the system from Monday? Kind regards, Priya",
            "bpo",
        ),
    ],
)
def test_the_work_decides_not_the_frame(trained, text, label):
    assert trained.pipeline.predict([text])[0] == label


def test_a_frame_alone_is_not_confident_evidence(trained):
    """Boilerplate without work must not be read as a confident label."""
    frame_only = (
        "We are looking for an enthusiastic person to join our friendly team. The post holder "
        "will report to the operations manager. Apply with your CV by 30 June."
    )
    assert float(np.max(trained.pipeline.predict_proba([frame_only]))) < 0.9
