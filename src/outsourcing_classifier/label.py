"""Batch-label a spreadsheet: every input row and column kept, prediction columns appended."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from outsourcing_classifier.config import UserFacingError
from outsourcing_classifier.outputs import check_output, write_bytes
from outsourcing_classifier.predict import Prediction, Predictor, empty_prediction
from outsourcing_classifier.spreadsheet import (
    SpreadsheetWriter,
    open_source,
    read_chunks,
    sheet_names,
)

PREDICTION_COLUMNS = (
    "predicted_label",
    "predicted_name",
    "family",
    "confidence",
    "needs_review",
    "runner_up",
    "runner_up_confidence",
    "ambiguity",
    "status",
)
TOP_COLUMN = "top_labels"
EXPLANATION_COLUMN = "explanation"
# Header words that name a description column, best first.
TEXT_HINTS = (
    "description", "scope", "service", "summary", "details", "activity", "task", "duties",
    "work", "job", "text", "title", "contract", "name",
)  # fmt: skip
SHEET_NAME_CHARS = 40  # of a sheet name in an output file name
PR_SET_PDEATHSIG = 1  # Linux prctl: the signal a process gets when its parent dies
CACHE_LIMIT = 50_000  # distinct texts remembered; bounds memory on huge files
SAMPLE_ROWS = 200


class LabelError(UserFacingError):
    """The labelling request cannot be carried out; the message names file and column."""


@dataclass
class LabelSummary:
    input: str
    output: str
    sheet: str | None
    text_columns: list[str]
    rows: int = 0
    labelled: int = 0
    needs_review: int = 0
    ambiguous: int = 0
    without_text: int = 0
    per_label: dict[str, int] = field(default_factory=dict)
    per_family: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def default_output(path: Path) -> Path:
    """``<stem>.labeled.<ext>`` beside the input (macro workbooks become plain .xlsx)."""
    suffix = ".xlsx" if path.suffix.lower() == ".xlsm" else path.suffix
    return path.with_name(f"{path.stem}.labeled{suffix}")


def sheet_outputs(path: Path, folder: Path) -> list[tuple[str, Path]]:
    """Each worksheet of `path` with its output ``<stem>.<sheet>.labeled.xlsx`` in `folder`.

    Sheet names come from the workbook, so in file names they keep only letters, digits, ``_``
    and ``-`` (no separators, no ``..``), at most 40 of them, numbered when two names meet.
    """
    suffix = default_output(path).suffix
    outputs, taken = [], set()
    for sheet in sheet_names(path):
        base = re.sub(r"[^\w-]+", "_", sheet).strip("_")[:SHEET_NAME_CHARS] or "sheet"
        name, number = base, 1
        while name.lower() in taken:  # case-insensitive file systems would merge them
            number += 1
            name = f"{base}_{number}"
        taken.add(name.lower())
        target = folder / f"{path.stem}.{name}.labeled{suffix}"
        if target.resolve().parent != folder.resolve():
            raise LabelError(f"{path}: the output of sheet {sheet!r} would leave {folder}")
        outputs.append((sheet, target))
    return outputs


def _words(value: object) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", value)) if isinstance(value, str) else 0


def choose_text_columns(columns: tuple[str, ...], sample: pd.DataFrame) -> list[str]:
    """The column that holds the descriptions: the wordiest column whose header names a
    description (scope, title, service, ...), else the wordiest column of all."""
    unique = [c for c in dict.fromkeys(columns) if columns.count(c) == 1]
    if not unique:
        raise LabelError("no column has a unique header; name one with --text-column")
    wordiness = {c: sample[c].map(_words).mean() if len(sample) else 0.0 for c in unique}
    hinted = [c for c in unique if any(h in c.lower() for h in TEXT_HINTS) and wordiness[c] > 0]
    best = max(hinted or unique, key=lambda c: wordiness[c])
    if not hinted and wordiness[best] < 1:
        raise LabelError(
            f"cannot tell which column holds the text; use --text-column "
            f"(columns: {', '.join(columns)})"
        )
    return [best]


def row_text(values: tuple) -> tuple[str, str]:
    """The text of one row's chosen cells, joined; or an empty text and the reason."""
    parts, non_text = [], False
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            continue
        if isinstance(value, str):
            if value.strip():
                if re.search(r"[^\W\d_]", value):
                    parts.append(value.strip())
                else:
                    non_text = True
        elif isinstance(value, int | float | datetime | date | time | bool):
            non_text = True
    if parts:
        return " | ".join(parts), "ok"
    return "", "no text: the cell holds a number or date" if non_text else "empty text"


def _check_columns(source, text_columns: list[str]) -> None:
    for column in text_columns:
        count = source.columns.count(column)
        if count == 0:
            raise LabelError(
                f"{source.path}: no column {column!r}; columns are: {', '.join(source.columns)}"
            )
        if count > 1:
            raise LabelError(f"{source.path}: column {column!r} appears {count} times; rename one")


