"""Behavioural cases: the file's schema is enforced, labels resolve through the taxonomy, and a
model's failures are named by case."""

from __future__ import annotations

import re

import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from outsourcing_classifier.behaviour import (
    BehaviourError,
    DirectionCase,
    InvarianceCase,
    MinimumCase,
    failures,
    load_behaviour,
)

GOOD = """
minimum:
  - {why: duty line, label: HRO, text: "Payroll for 300 staff"}
invariance:
  - why: city
    texts: [Payroll in Leeds, Payroll in Lyon, Payroll in Lima]
direction:
  - {why: coding, towards: Medical BPO, base: Back office, changed: Back office with ICD-10 coding}
"""


def test_cases_load_with_labels_resolved(tmp_path, taxonomy):
    path = tmp_path / "behaviour.yaml"
    path.write_text(GOOD)
    assert load_behaviour(path, taxonomy) == (
        MinimumCase("duty line", "Payroll for 300 staff", "hro"),
        InvarianceCase("city", ("Payroll in Leeds", "Payroll in Lyon", "Payroll in Lima")),
        DirectionCase("coding", "Back office", "Back office with ICD-10 coding", "mbpo"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a label that is no taxonomy id, name or alias
        ("minimum: [{why: w, label: IT, text: t}]", "minimum case 1: unknown label 'IT'"),
        # RPO is ambiguous: research or recruitment
        ("minimum: [{why: w, label: RPO, text: t}]", "research_po or recruitment_po"),
        # every case says why it is there
        ("minimum: [{label: hro, text: t}]", "minimum case 1: needs a non-empty text 'why'"),
        # one text cannot be invariant to anything
        ("invariance: [{why: w, texts: [a]}]", "invariance case 1: needs 'texts'"),
        ("invariance: [{why: w, texts: [a, '']}]", "needs a non-empty text in 'texts'"),
        (
            "direction: [{why: w, base: a, changed: b}]",
            "direction case 1: needs a non-empty text 'towards'",
        ),
        # a misspelt section would silently drop its cases
        ("minimun: []", "unknown section 'minimun'; sections are minimum, invariance, direction"),
        ("minimum: {why: w}", "section 'minimum' is not a list"),
        ("", "no sections"),
    ],
)
def test_bad_cases_are_named(tmp_path, taxonomy, text, message):
    path = tmp_path / "behaviour.yaml"
    path.write_text(text)
    with pytest.raises(BehaviourError, match=re.escape(message)):
        load_behaviour(path, taxonomy)


def test_missing_file_is_named(tmp_path, taxonomy):
    with pytest.raises(BehaviourError, match=r"behaviour\.yaml: cannot read"):
        load_behaviour(tmp_path / "behaviour.yaml", taxonomy)


@pytest.fixture(scope="module")
def word_model():
    """A real, tiny text classifier: 'payroll' means hro, 'coding' means mbpo, else bpo."""
    texts = ["payroll run", "payroll staff", "coding claims", "coding charts", "data entry", "call"]
    labels = ["hro", "hro", "mbpo", "mbpo", "bpo", "bpo"]
    return make_pipeline(CountVectorizer(), LogisticRegression(C=100)).fit(texts, labels)


def test_failures_name_the_case_and_what_the_model_did(word_model):
    cases = (
        MinimumCase("passes", "payroll for staff", "hro"),
        MinimumCase("fails", "payroll for staff", "mbpo"),
        InvarianceCase("holds", ("payroll in Leeds", "payroll in Lyon")),
        InvarianceCase("breaks", ("payroll in Leeds", "coding in Lyon")),
        DirectionCase("rises", "data entry", "data entry and coding", "mbpo"),
        DirectionCase("falls", "coding", "coding and payroll", "mbpo"),
    )
    found = failures(word_model, cases)
    assert [f.case.why for f in found] == ["fails", "breaks", "falls"]
    assert str(found[0]).startswith("minimum (fails): 'payroll for staff' is hro (")
    assert str(found[0]).endswith("), expected mbpo")
    assert str(found[1]) == (
        "invariance (breaks): 'payroll in Leeds' is hro, but 'coding in Lyon' is mbpo"
    )
    assert str(found[2]).startswith(
        "direction (falls): 'coding and payroll' does not move towards mbpo (from "
    )
    assert found[2].as_dict() == {"kind": "direction", "why": "falls", "detail": found[2].detail}


def test_a_label_the_model_never_learnt_fails_its_cases(word_model):
    cases = (
        MinimumCase("unknown to it", "payroll", "kpo"),
        DirectionCase("cannot rise", "payroll", "payroll and equity research", "kpo"),
    )
    missed, flat = (f.detail for f in failures(word_model, cases))
    assert missed.startswith("'payroll' is hro (") and missed.endswith("), expected kpo")
    assert flat == (
        "'payroll and equity research' does not move towards kpo (from 0.00 for 'payroll' to 0.00)"
    )
