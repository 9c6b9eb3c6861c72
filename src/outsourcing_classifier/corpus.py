"""The labelled corpus: read, validate, deduplicate, split, describe, and append with provenance."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from outsourcing_classifier.config import UserFacingError
from outsourcing_classifier.outputs import write_bytes
from outsourcing_classifier.taxonomy import Taxonomy

REQUIRED_COLUMNS = ("text", "label", "register", "origin", "source")
PROVENANCE_COLUMNS = ("near_label", "source_sha256", "added_at")
REGISTERS = (
    "job_posting",
    "sow_scope",
    "contract_title",
    "spreadsheet_cell",
    "service_description",
    "job_advert",  # a whole advert: employer, duties, terms, how to apply
    "tender_notice",  # a whole tender, contract or award notice
    "email_memo",  # an e-mail or memo that asks for or hands over work
    "unspecified",  # rows added by users, whose register nobody recorded
)
DOCUMENT_REGISTERS = ("job_advert", "tender_notice", "email_memo")
NEAR_DUPLICATE_JACCARD = 0.8
COPIED_TRIGRAM_SHARE = 0.6  # of a row's word trigrams found in one public text
TEST_PERCENT = 20


class CorpusError(UserFacingError):
    """A corpus file is unreadable or breaks the schema; the message names file and row."""


def normalise_text(text: str) -> str:
    """Lower-case words and digits only: the identity of a text for duplicates and splits."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return " ".join(re.findall(r"[^\W_]+", text))


def text_key(text: str) -> str:
    """Stable SHA-256 of the normalised text."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def hash_split(key: str, test_percent: int = TEST_PERCENT) -> str:
    """'test' for about ``test_percent`` % of keys, decided by the key alone."""
    return "test" if int(key[:8], 16) % 100 < test_percent else "train"


def corpus_files(folder: Path) -> list[Path]:
    """Corpus CSV files in reading order (by name; user additions sort last)."""
    return sorted(folder.glob("*.csv"))


def read_corpus(folder: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    """All corpus files, validated, deduplicated and split.

    Columns: the file columns plus ``file``, ``key`` (text hash), ``split`` and ``group`` (rows
    that are near-copies of each other share a group and a split).
    """
    files = corpus_files(folder)
    if not files:
        raise CorpusError(f"{folder}: no corpus CSV files")
    frames = [_read_file(path, taxonomy) for path in files]
    corpus = pd.concat(frames, ignore_index=True)
    corpus = deduplicate(corpus)
    return assign_splits(corpus)


def _read_file(path: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise CorpusError(f"{path}: cannot read: {error}") from error
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise CorpusError(f"{path}: missing columns {', '.join(missing)}")
    for column in PROVENANCE_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame["text"] = frame["text"].str.strip()
    for index, row in frame.iterrows():
        line = int(index) + 2  # header is line 1
        if not row["text"]:
            raise CorpusError(f"{path}:{line}: empty text")
        if row["label"] not in taxonomy.ids:
            raise CorpusError(
                f"{path}:{line}: label {row['label']!r} is not a taxonomy id "
                f"({', '.join(taxonomy.ids)})"
            )
        if row["register"] not in REGISTERS:
            raise CorpusError(f"{path}:{line}: unknown register {row['register']!r}")
        if row["near_label"] and row["near_label"] not in taxonomy.ids:
            raise CorpusError(f"{path}:{line}: near_label {row['near_label']!r} is not an id")
    frame = frame[[*REQUIRED_COLUMNS, *PROVENANCE_COLUMNS]].copy()
    frame["file"] = path.name
    return frame


CORRECTION_ORIGINS = ("correction", "test-edit")  # rows that relabel an earlier text


def deduplicate(corpus: pd.DataFrame) -> pd.DataFrame:
    """Keep the first of rows with the same normalised text; refuse conflicting labels.

    A later row whose origin is a correction relabels the first row instead: the text keeps
    its place (and so its split), the label is the correction's.
    """
    corpus = corpus.assign(key=corpus["text"].map(text_key))
    origin = corpus.get("origin", pd.Series("", index=corpus.index))
    corrections = corpus[origin.isin(CORRECTION_ORIGINS)]
    plain = corpus[~origin.isin(CORRECTION_ORIGINS)]
    labels_per_key = plain.groupby("key")["label"].nunique()
    conflicting = labels_per_key[labels_per_key > 1].index
    if len(conflicting):
        example = plain[plain["key"] == conflicting[0]]
        raise CorpusError(
            f"{len(conflicting)} text(s) carry two labels, e.g. {example['text'].iloc[0]!r} as "
            f"{' and '.join(example['label'].unique())} in {', '.join(example['file'].unique())}"
        )
    kept = plain.drop_duplicates("key", keep="first").set_index("key", drop=False)
    for key, label in zip(corrections["key"], corrections["label"], strict=True):
        if key in kept.index:
            kept.loc[key, "label"] = label
        else:
            kept.loc[key] = corrections[corrections["key"] == key].iloc[-1]
    return kept.reset_index(drop=True)


def _trigrams(text: str) -> set[str]:
    words = normalise_text(text).split()
    if len(words) < 3:
        return {" ".join(words)}
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def near_duplicate_pairs(
    texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) whose word-trigram sets have Jaccard similarity >= ``threshold``."""
    if len(texts) < 2:
        return []
    vectorizer = CountVectorizer(analyzer=_trigrams, binary=True, dtype=np.int32)
    shingles = vectorizer.fit_transform(texts)
    sizes = np.asarray(shingles.sum(axis=1)).ravel()
    overlap = sparse.triu(shingles @ shingles.T, k=1).tocoo()
    union = sizes[overlap.row] + sizes[overlap.col] - overlap.data
    jaccard = overlap.data / np.maximum(union, 1)
    keep = jaccard >= threshold
    return sorted(
        zip(
            overlap.row[keep].tolist(),
            overlap.col[keep].tolist(),
            jaccard[keep].tolist(),
            strict=True,
        )
    )