def _prediction_cells(p: Prediction, top: int, explain: bool) -> list:
    if p.status != "ok":
        cells = ["", "", "", None, None, "", None, "", p.status]
    else:
        cells = [
            p.label,
            p.name,
            p.family,
            round(p.confidence, 4),
            p.needs_review,
            p.runner_up,
            round(p.runner_up_confidence, 4),
            "; ".join(p.ambiguity),
            p.status,
        ]
    if top:
        cells.append("; ".join(f"{label} {prob:.2f}" for label, prob in p.top[:top]))
    if explain:
        summary = p.explanation.summary(p.label, p.runner_up) if p.explanation else ""
        cells.append(summary)
    return cells


_WORKER_PIPELINE = None  # the pipeline worker processes inherit when they are forked


def _worker_started(parent: int) -> None:
    """In each forked worker: die with the labelling process, even if it is killed, and leave
    Ctrl-C and SIGTERM to it (it stops the pool and removes its temporary file)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _probabilities(texts: list[str]) -> np.ndarray:
    return _WORKER_PIPELINE.predict_proba(texts)


class _ChunkPredictor:
    """Predictions for one chunk after another: each distinct text predicted once (the cache is
    bounded), the heavy part in forked worker processes when ``workers`` > 1."""

    def __init__(self, predictor: Predictor, top: int, explain: bool, workers: int):
        self.predictor, self.top, self.explain, self.workers = predictor, top, explain, workers
        self.cache: dict[str, Prediction] = {}
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, texts: list[tuple[str, str]]) -> Callable[[], list[Prediction]]:
        """Start predicting a chunk; the returned function waits for and returns the results."""
        known = {t: self.cache[t] for t, s in texts if s == "ok" and t in self.cache}
        missing = list(dict.fromkeys(t for t, s in texts if s == "ok" and t not in known))
        if len(self.cache) + len(missing) > CACHE_LIMIT:
            self.cache.clear()
        top = max(self.top, 2)
        if self.explain:  # explanations need the feature rows: predicted here, in this process
            explained = self.predictor.predict(missing, top=top, explain=True)

            def described() -> list[Prediction]:
                return explained
        else:
            proba = self._start(missing)

            def described() -> list[Prediction]:
                return self.predictor.describe(missing, proba(), top) if missing else []

        def results() -> list[Prediction]:
            fresh = dict(zip(missing, described(), strict=True))
            self.cache.update(fresh)
            found = known | fresh
            return [found[t] if s == "ok" else empty_prediction(t, s) for t, s in texts]

        return results

    def _start(self, texts: list[str]) -> Callable[[], np.ndarray]:
        if not texts:
            return lambda: np.zeros((0, len(self.predictor.classes)))
        if self.workers > 1 and self.pool is None:
            global _WORKER_PIPELINE
            _WORKER_PIPELINE = self.predictor.pipeline
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("fork"),
                initializer=_worker_started,
                initargs=(os.getpid(),),
            )
        if self.pool is not None:
            return self.pool.submit(_probabilities, texts).result
        proba = self.predictor.pipeline.predict_proba(texts)
        return lambda: proba

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def label_file(
    path: Path,
    predictor: Predictor,
    output: Path | None = None,
    text_columns: list[str] | None = None,
    sheet: str | None = None,
    top: int = 0,
    explain: bool = False,
    force: bool = False,
    chunk_rows: int = 10_000,
    on_progress: Callable[[int], None] | None = None,
    workers: int = 2,
) -> LabelSummary:
    """Label every row of ``path`` into ``output``; return the summary."""
    source = open_source(path, sheet)
    output = Path(output) if output else default_output(Path(path))
    check_output(output, [path], force)
    added = [
        *PREDICTION_COLUMNS,
        *([TOP_COLUMN] if top else []),
        *([EXPLANATION_COLUMN] if explain else []),
    ]
    clashes = [c for c in added if c in source.columns]
    if clashes:
        raise LabelError(
            f"{path}: already has column(s) {', '.join(clashes)}; was it labelled before? "
            "Rename them or label the original file"
        )
    chunks: Iterator[pd.DataFrame] = read_chunks(source, chunk_rows)
    first = next(chunks, None)
    if text_columns:
        _check_columns(source, text_columns)
    else:
        sample = (
            first.head(SAMPLE_ROWS) if first is not None else pd.DataFrame(columns=source.columns)
        )
        text_columns = choose_text_columns(source.columns, sample)
    summary = LabelSummary(str(path), str(output), source.sheet, list(text_columns))
    more_chunks = first is not None and len(first) == chunk_rows  # else no worker is worth forking
    predictor_of_chunks = _ChunkPredictor(predictor, top, explain, workers if more_chunks else 1)
    counts = (Counter(), Counter())
    columns = [*source.columns, *added]
    try:
        with SpreadsheetWriter(
            output, columns, sheet=source.sheet or "labeled", inputs=[path], force=force
        ) as writer:
            in_flight: deque = deque()
            for chunk in _chain(first, chunks):
                texts = [row_text(values) for values in chunk[text_columns].itertuples(index=False)]
                in_flight.append((chunk, predictor_of_chunks.submit(texts)))
                while len(in_flight) > workers:
                    _flush(writer, in_flight, added, top, explain, summary, counts, on_progress)
            while in_flight:
                _flush(writer, in_flight, added, top, explain, summary, counts, on_progress)
    finally:
        predictor_of_chunks.close()
    labels, families = counts
    summary.per_label, summary.per_family = dict(labels.most_common()), dict(families.most_common())
    return summary


def write_summary(
    summaries: list[LabelSummary], path: Path, inputs: list[Path], force: bool = False
) -> None:
    """The summaries as JSON (one object for one sheet), never over `inputs`."""
    data = [s.as_dict() for s in summaries]
    text = json.dumps(data[0] if len(data) == 1 else data, indent=2)
    write_bytes(path, text.encode("utf-8"), inputs, force)


def _flush(writer, in_flight, added, top, explain, summary, counts, on_progress) -> None:
    """Append the oldest chunk in flight with its prediction columns; count it in the summary."""
    chunk, results = in_flight.popleft()
    predictions = results()
    cells = pd.DataFrame(
        [_prediction_cells(p, top, explain) for p in predictions],
        columns=added,
        index=chunk.index,
        dtype=object,
    )
    writer.write(pd.concat([chunk, cells], axis=1))
    labels, families = counts
    for p in predictions:
        summary.rows += 1
        if p.status != "ok":
            summary.without_text += 1
            continue
        summary.labelled += 1
        summary.needs_review += p.needs_review
        summary.ambiguous += bool(p.ambiguity)
        labels[p.label] += 1
        families[p.family] += 1
    if on_progress:
        on_progress(len(chunk))


def _chain(first: pd.DataFrame | None, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if first is not None:
        yield first
        yield from rest


REVIEW_COLUMNS = (
    "source_row", "text", "predicted_label", "confidence", "runner_up", "runner_up_confidence",
    "ambiguity", "corrected_label",
)  # fmt: skip


def _is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def review_queue(path: Path, limit: int, text_columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of a labelled file that need a person: lowest confidence first, ambiguous ones too."""
    source = open_source(path)
    missing = [c for c in ("predicted_label", "confidence", "needs_review", "ambiguity", "status")
               if c not in source.columns]  # fmt: skip
    if missing:
        raise LabelError(
            f"{path}: not a file written by 'outsourcing label' (no {', '.join(missing)})"
        )
    original = tuple(
        c for c in source.columns if c not in (*PREDICTION_COLUMNS, TOP_COLUMN, EXPLANATION_COLUMN)
    )
    frames = []
    for chunk in read_chunks(source):
        if text_columns is None:
            text_columns = choose_text_columns(original, chunk.head(SAMPLE_ROWS))
        else:
            _check_columns(source, text_columns)
        ok = chunk["status"].astype(str) == "ok"
        flagged = chunk["needs_review"].map(_is_true) | (
            chunk["ambiguity"].fillna("").astype(str) != ""
        )
        picked = chunk[ok & flagged]
        frames.append(
            pd.DataFrame(
                {
                    "source_row": picked.index + 2,
                    "text": [row_text(v)[0] for v in picked[text_columns].itertuples(index=False)],
                    "predicted_label": picked["predicted_label"].astype(str),
                    "confidence": pd.to_numeric(picked["confidence"], errors="coerce"),
                    "runner_up": picked["runner_up"].astype(str),
                    "runner_up_confidence": pd.to_numeric(
                        picked["runner_up_confidence"], errors="coerce"
                    ),
                    "ambiguity": picked["ambiguity"].fillna("").astype(str),
                    "corrected_label": "",
                }
            )
        )
    queue = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REVIEW_COLUMNS)
    return (
        queue.sort_values(["confidence", "source_row"], kind="stable")
        .head(limit)
        .reset_index(drop=True)
    )


def write_review(
    queue: pd.DataFrame, output: Path, label_ids: list[str], source: Path, force: bool = False
) -> None:
    """Write the review queue of `source`; in XLSX ``corrected_label`` offers a drop-down of the
    label ids."""
    with SpreadsheetWriter(
        output,
        list(REVIEW_COLUMNS),
        sheet="review",
        choices={"corrected_label": label_ids},
        inputs=[source],
        force=force,
    ) as writer:
        writer.write(queue[list(REVIEW_COLUMNS)].astype(object))
