"""Spreadsheet input and output on real files: exact cells, clear errors, no partial files."""

from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from outsourcing_classifier.spreadsheet import (
    XLSX_MAX_CELL_CHARS,
    XLSX_MAX_ROWS,
    SpreadsheetError,
    SpreadsheetWriter,
    detect_format,
    open_source,
    read_chunks,
    sheet_names,
)


def read_all(path: Path, sheet: str | None = None, chunk_rows: int = 50_000) -> pd.DataFrame:
    chunks = list(read_chunks(open_source(path, sheet), chunk_rows))
    return pd.concat(chunks) if chunks else pd.DataFrame()


def write(path: Path, frame: pd.DataFrame, **kwargs) -> None:
    with SpreadsheetWriter(path, list(frame.columns), **kwargs) as writer:
        writer.write(frame)


def make_xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)


def folder_names(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),  # plain CSV
        ("a.TXT", "csv"),  # text export, suffix in capitals
        ("a.tsv", "tsv"),  # tab separated
        ("a.xlsx", "xlsx"),  # workbook
        ("a.xlsm", "xlsx"),  # macro workbook is read like xlsx
        ("a.parquet", "parquet"),  # parquet
        ("a.pq", "parquet"),  # short parquet suffix
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(Path(name)) == fmt


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(SpreadsheetError, match=r"a\.docx.*\.csv.*\.xlsx.*\.parquet"):
        detect_format(Path("a.docx"))


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),  # plain UTF-8
        ("utf-8-sig", "utf-8-sig"),  # Excel's "CSV UTF-8" with BOM; BOM not in the first header
        ("cp1252", "cp1252"),  # Excel's legacy Windows CSV
    ],
)
def test_csv_encodings_read_back_exact_strings(tmp_path, encoding, expected):
    rows = [["Société", "Notes"], ["Müller – Café €5", "  padded  "], ["NA", ""], ["null", "0012"]]
    path = tmp_path / "in.csv"
    path.write_bytes("\r\n".join(",".join(row) for row in rows).encode(encoding))
    source = open_source(path)
    assert (source.encoding, source.delimiter) == (expected, ",")
    assert source.columns == ("Société", "Notes")
    assert read_all(path).to_numpy().tolist() == rows[1:]


@pytest.mark.parametrize(
    ("name", "text", "delimiter"),
    [
        ("in.csv", "a;b;c\n1,5;x;y\n2;z;w\n", ";"),  # European Excel: semicolon, decimal comma
        ("in.tsv", "a\tb\tc\n1,5\tx;y\t|\n2\tz\tw\n", "\t"),  # TSV is always tab
        ("in.csv", "a|b|c\n1,5|x|y\n2|z|w\n", "|"),  # pipe
        ("in.csv", 'a,b,c\n"1,5",x,y\n2,z,w\n', ","),  # comma with a quoted comma
    ],
)
def test_delimiters(tmp_path, name, text, delimiter):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    source = open_source(path)
    assert source.delimiter == delimiter
    assert source.columns == ("a", "b", "c")
    assert read_all(path).iloc[:, 0].tolist() == ["1,5", "2"]


def test_single_column_csv_and_quoted_newline(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('description\n"line one\nline two"\n"plain, with comma?"\n', encoding="utf-8")
    assert read_all(path)["description"].tolist() == ["line one\nline two", "plain, with comma?"]


def test_duplicate_headers_kept_in_order(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text,text,id\n1,a,b,2\n", encoding="utf-8")
    frame = read_all(path)
    assert open_source(path).columns == ("id", "text", "text", "id")
    assert list(frame.columns) == ["id", "text", "text", "id"]
    assert frame.iloc[0].tolist() == ["1", "a", "b", "2"]


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ("a,b\n1,2\n3,4,5\n", "row 3 has 3 fields"),  # too many fields
        ("a,b\n1,2\n3,4\n5\n", "row 4 has 1 fields"),  # too few fields
        ('a,b\n"x\ny",2\n3\n', "row 3 has 1 fields"),  # rows counted as records, not lines
    ],
)
def test_ragged_csv_row_is_named(tmp_path, text, row):
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpreadsheetError, match=f"in.csv: {row}, not 2"):
        read_all(path)