def copied_rows(
    texts: list[str], references: list[str], threshold: float = COPIED_TRIGRAM_SHARE
) -> list[tuple[int, int, float]]:
    """(text index, reference index, share) where ``threshold`` or more of a text's word trigrams
    occur in one reference text: a row reproduced from a public source rather than written."""
    if not texts or not references:
        return []
    vectorizer = CountVectorizer(analyzer=_trigrams, binary=True, dtype=np.int32)
    vectorizer.fit(references)
    shingles = vectorizer.transform(texts)
    own = np.array([len(_trigrams(t)) for t in texts])
    shared = (shingles @ vectorizer.transform(references).T).tocsr()
    found = []
    for i in range(shared.shape[0]):
        row = shared.getrow(i)
        if row.nnz:
            best = int(row.indices[row.data.argmax()])
            share = float(row.data.max()) / max(own[i], 1)
            if share >= threshold:
                found.append((i, best, share))
    return found


def assign_splits(corpus: pd.DataFrame, test_percent: int = TEST_PERCENT) -> pd.DataFrame:
    """Add ``split`` and ``group``: by stable hash, a near-copy inheriting its earliest twin's.

    A row's split depends only on itself and the rows before it, so appending rows never moves
    an existing row, and near-copies never straddle train and test.
    """
    keys = corpus["key"].tolist() if "key" in corpus else corpus["text"].map(text_key).tolist()
    group = list(range(len(keys)))
    for i, j, _ in near_duplicate_pairs(corpus["text"].tolist()):
        group[j] = min(group[j], group[i])
    for j in range(len(group)):  # i < j, so an earlier row's group is already final
        group[j] = group[group[j]]
    split = [hash_split(keys[g], test_percent) for g in group]
    return corpus.assign(key=keys, split=split, group=group)


def corpus_digest(corpus: pd.DataFrame) -> str:
    """SHA-256 of the labelled texts, in order: it changes exactly when the training data does."""
    digest = hashlib.sha256()
    for text, label in zip(corpus["text"], corpus["label"], strict=True):
        digest.update(f"{normalise_text(text)}\t{label}\n".encode())
    return digest.hexdigest()


def template_skeleton(text: str, frequent: frozenset[str]) -> str | None:
    """The frame a templated row would share with its siblings: frequent words kept, the rest '*'.

    Rows too short, or with too few frame words, have no skeleton (they cannot be templated).
    """
    words = re.sub(r"\d+", "0", normalise_text(text)).split()
    if len(words) < 6:
        return None
    frame = [w if w in frequent else "*" for w in words]
    if sum(w != "*" for w in frame) < 3:
        return None
    return " ".join(w for k, w in enumerate(frame) if not (w == "*" and k and frame[k - 1] == "*"))


