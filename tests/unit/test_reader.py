"""The reading stage: boilerplate sentences set aside, work sentences and short texts kept."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from outsourcing_classifier.model import build_boilerplate_detector
from outsourcing_classifier.reader import SentenceReader

BOILERPLATE = (
    "Join our friendly and supportive team in the city centre.",
    "We offer a generous pension, 28 days of leave and free parking.",
    "Apply with your CV and a covering letter by the closing date.",
    "The contracting authority will not accept late bids.",
    "Tenders must be submitted through the portal before noon.",
    "This contract is governed by the laws of England and Wales.",
    "Kind regards, the operations team.",
)
WORK = [
    "Run monthly payroll for 1,200 staff across three sites.",
    "Code inpatient charts in ICD-10 and query consultants about gaps.",
    "Screen applicants for warehouse roles and book their interviews.",
    "Raise purchase orders and chase suppliers for late deliveries.",
    "Review supply agreements for change-of-control clauses.",
    "Clean the offices every evening, including kitchens and washrooms.",
]


def reader(boilerplate=BOILERPLATE) -> SentenceReader:
    return SentenceReader(boilerplate, build_boilerplate_detector(seed=0))


def fitted() -> SentenceReader:
    return reader().fit(WORK * 5)


def test_frame_sentences_are_set_aside_and_the_work_kept():
    advert = (
        "Join our friendly and supportive team in the city centre. "
        "Run monthly payroll for 1,200 staff across three sites. "
        "Apply with your CV and a covering letter by the closing date."
    )
    assert fitted().transform([advert]).tolist() == [
        "Run monthly payroll for 1,200 staff across three sites."
    ]


def test_line_breaks_separate_sentences_too():
    notice = (
        "Tenders must be submitted through the portal before noon\n"
        "Raise purchase orders and chase suppliers for late deliveries"
    )
    assert fitted().read_all([notice]) == [
        ["Raise purchase orders and chase suppliers for late deliveries"]
    ]


def test_separators_split_a_cell_and_its_bookkeeping_is_set_aside():
    cells = reader((*BOILERPLATE, "CT-0041 |", "| 2.5 FTE | Pune")).fit(WORK * 5)
    cell = "CT-0041 | Raise purchase orders and chase late deliveries | 2.5 FTE | Pune"
    assert cells.sentences(cell) == [
        "CT-0041",
        "Raise purchase orders and chase late deliveries",
        "2.5 FTE",
        "Pune",
    ]
    assert cells.transform([cell]).tolist() == ["Raise purchase orders and chase late deliveries"]


def test_one_segment_texts_and_all_boilerplate_texts_pass_unchanged():
    fitted_reader = fitted()
    cell = "AP inv proc 24x5 for 3 FTE"
    only_frames = (
        "Kind regards, the operations team. The contracting authority will not accept late bids."
    )
    assert fitted_reader.transform([cell, only_frames, ""]).tolist() == [
        cell,
        only_frames,
        "",
    ]


def test_without_boilerplate_or_detector_the_reader_passes_everything():
    text = "Join our friendly and supportive team in the city centre. Run payroll."
    assert reader(()).fit(WORK).transform([text]).tolist() == [text]
    assert SentenceReader(BOILERPLATE).fit(WORK).transform([text]).tolist() == [text]


def test_settings_are_parameters_and_the_sentencizer_is_not_saved():
    fitted_reader = fitted()
    fitted_reader.transform(["One sentence. Two sentences."])
    params = clone(fitted_reader).get_params(deep=False)
    assert {k: v for k, v in params.items() if k != "detector"} == {
        "boilerplate": BOILERPLATE,
        "threshold": 0.5,
        "margin": 2.0,
        "sure_work": -5.0,
        "lang": "en",
    }
    assert not hasattr(params["detector"], "classes_")  # the parameter stays unfitted
    state = fitted_reader.__getstate__()
    assert "_nlp" not in state and "detector_" in state
    assert isinstance(fitted_reader.transform(WORK), np.ndarray)


def test_parts_sure_to_be_work_are_kept_however_far_from_the_most_work_like():
    text = (
        "Run monthly payroll for 1,200 staff across three sites. "
        "Code inpatient charts in ICD-10 and query consultants about gaps."
    )
    strict = SentenceReader(BOILERPLATE, build_boilerplate_detector(0), margin=0.0, sure_work=-1e9)
    lenient = SentenceReader(BOILERPLATE, build_boilerplate_detector(0), margin=0.0, sure_work=0.0)
    assert len(strict.fit(WORK * 5).read_all([text])[0]) == 1  # only the most work-like part
    assert lenient.fit(WORK * 5).read_all([text])[0] == [
        "Run monthly payroll for 1,200 staff across three sites.",
        "Code inpatient charts in ICD-10 and query consultants about gaps.",
    ]