def test_blank_line_is_a_row_of_empty_cells(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n1,2\n\n3,4\n", encoding="utf-8")
    assert read_all(path).to_numpy().tolist() == [["1", "2"], ["", ""], ["3", "4"]]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "row 1 is empty"),  # empty file
        (b"\xef\xbb\xbf", "row 1 is empty"),  # only a BOM
        (b"\n1,2\n", "row 1 is empty"),  # no header line
        (b"a,b\n\x81\x8d\n", "neither UTF-8 nor cp1252"),  # bytes no text encoding explains
    ],
)
def test_unreadable_csv(tmp_path, content, problem):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(SpreadsheetError, match=problem):
        open_source(path)


def test_header_only_gives_no_rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a,b\n", encoding="utf-8")
    assert list(read_chunks(open_source(path))) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_chunks_match_one_read_and_index_is_global_row_number(tmp_path, fmt):
    path = tmp_path / f"in.{fmt}"
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(10)], "text": [f"t{i}" for i in range(10)]})
    write(path, frame)
    chunks = list(read_chunks(open_source(path), chunk_rows=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [c.index.tolist() for c in chunks][1] == [3, 4, 5]
    whole = read_all(path)
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)
    assert whole.index.tolist() == list(range(10))
    assert whole["id"].tolist() == frame["id"].tolist()


def test_xlsx_sheets(tmp_path):
    path = tmp_path / "in.xlsx"
    make_xlsx(path, {"Contracts": [["id", "text"], [1, "a"]], "Jobs": [["title"], ["b"], ["c"]]})
    assert sheet_names(path) == ["Contracts", "Jobs"]
    assert open_source(path).sheet == "Contracts"
    assert read_all(path, "Jobs")["title"].tolist() == ["b", "c"]
    with pytest.raises(SpreadsheetError, match=r"no sheet 'Other'; sheets are Contracts, Jobs"):
        open_source(path, "Other")


def test_xlsx_gaps_and_values_outside_the_header(tmp_path):
    path = tmp_path / "in.xlsx"
    make_xlsx(path, {"S": [["a", "b", None], [1], [], [None, 2]]})
    assert open_source(path).columns == ("a", "b")  # trailing empty header cell dropped
    assert read_all(path).to_numpy().tolist() == [[1, None], [None, None], [None, 2]]
    make_xlsx(path, {"S": [["a", "b"], [1, 2], [3, 4, "stray"]]})
    with pytest.raises(SpreadsheetError, match=r"sheet 'S': row 3, column C: value without"):
        read_all(path)


@pytest.mark.parametrize(
    ("name", "content", "call"),
    [
        ("bad.xlsx", b"PK\x03\x04 not really a zip", open_source),  # random bytes as xlsx
        ("bad.xlsx", bytes(range(256)) * 4, sheet_names),  # random bytes, listing sheets
        ("bad.parquet", b"PAR1 truncated", open_source),  # random bytes as parquet
    ],
)
def test_corrupt_files(tmp_path, name, content, call):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SpreadsheetError, match=name) as error:
        call(path)
    assert "\n" not in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SpreadsheetError, match=r"nowhere\.csv: no such file"):
        open_source(tmp_path / "nowhere.csv")


def test_xlsx_round_trip_keeps_values(tmp_path):
    rows = [
        [1, 2.5, datetime(2024, 3, 1), "text", None],
        [-7, 0.1, datetime(2024, 3, 1, 13, 45, 7), "two words", "x"],
        [None, None, None, None, None],
    ]
    source_path, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    make_xlsx(source_path, {"S": [["int", "float", "date", "text", "maybe"], *rows[:2]]})
    frame = read_all(source_path)
    frame.loc[2] = [None] * 5
    write(out, frame)
    assert read_all(out).to_numpy().tolist() == rows
    assert open_source(out).sheet == "labeled"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),  # formula
        ("+1+1", "'+1+1"),  # plus formula
        ("-2+3", "'-2+3"),  # minus formula
        ("@SUM(A1)", "'@SUM(A1)"),  # at-sign formula
        ("\tcmd", "'\tcmd"),  # leading tab
        ("\r=1", "'\r=1"),  # leading carriage return
        ("-12.5", "-12.5"),  # negative number stays
        ("+44", "+44"),  # signed integer stays
        ("-1.5e3", "-1.5e3"),  # exponent number stays
        ("+44 20 7946 0958", "'+44 20 7946 0958"),  # phone number is not a plain number
        ("a=b", "a=b"),  # "=" not at the start
    ],
)
def test_csv_neutralises_formulas(tmp_path, cell, written):
    path = tmp_path / "out.csv"
    write(path, pd.DataFrame({"text": [cell]}))
    assert read_all(path)["text"].tolist() == [written]