@dataclass(frozen=True)
class CorpusStats:
    rows: int
    per_label: dict[str, int]
    per_register: dict[str, int]
    per_origin: dict[str, int]
    per_split: dict[str, int]
    boundary_share: dict[str, float]
    words_min: int
    words_median: float
    words_p90: float
    words_max: int
    near_duplicate_rate: float
    largest_template_share: dict[str, float]
    largest_template: dict[str, str]


def corpus_stats(corpus: pd.DataFrame) -> CorpusStats:
    """The figures the data card and ``make corpus-stats`` report."""
    words = corpus["text"].str.split().str.len()
    pairs = near_duplicate_pairs(corpus["text"].tolist())
    in_pairs = {i for i, _, _ in pairs} | {j for _, j, _ in pairs}
    vocabulary = Counter(w for t in corpus["text"] for w in set(normalise_text(t).split()))
    frequent = frozenset(w for w, _ in vocabulary.most_common(150))
    template_share, template = {}, {}
    for label, rows in corpus.groupby("label"):
        skeletons = Counter(
            s for s in (template_skeleton(t, frequent) for t in rows["text"]) if s is not None
        )
        skeleton, count = skeletons.most_common(1)[0] if skeletons else ("", 0)
        template_share[label], template[label] = count / len(rows), skeleton
    return CorpusStats(
        rows=len(corpus),
        per_label=corpus["label"].value_counts().to_dict(),
        per_register=corpus["register"].value_counts().to_dict(),
        per_origin=corpus["origin"].map(lambda o: o.split(":")[0]).value_counts().to_dict(),
        per_split=corpus["split"].value_counts().to_dict(),
        boundary_share=corpus.groupby("label")["near_label"]
        .apply(lambda s: float((s != "").mean()))
        .to_dict(),
        words_min=int(words.min()),
        words_median=float(words.median()),
        words_p90=float(words.quantile(0.9)),
        words_max=int(words.max()),
        near_duplicate_rate=len(in_pairs) / max(len(corpus), 1),
        largest_template_share=template_share,
        largest_template=template,
    )


def append_rows(path: Path, rows: pd.DataFrame) -> None:
    """Append ``rows`` (corpus schema) to the CSV at ``path`` atomically, creating it if needed."""
    columns = [*REQUIRED_COLUMNS, *PROVENANCE_COLUMNS]
    existing = (
        pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        if path.exists()
        else pd.DataFrame(columns=columns)
    )
    combined = pd.concat(
        [existing, rows.reindex(columns=columns, fill_value="")], ignore_index=True
    )
    write_bytes(path, combined[columns].to_csv(index=False).encode("utf-8"), force=True)


@dataclass(frozen=True)
class AdditionPlan:
    """What ``outsourcing add`` would do with a batch of labelled examples."""

    rows: pd.DataFrame  # corpus-schema rows to append
    skipped: list[str]  # exact duplicates already in the corpus, and unreviewed rows
    refused: list[str]  # problems that stop the batch


