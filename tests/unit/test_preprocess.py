"""The spaCy normalisation stage, through a real spacy.blank('en') pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from outsourcing_classifier.preprocess import (
    TOKENIZER_CACHE_SIZE,
    SpacyNormalizer,
    build_nlp,
    load_lemmas,
)


@pytest.fixture(scope="module")
def normaliser() -> SpacyNormalizer:
    return SpacyNormalizer().fit(["warm up"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A/P invoice processing", "accounts_payable invoice process"),  # A/P merged, lemmatised
        ("AP/AR reconciliations", "accounts_payable accounts_receivable reconciliation"),
        ("RFQ and RFP handling", "request_for_quotation request_for_proposal handle"),
        ("ICD-10 and CPT coding", "icd_code cpt_code code"),
        ("e-discovery review", "ediscovery review"),
        ("Outsourced R&D work", "outsource research_development work"),
        ("HR policy", "human_resources policy"),  # upper-case HR is the acronym
        ("KYC checks", "know_your_customer check"),
        ("IT help desk", "information_technology help desk"),  # 'IT' is not the stop word 'it'
        ("it is done", ""),  # only stop words: nothing left
        ("T&E audit for 3 FTEs", "travel_expense audit NUM full_time_equivalent"),
        ("Raise POs within 24 hours", "raise purchase_order NUM hour"),
        ("Budget $45,000 per year", "budget MONEY NUM year"),
        ("Mail ops@vendor.com or see https://vendor.example/sow", "mail EMAIL URL"),
        ("Drafting NDAs", "draft non_disclosure_agreement"),
        ("screened candidates", "screen candidate"),
    ],
)
def test_normalisation_table(normaliser, text, expected):
    assert normaliser.transform([text])[0] == expected


def test_output_is_one_string_per_input_in_order(normaliser):
    texts = ["Payroll", "Data entry", "Payroll", "", None]
    result = normaliser.transform(texts)
    assert result.tolist() == ["payroll", "datum entry", "payroll", "", ""]


def test_single_string_is_refused(normaliser):
    with pytest.raises(ValueError, match="single string"):
        normaliser.transform("Payroll")


def test_two_dimensional_single_column_is_accepted(normaliser):
    assert normaliser.transform(np.array([["Payroll"], ["Billing"]], dtype=object)).tolist() == [
        "payroll",
        "bill",
    ]


def test_spacy_pipeline_has_the_domain_component_and_no_downloaded_model():
    nlp = build_nlp()
    assert nlp.pipe_names == ["domain_phrases"]
    assert nlp.meta["name"] == "pipeline"  # a blank pipeline, nothing loaded from a package
    assert nlp.tokenizer.max_cache_size == TOKENIZER_CACHE_SIZE > 10_000  # above spaCy's default


def test_lemmas_come_from_spacy_lookups_data():
    lemmas = load_lemmas()
    assert (lemmas["screened"], lemmas["invoices"], lemmas["agreements"]) == (
        "screen",
        "invoice",
        "agreement",
    )


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
    ],
)
def test_sklearn_estimator_checks(check):
    check("SpacyNormalizer", SpacyNormalizer())


def test_default_constructible():
    check_parameters_default_constructible("SpacyNormalizer", SpacyNormalizer())


def test_parameters_round_trip_and_clone_drops_the_pipeline(normaliser):
    assert normaliser.get_params() == {"lang": "en", "lemmatize": True, "batch_size": 512}
    copy = clone(normaliser)
    assert not hasattr(copy, "_nlp")
    assert copy.fit_transform(["AP invoices"]).tolist() == ["accounts_payable invoice"]


@pytest.mark.parametrize(
    "round_trip",
    [
        lambda est: pickle.loads(pickle.dumps(est)),  # in-memory copies (e.g. joblib workers)
        lambda est: sio.loads(sio.dumps(est), trusted=sio.get_untrusted_types(data=sio.dumps(est))),
    ],
)
def test_serialised_state_excludes_the_spacy_pipeline(normaliser, round_trip):
    normaliser.transform(["Payroll"])  # builds the pipeline and fills its caches
    restored = round_trip(normaliser)
    assert not {"_nlp", "_lemmas", "_forms"} & set(restored.__dict__)
    assert restored.transform(["RFQ handling"]).tolist() == ["request_for_quotation handle"]


def test_remembered_token_forms_follow_the_lemmatiser_setting():
    normaliser = SpacyNormalizer()
    assert normaliser.fit_transform(["screened candidates"]).tolist() == ["screen candidate"]
    normaliser.set_params(lemmatize=False)
    assert normaliser.transform(["screened candidates"]).tolist() == ["screened candidates"]


def test_without_lemmatiser_words_stay_as_written():
    assert SpacyNormalizer(lemmatize=False).fit_transform(["screened candidates"]).tolist() == [
        "screened candidates"
    ]
