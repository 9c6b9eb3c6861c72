"""Read and write the spreadsheets of batch labelling: CSV, TSV, XLSX and Parquet.

Cells are never lost or changed, outputs are written under the rules of :mod:`outputs`, and every
problem with a file is a one-line :class:`SpreadsheetError` naming the file, sheet, row and column.
Row numbers are as Excel shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from outsourcing_classifier.config import UserFacingError
from outsourcing_classifier.outputs import create_temporary, publish

FORMATS = ("csv", "tsv", "xlsx", "parquet")
XLSX_MAX_ROWS = 1_048_576  # including the header row
XLSX_MAX_CELL_CHARS = 32_767

SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
SUFFIXES |= {".parquet": "parquet", ".pq": "parquet"}
CSV_DELIMITERS = ",;\t|"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
XLSX_TITLE_REFUSED = re.compile(r"[\\/*?:\[\]]")
XLSX_TITLE_CHARS = 31
SNIFF_CHARS = 64 * 1024


class SpreadsheetError(UserFacingError):
    """A spreadsheet cannot be read or written; the message is one line for the user."""


def _error(path: Path, problem: object, sheet: str | None = None) -> SpreadsheetError:
    where = f"{path}, sheet {sheet!r}" if sheet is not None else f"{path}"
    return SpreadsheetError(" ".join(f"{where}: {problem}".split()))


def detect_format(path: Path) -> str:
    """The format of `path`, from its suffix."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(SUFFIXES)
        raise _error(path, f"unknown file type {path.suffix!r}; use one of {known}")
    return fmt


@dataclass(frozen=True)
class Source:
    """An input file whose header has been read and checked."""

    path: Path
    format: str
    sheet: str | None
    columns: tuple[str, ...]
    encoding: str | None
    delimiter: str | None


def _load_workbook(path: Path) -> openpyxl.Workbook:
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise _error(path, f"not a readable Excel workbook ({exc})") from exc


def sheet_names(path: Path) -> list[str]:
    """The worksheet names of an xlsx workbook, in order."""
    wb = _load_workbook(path)
    wb.close()
    return [ws.title for ws in wb.worksheets]


