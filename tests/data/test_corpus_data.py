"""The committed corpus meets its data card: schema, labels, sizes, registers, no leakage."""

from __future__ import annotations

import pandas as pd
import pytest

from outsourcing_classifier.corpus import (
    DOCUMENT_REGISTERS,
    REGISTERS,
    REQUIRED_COLUMNS,
    copied_rows,
    corpus_files,
    corpus_stats,
    near_duplicate_pairs,
    normalise_text,
)

MIN_ROWS, MIN_PER_LABEL, MIN_REGISTER_SHARE = 3000, 300, 0.09


@pytest.fixture(scope="module")
def stats(corpus):
    return corpus_stats(corpus)


def test_every_file_has_the_schema(project_paths):
    for path in corpus_files(project_paths.corpus):
        header = pd.read_csv(path, nrows=0).columns.tolist()
        assert set(REQUIRED_COLUMNS) <= set(header), path.name


def test_every_label_is_a_taxonomy_id(corpus, taxonomy):
    assert set(corpus["label"]) == set(taxonomy.ids)


def test_size_and_minimum_per_label(stats, taxonomy):
    assert stats.rows >= MIN_ROWS
    assert {label: stats.per_label.get(label, 0) >= MIN_PER_LABEL for label in taxonomy.ids} == {
        label: True for label in taxonomy.ids
    }


def test_every_short_register_is_a_large_share(stats):
    short = [r for r in REGISTERS if r not in DOCUMENT_REGISTERS and r != "unspecified"]
    assert {r: stats.per_register.get(r, 0) / stats.rows >= MIN_REGISTER_SHARE for r in short} == {
        r: True for r in short
    }


def test_whole_documents_are_many_and_long_for_every_label(corpus, taxonomy):
    """Real registers hold whole adverts and notices, not only duty sentences (frames issue)."""
    documents = corpus[corpus["register"].isin(["job_advert", "tender_notice"])]
    long = documents[documents["text"].str.split().str.len() >= 80]
    assert len(long) >= 1500
    per_label = long["label"].value_counts()
    assert {label: per_label.get(label, 0) >= 100 for label in taxonomy.ids} == {
        label: True for label in taxonomy.ids
    }


def test_boundary_cases_are_a_fifth_of_each_label(stats):
    assert {label: share >= 0.20 for label, share in stats.boundary_share.items()} == {
        label: True for label in stats.boundary_share
    }


def test_written_rows_are_the_bulk_and_no_template_dominates(stats):
    assert stats.per_origin.get("written", 0) / stats.rows >= 0.60
    assert max(stats.largest_template_share.values()) <= 0.01


def test_lengths_are_in_range(corpus):
    words = corpus[corpus["origin"] != "seed"]["text"].str.split().str.len()
    assert words.min() >= 2
    assert words.max() <= 260


def test_no_duplicate_texts_in_the_files(project_paths, taxonomy):
    texts = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in corpus_files(project_paths.corpus)
    )["text"]
    normalised = texts.map(normalise_text)
    assert normalised[normalised.duplicated()].tolist() == []


def test_near_duplicate_rate_is_at_most_two_percent(stats):
    assert stats.near_duplicate_rate <= 0.02


def test_test_split_is_about_a_fifth(stats):
    assert 0.15 <= stats.per_split["test"] / stats.rows <= 0.25


def test_no_test_row_is_a_near_copy_of_a_training_row(corpus):
    split = corpus["split"].to_numpy()
    pairs = near_duplicate_pairs(corpus["text"].tolist())
    assert [(i, j) for i, j, _ in pairs if split[i] != split[j]] == []


def test_seed_rows_quote_the_document(corpus, project_paths):
    document = project_paths.root.parent / "shared" / "seed" / "outsourcing-terms.txt"
    if not document.exists():
        pytest.skip("the shared seed document is not beside this checkout")
    text = normalise_text(document.read_text(encoding="utf-8"))
    seeds = corpus[corpus["origin"] == "seed"]["text"]
    assert len(seeds) >= 20
    assert [s for s in seeds if normalise_text(s) not in text] == []
    assert "RPO" not in set(corpus["label"])


def test_no_row_reproduces_a_real_dev_text(corpus, project_paths):
    """Writers must not reproduce public task statements from memory (data card, screening)."""
    if not project_paths.real_dev.is_file():
        pytest.skip("the shared real development set is not beside this checkout")
    real = pd.read_csv(project_paths.real_dev, dtype=str, keep_default_na=False)["text"].tolist()
    texts = corpus["text"].tolist()
    copied = copied_rows(texts, real)
    assert [(texts[i], real[j], round(share, 2)) for i, j, share in copied] == []


def test_copied_rows_finds_a_near_verbatim_copy():
    real = ["Confer with engineers to assess the feasibility of proposed software features."]
    texts = [
        "Confer with engineers to assess the feasibility of proposed software features quickly.",
        "Assess, with the engineers, whether the software features proposed are feasible.",
    ]
    assert [(i, j) for i, j, _ in copied_rows(texts, real)] == [(0, 0)]
