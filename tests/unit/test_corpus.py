"""Corpus mechanics: normalisation, deduplication, stable splits, near-duplicates, appends."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outsourcing_classifier.corpus import (
    CorpusError,
    append_rows,
    assign_splits,
    corpus_digest,
    deduplicate,
    near_duplicate_pairs,
    normalise_text,
    read_corpus,
    template_skeleton,
    text_key,
)

HEADER = "text,label,register,origin,source,near_label\n"


def _frame(texts, labels=None):
    labels = labels or ["bpo"] * len(texts)
    return pd.DataFrame({"text": texts, "label": labels, "file": "t.csv"})


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("AP Invoice  Processing!", "ap invoice processing"),  # case, punctuation, spaces
        ("ICD-10 coding – 3 FTE", "icd 10 coding 3 fte"),  # dashes split words
        ("Café résumé", "café résumé"),  # accents kept
        ("under_score", "under score"),  # underscores are separators
    ],
)
def test_normalise_text(raw, normalised):
    assert normalise_text(raw) == normalised


def test_same_normalised_text_same_key():
    assert text_key("Data entry, 24x7!") == text_key("data ENTRY 24x7")
    assert text_key("data entry") != text_key("data entry clerk")


def test_deduplicate_keeps_first_and_refuses_conflicts():
    kept = deduplicate(_frame(["Data entry", "data entry!", "Payroll"]))
    assert kept["text"].tolist() == ["Data entry", "Payroll"]
    with pytest.raises(CorpusError, match="two labels"):
        deduplicate(_frame(["Data entry", "data entry"], ["bpo", "hro"]))


def test_near_duplicates_found_above_threshold_only():
    texts = [
        "process supplier invoices and match them to purchase orders every day",
        "process supplier invoices and match them to purchase orders every week",
        "screen candidates for nursing roles in three hospitals across the region",
    ]
    pairs = near_duplicate_pairs(texts, threshold=0.7)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert near_duplicate_pairs(texts, threshold=0.95) == []


def test_near_copies_share_the_earliest_rows_split():
    base = "process supplier invoices and match them to purchase orders for the retail client"
    texts = [base, base + " today", "a different text about recruiting nurses in leeds hospital"]
    frame = assign_splits(_frame(texts))
    assert frame["group"].tolist() == [0, 0, 2]
    assert frame["split"].iloc[1] == frame["split"].iloc[0]


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30, unique=True))
def test_appending_rows_never_moves_existing_rows(texts):
    head = assign_splits(_frame(texts[: len(texts) // 2 + 1]))
    whole = assign_splits(_frame(texts))
    assert whole["split"].iloc[: len(head)].tolist() == head["split"].tolist()


def test_split_is_about_a_fifth_and_deterministic():
    texts = [f"contract number {i} for document processing services" for i in range(2000)]
    texts = [f"{t} {i * 7919 % 1000}" for i, t in enumerate(texts)]
    first = assign_splits(_frame(texts))["split"]
    assert 0.17 < (first == "test").mean() < 0.23
    assert assign_splits(_frame(texts))["split"].tolist() == first.tolist()


def test_digest_changes_with_labels_not_with_punctuation():
    a = _frame(["Data entry", "Payroll"], ["bpo", "hro"])
    b = _frame(["data entry.", "PAYROLL"], ["bpo", "hro"])
    c = _frame(["Data entry", "Payroll"], ["bpo", "bpo"])
    assert corpus_digest(a) == corpus_digest(b) != corpus_digest(c)


def test_template_rows_share_a_skeleton():
    frequent = frozenset({"we", "provide", "services", "for", "the", "in"})
    a = template_skeleton("We provide payroll services for the bank in Leeds", frequent)
    b = template_skeleton("We provide cleaning services for the school in Pune", frequent)
    assert a == b == "we provide * services for the * in *"
    assert template_skeleton("AP inv proc 24x5", frequent) is None  # too short to be a template


def _write_corpus(folder, rows: str) -> None:
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + rows, encoding="utf-8")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ('" ",bpo,sow_scope,written,t,\n', "a.csv:2: empty text"),  # blank text
        ("Data entry,rpo,sow_scope,written,t,\n", "a.csv:2: label 'rpo'"),  # not an id
        ("Data entry,bpo,tweet,written,t,\n", "a.csv:2: unknown register"),
        ("Data entry,bpo,sow_scope,written,t,xx\n", "near_label 'xx'"),
    ],
)
def test_bad_corpus_rows_are_named(tmp_path, taxonomy, rows, message):
    _write_corpus(tmp_path / "corpus", rows)
    with pytest.raises(CorpusError, match=message):
        read_corpus(tmp_path / "corpus", taxonomy)


def test_missing_column_is_named(tmp_path, taxonomy):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.csv").write_text("text,label\nx,bpo\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="missing columns register, origin, source"):
        read_corpus(tmp_path / "corpus", taxonomy)


def test_append_rows_adds_provenance_and_keeps_existing(tmp_path, taxonomy):
    folder = tmp_path / "corpus"
    _write_corpus(folder, "Data entry of forms,bpo,sow_scope,written,t,\n")
    append_rows(
        folder / "zz_added.csv",
        pd.DataFrame(
            {
                "text": ["Payroll for 300 staff"],
                "label": ["hro"],
                "register": ["unspecified"],
                "origin": ["added"],
                "source": ["fixes.csv"],
                "source_sha256": ["ab" * 32],
                "added_at": ["2026-11-25T10:00:00+00:00"],
            }
        ),
    )
    corpus = read_corpus(folder, taxonomy)
    assert corpus["text"].tolist() == ["Data entry of forms", "Payroll for 300 staff"]
    assert corpus["source_sha256"].tolist() == ["", "ab" * 32]