@contextmanager
def _worksheet(path: Path, sheet: str | None) -> Iterator[ReadOnlyWorksheet]:
    """The worksheet `sheet` (None: the active one), closed afterwards; errors name the sheet."""
    wb = _load_workbook(path)
    try:
        names = [ws.title for ws in wb.worksheets]
        if sheet is None:
            sheet = wb.active.title if wb.active in wb.worksheets else names[0]
        elif sheet not in names:
            raise _error(path, f"no sheet {sheet!r}; sheets are {', '.join(names)}")
        ws = wb[sheet]
        ws.reset_dimensions()  # stored dimensions can be wrong; read what is there
        yield ws
    except SpreadsheetError:
        raise
    except Exception as exc:  # a damaged sheet fails only when its rows are parsed
        raise _error(path, f"cannot read the workbook ({exc})", sheet) from exc
    finally:
        wb.close()


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as such, else cp1252."""
    with path.open("rb") as f:
        bom = f.read(3) == codecs.BOM_UTF8
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return "utf-8-sig" if bom and encoding == "utf-8" else encoding
    raise _error(path, "text is neither UTF-8 nor cp1252")


def _sniff_delimiter(sample: str, truncated: bool) -> str:
    """The candidate giving the most fields, the same number on every row of the sample."""
    best, best_fields = ",", 1
    for delimiter in CSV_DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        if truncated:
            rows = rows[:-1]
        widths = {len(row) for row in rows if row}
        if len(widths) == 1 and (fields := widths.pop()) > best_fields:
            best, best_fields = delimiter, fields
    return best


def open_source(path: Path, sheet: str | None = None) -> Source:
    """Check `path` and read its header (the worksheet `sheet`, or the active one, for xlsx)."""
    path = Path(path)
    if not path.is_file():
        raise _error(path, "no such file")
    if not os.access(path, os.R_OK):
        raise _error(path, "file is not readable")
    fmt = detect_format(path)
    if fmt == "xlsx":
        with _worksheet(path, sheet) as ws:
            sheet, header = ws.title, list(next(ws.iter_rows(max_row=1, values_only=True), ()))
        while header and header[-1] is None:
            header.pop()
        if not header:
            raise _error(path, "row 1 is empty; expected a header", sheet)
        columns = tuple("" if value is None else _text(value) for value in header)
        return Source(path, fmt, sheet, columns, None, None)
    if fmt == "parquet":
        try:
            columns = tuple(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise _error(path, f"not a readable Parquet file ({exc})") from exc
        if not columns:
            raise _error(path, "the file has no columns")
        return Source(path, fmt, None, columns, None, None)
    encoding = _detect_encoding(path)
    with path.open(encoding=encoding, newline="") as f:
        sample = f.read(SNIFF_CHARS + 1)
    truncated = len(sample) > SNIFF_CHARS
    delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(sample[:SNIFF_CHARS], truncated)
    try:
        header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        raise _error(path, f"row 1: {exc}") from exc
    if not header:
        raise _error(path, "row 1 is empty; expected a header")
    return Source(path, fmt, None, tuple(header), encoding, delimiter)


def _text_rows(source: Source) -> Iterator[list[str]]:
    width, number = len(source.columns), 0
    with source.path.open(encoding=source.encoding, newline="") as f:
        try:
            for number, row in enumerate(csv.reader(f, delimiter=source.delimiter), start=1):
                row = row or [""] * width  # a blank line is a row of empty cells, as in Excel
                if len(row) != width:
                    raise _error(source.path, f"row {number} has {len(row)} fields, not {width}")
                if number > 1:
                    yield row
        except csv.Error as exc:
            raise _error(source.path, f"row {number + 1}: {exc}") from exc


def _xlsx_rows(source: Source) -> Iterator[tuple]:
    width = len(source.columns)
    with _worksheet(source.path, source.sheet) as ws:
        for number, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
            extra = next((i for i, v in enumerate(row[width:], width + 1) if v is not None), 0)
            if extra:
                problem = f"row {number}, column {get_column_letter(extra)}: value without a header"
                raise _error(source.path, problem, ws.title)
            yield tuple(row[:width]) + (None,) * (width - len(row))


def _parquet_rows(source: Source) -> Iterator[tuple]:
    try:
        for batch in pq.ParquetFile(source.path).iter_batches():
            # to_pylist keeps values as they are, where pandas would turn ints with nulls to floats
            yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)
    except (pa.ArrowException, OSError) as exc:
        raise _error(source.path, f"cannot read the Parquet file ({exc})") from exc


def read_chunks(source: Source, chunk_rows: int = 50_000) -> Iterator[pd.DataFrame]:
    """Stream the data rows; the index is the 0-based data-row number across the whole file."""
    readers = {"xlsx": _xlsx_rows, "parquet": _parquet_rows}
    rows = readers.get(source.format, _text_rows)(source)
    start = 0
    while chunk := list(islice(rows, chunk_rows)):
        index = pd.RangeIndex(start, start + len(chunk))
        frame = pd.DataFrame(chunk, index=index, columns=range(len(source.columns)), dtype=object)
        frame.columns = list(source.columns)  # set afterwards: duplicate names are kept
        yield frame
        start += len(chunk)


def _is_missing(value: object) -> bool:
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _text(value: object) -> str:
    """The string form of a cell for CSV, TSV and Parquet output."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _neutralise(text: str) -> str:
    """Stop a spreadsheet program from running a cell as a formula when it opens a CSV file."""
    if text.startswith(FORMULA_STARTS) and not NUMBER_RE.fullmatch(text):
        return "'" + text
    return text


def _csv_column(values: list) -> list[str]:
    """One column's cells as CSV text: missing values empty, formulas neutralised."""
    cells = [v if type(v) is str else "" if _is_missing(v) else _text(v) for v in values]
    return [_neutralise(c) if c[:1] in FORMULA_STARTS else c for c in cells]