def plan_additions(
    batch: pd.DataFrame,
    corpus: pd.DataFrame,
    prefer_new: bool = False,
    edit_test: bool = False,
) -> AdditionPlan:
    """Decide, row by row, what to append. ``batch`` has ``text``, ``label`` and ``row`` (the
    row number the user sees). Corrections of test rows need ``edit_test``: the frozen test split
    is what the retraining gate judges by."""
    skipped, refused, rows = [], [], []
    known = dict(
        zip(corpus["key"], zip(corpus["label"], corpus["split"], strict=True), strict=True)
    )
    batch = batch.assign(key=batch["text"].map(text_key))
    labels_in_batch = batch.groupby("key")["label"].agg(lambda s: sorted(set(s)))
    seen = set()
    for row, text, label, key in batch[["row", "text", "label", "key"]].itertuples(index=False):
        if not str(text).strip():
            refused.append(f"row {row}: empty text")
            continue
        if len(labels_in_batch[key]) > 1 and not prefer_new:
            refused.append(
                f"row {row}: the same text appears with labels {', '.join(labels_in_batch[key])}"
            )
            continue
        if key in seen:
            continue
        seen.add(key)
        if prefer_new:
            label = batch[batch["key"] == key]["label"].iloc[-1]
        origin = "added"
        if key in known:
            old_label, split = known[key]
            if old_label == label:
                skipped.append(f"row {row}: already in the corpus as {label}")
                continue
            if split == "test" and not edit_test:
                refused.append(
                    f"row {row}: would relabel a frozen test row ({old_label} -> {label}); "
                    "use --edit-test to change the test split deliberately"
                )
                continue
            if not prefer_new and not edit_test:
                refused.append(
                    f"row {row}: conflicts with the corpus ({old_label} -> {label}); "
                    "use --prefer-new to relabel it"
                )
                continue
            origin = "test-edit" if split == "test" else "correction"
        rows.append({"text": str(text).strip(), "label": label, "origin": origin})
    frame = pd.DataFrame(rows, columns=["text", "label", "origin"])
    frame["register"] = "unspecified"
    return AdditionPlan(frame, skipped, refused)


REVIEW_LABEL_COLUMN = "corrected_label"  # written by `outsourcing review`, filled in by a person


def read_examples(
    path: Path,
    taxonomy: Taxonomy,
    text_column: str = "text",
    label_column: str = "label",
    mapping: dict[str, str] | None = None,
    sheet: str | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """A user's labelled file as ``text, label, row`` with labels resolved to ids.

    Returns the rows, the rows skipped (unreviewed rows of a review file) and the refusals
    (unknown or ambiguous labels), each naming the row as the user sees it.
    """
    from outsourcing_classifier.spreadsheet import open_source, read_chunks
    from outsourcing_classifier.taxonomy import TaxonomyError

    source = open_source(path, sheet)
    if REVIEW_LABEL_COLUMN in source.columns:
        label_column = REVIEW_LABEL_COLUMN
    for column in (text_column, label_column):
        if column not in source.columns:
            raise CorpusError(
                f"{path}: no column {column!r}; columns are: {', '.join(source.columns)}"
            )
    rows, skipped, refused = [], [], []
    for chunk in read_chunks(source):
        for index, text, label in zip(
            chunk.index, chunk[text_column], chunk[label_column], strict=True
        ):
            row = index + 2
            label = "" if label is None else str(label).strip()
            if not label:
                if label_column == REVIEW_LABEL_COLUMN:
                    skipped.append(f"row {row}: not reviewed (empty {REVIEW_LABEL_COLUMN})")
                else:
                    refused.append(f"row {row}: empty label")
                continue
            try:
                rows.append(
                    {
                        "text": "" if text is None else str(text),
                        "label": taxonomy.resolve(label, mapping),
                        "row": row,
                    }
                )
            except TaxonomyError as error:
                refused.append(f"row {row}: {error}")
    return pd.DataFrame(rows, columns=["text", "label", "row"]), skipped, refused


def plan_examples(
    path: Path,
    corpus_folder: Path,
    taxonomy: Taxonomy,
    *,
    text_column: str = "text",
    label_column: str = "label",
    mapping: dict[str, str] | None = None,
    sheet: str | None = None,
    prefer_new: bool = False,
    edit_test: bool = False,
) -> AdditionPlan:
    """Read a labelled file and validate it against the corpus: what adding it would do."""
    batch, skipped, refused = read_examples(
        path, taxonomy, text_column, label_column, mapping, sheet
    )
    corpus = read_corpus(corpus_folder, taxonomy)
    plan = plan_additions(batch, corpus, prefer_new, edit_test)
    return AdditionPlan(plan.rows, skipped + plan.skipped, refused + plan.refused)


def append_examples(
    plan: AdditionPlan, path: Path, added_file: Path, now: str | None = None
) -> AdditionPlan:
    """Append the rows of ``plan`` to ``added_file`` with the provenance of ``path``."""
    from datetime import UTC, datetime

    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    rows = plan.rows.assign(
        source=Path(path).name,
        source_sha256=digest,
        added_at=now or datetime.now(UTC).isoformat(timespec="seconds"),
        near_label="",
    )
    append_rows(added_file, rows)
    return AdditionPlan(rows, plan.skipped, plan.refused)