@pytest.mark.parametrize("cell", ["=1+1", "=cmd|' /C calc'!A0", "+1", "@A1", "-12.5"])
def test_xlsx_stores_formula_text_as_text(tmp_path, cell):
    path = tmp_path / "out.xlsx"
    write(path, pd.DataFrame({"=header": [cell]}))
    ws = openpyxl.load_workbook(path)["labeled"]
    cells = [c for row in ws.iter_rows() for c in row]
    assert [(c.value, c.data_type) for c in cells] == [("=header", "s"), (cell, "s")]


def test_csv_and_tsv_output_bytes(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ["plain", 'say "hi", ok', None],
            "when": [datetime(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5), pd.NaT],
            "score": [3.0, 0.25, np.nan],
            "count": [7, -1, 0],
        }
    )
    write(tmp_path / "out.csv", frame)
    write(tmp_path / "out.tsv", frame)
    assert (tmp_path / "out.csv").read_bytes() == (
        b"text,when,score,count\r\nplain,2024-01-02,3,7\r\n"
        b'"say ""hi"", ok",2024-01-02 03:04:05,0.25,-1\r\n,,,0\r\n'
    )
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8").splitlines()[1] == (
        "plain\t2024-01-02\t3\t7"
    )


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("x" * (XLSX_MAX_CELL_CHARS + 1), r"32,768 characters .* write CSV or Parquet"),  # too long
        ("bell\x07", "control characters"),  # XML cannot hold it
    ],
)
def test_xlsx_cell_problems_leave_nothing_behind(tmp_path, cell, problem):
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["ok", cell]})
    where = r"out.xlsx: row 3, column B \('text'\): "
    with pytest.raises(SpreadsheetError, match=where + problem):
        write(tmp_path / "out.xlsx", frame)
    assert folder_names(tmp_path) == []


def test_too_many_rows_for_xlsx(tmp_path):
    frame = pd.DataFrame({"n": np.zeros(XLSX_MAX_ROWS, dtype=int)})
    with pytest.raises(SpreadsheetError, match="1,048,575 data rows"):
        write(tmp_path / "out.xlsx", frame)
    assert folder_names(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "tsv", "xlsx", "parquet"])
def test_failing_write_keeps_existing_output(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(b"previous run")
    with pytest.raises(RuntimeError), SpreadsheetWriter(path, ["text"]) as writer:
        writer.write(pd.DataFrame({"text": ["new"]}))
        raise RuntimeError("labelling failed")
    assert path.read_bytes() == b"previous run"
    assert folder_names(tmp_path) == [path.name]


def test_writer_rejects_wrong_columns(tmp_path):
    wrong = r"chunk columns \['b'\] are not \['a'\]"
    with (
        pytest.raises(SpreadsheetError, match=wrong),
        SpreadsheetWriter(tmp_path / "o.csv", ["a"]) as w,
    ):
        w.write(pd.DataFrame({"b": [1]}))
    assert folder_names(tmp_path) == []


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "in.parquet"
    table = pa.table({"id": pa.array([1, None, 3]), "text": ["a", None, "=c"]})
    pq.write_table(table, path)
    frame = read_all(path)
    assert frame.to_numpy().tolist() == [[1, "a"], [None, None], [3, "=c"]]  # ints stay ints
    out = tmp_path / "out.parquet"
    write(out, frame)
    assert pq.read_table(out).to_pylist() == [
        {"id": "1", "text": "a"},
        {"id": None, "text": None},
        {"id": "3", "text": "=c"},
    ]


def test_parquet_refuses_duplicate_columns(tmp_path):
    with pytest.raises(SpreadsheetError, match=r"repeated: \['text'\]"):
        SpreadsheetWriter(tmp_path / "out.parquet", ["text", "id", "text"])