class SpreadsheetWriter:
    """Write an output spreadsheet in chunks; it appears at `path` only when complete, and
    never over one of `inputs` or (without `force`) an existing file."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        fmt: str | None = None,
        sheet: str = "labeled",
        choices: dict[str, Sequence[str]] | None = None,
        inputs: Iterable[Path] = (),
        force: bool = False,
    ) -> None:
        """``choices``: XLSX columns that get a drop-down list of allowed values."""
        self.path = Path(path)
        self.inputs, self.force = list(inputs), force
        self.choices = dict(choices or {})
        self.columns = list(columns)
        self.format = fmt or detect_format(self.path)
        self.sheet = XLSX_TITLE_REFUSED.sub("_", sheet)[:XLSX_TITLE_CHARS] or "labeled"
        if self.format not in FORMATS:
            raise _error(self.path, f"unknown format {self.format!r}; use one of {FORMATS}")
        if self.format == "xlsx" and self.path.suffix.lower() == ".xlsm":
            raise _error(self.path, "cannot write macro workbooks; name the output .xlsx")
        duplicates = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if self.format == "parquet" and duplicates:
            raise _error(self.path, f"Parquet needs unique column names; repeated: {duplicates}")
        self._tmp: Path | None = None
        self._rows = 0
        self._file = self._csv = self._workbook = self._sheet = self._parquet = None

    def __enter__(self) -> SpreadsheetWriter:
        try:
            self._tmp = create_temporary(self.path)
            if self.format in ("csv", "tsv"):
                self._file = self._tmp.open("w", encoding="utf-8", newline="")
                delimiter = "\t" if self.format == "tsv" else ","
                self._csv = csv.writer(self._file, delimiter=delimiter)  # quotes any \r or \n
                self._csv.writerow([_neutralise(c) for c in self.columns])
            elif self.format == "xlsx":
                self._workbook = openpyxl.Workbook(write_only=True)
                self._sheet = self._workbook.create_sheet(self.sheet)
                for column, allowed in self.choices.items():
                    letter = get_column_letter(self.columns.index(column) + 1)
                    validation = DataValidation(
                        type="list", formula1=f'"{",".join(allowed)}"', allow_blank=True
                    )
                    validation.add(f"{letter}2:{letter}{XLSX_MAX_ROWS}")
                    self._sheet.data_validations.append(validation)
                self._sheet.append([self._xlsx_cell(c, 1, i) for i, c in enumerate(self.columns)])
            else:
                schema = pa.schema([(c, pa.string()) for c in self.columns])
                self._parquet = pq.ParquetWriter(self._tmp, schema)
        except (OSError, pa.ArrowException) as exc:
            self._discard()
            raise _error(self.path, f"cannot create the output ({exc})") from exc
        return self

    def write(self, chunk: pd.DataFrame) -> None:
        """Append the rows of `chunk`, whose columns must be `columns`, in order."""
        if list(chunk.columns) != self.columns:
            raise _error(self.path, f"chunk columns {list(chunk.columns)} are not {self.columns}")
        if self.format == "xlsx" and self._rows + len(chunk) > XLSX_MAX_ROWS - 1:
            too_many = f"more than {XLSX_MAX_ROWS - 1:,} data rows do not fit in Excel"
            raise _error(self.path, f"{too_many}; write CSV or Parquet instead")
        if self._csv is not None:
            columns = [_csv_column(chunk.iloc[:, i].tolist()) for i in range(len(self.columns))]
            self._csv.writerows(zip(*columns, strict=True))
        elif self._sheet is not None:
            rows = chunk.itertuples(index=False, name=None)
            for number, row in enumerate(rows, start=self._rows + 2):
                self._sheet.append([self._xlsx_cell(v, number, i) for i, v in enumerate(row)])
        else:
            columns = [
                [None if _is_missing(v) else _text(v) for v in chunk.iloc[:, i]]
                for i in range(len(self.columns))
            ]
            self._parquet.write_batch(pa.record_batch(columns, schema=self._parquet.schema))
        self._rows += len(chunk)

    def _xlsx_cell(self, value: object, number: int, i: int) -> WriteOnlyCell | None:
        if _is_missing(value):
            return None
        where = f"row {number}, column {get_column_letter(i + 1)} ({self.columns[i]!r})"
        problem = None
        if isinstance(value, str) and len(value) > XLSX_MAX_CELL_CHARS:
            problem = f"{len(value):,} characters is over Excel's limit of {XLSX_MAX_CELL_CHARS:,}"
        elif isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
            problem = "control characters cannot be stored in Excel"
        elif isinstance(value, datetime | time) and value.tzinfo is not None:
            problem = f"Excel cannot store the time zone of {value}"
        if problem:
            raise _error(self.path, f"{where}: {problem}; write CSV or Parquet instead")
        try:
            cell = WriteOnlyCell(self._sheet, value)
        except (ValueError, TypeError) as exc:
            raise _error(self.path, f"{where}: cannot store {value!r} in Excel ({exc})") from exc
        if isinstance(value, str):
            cell.data_type = "s"  # text starting with "=" is text, never a formula
        return cell

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if self._file is not None:
                self._file.close()
            if self._parquet is not None:
                self._parquet.close()
            if exc_type is None:
                if self._workbook is not None:
                    self._workbook.save(self._tmp)
                publish(self._tmp, self.path, self.inputs, self.force)
        except (OSError, pa.ArrowException) as error:
            raise _error(self.path, f"cannot write the output ({error})") from error
        finally:
            self._discard()

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sheet is not None and not self._sheet.closed:
            self._sheet.close()  # ends openpyxl's row writer, which would complain when collected
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
