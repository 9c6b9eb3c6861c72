"""`outsourcing label` end to end on real CSV, XLSX and Parquet files."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import zipfile

import openpyxl
import pandas as pd
import pytest

from outsourcing_classifier.config import PROJECT_ROOT
from outsourcing_classifier.label import PREDICTION_COLUMNS

pytestmark = pytest.mark.slow
SAMPLE_CSV = PROJECT_ROOT / "data/examples/contracts_sample.csv"
SAMPLE_XLSX = PROJECT_ROOT / "data/examples/contracts_sample.xlsx"
ANSWERS = PROJECT_ROOT / "data/examples/contracts_sample.answers.csv"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream))


def test_csv_output_keeps_every_cell_and_appends_predictions(run, trained_home, tmp_path):
    source = tmp_path / "contracts.csv"
    shutil.copy(SAMPLE_CSV, source)
    before = _sha(source)
    result = run("label", source, home=trained_home.root)
    assert result.code == 0, result.stderr
    output = tmp_path / "contracts.labeled.csv"
    assert "text column: Scope Description" in result.stdout
    assert _sha(source) == before
    original, labelled = _rows(source), _rows(output)
    assert len(labelled) == len(original)
    width = len(original[0])
    assert labelled[0] == original[0] + list(PREDICTION_COLUMNS)
    for row_in, row_out in zip(original[1:], labelled[1:], strict=True):
        assert [c.removeprefix("'") for c in row_out[:width]] == row_in
    answers = pd.read_csv(ANSWERS, dtype=str, keep_default_na=False)
    predicted = [row[width] for row in labelled[1:]]
    expected = answers.sort_values("row", key=lambda r: r.astype(int))["label"].tolist()
    scored = [(p, e) for p, e in zip(predicted, expected, strict=True) if e]
    assert sum(p == e for p, e in scored) / len(scored) >= 0.75


def test_rows_without_text_are_kept_with_a_status(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "id,description\n1,Payroll for 300 staff\n2,\n3,   \n4,45000\n5,2024-01-31\n",
        encoding="utf-8",
    )
    result = run(
        "label", source, "--summary-json", tmp_path / "summary.json", home=trained_home.root
    )
    assert result.code == 0, result.stderr
    out = pd.read_csv(tmp_path / "in.labeled.csv", dtype=str, keep_default_na=False)
    assert out["id"].tolist() == ["1", "2", "3", "4", "5"]
    assert out["predicted_label"].tolist() == ["hro", "", "", "", ""]
    assert out["status"].tolist() == [
        "ok", "empty text", "empty text",
        "no text: the cell holds a number or date", "no text: the cell holds a number or date",
    ]  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["rows"], summary["labelled"], summary["without_text"]) == (5, 1, 4)
    assert summary["per_label"] == {"hro": 1}
    assert summary["per_family"] == {"BPO": 1}


def test_xlsx_round_trip_keeps_types_and_never_writes_formulas(run, trained_home, tmp_path):
    source = tmp_path / "register.xlsx"
    shutil.copy(SAMPLE_XLSX, source)
    before = _sha(source)
    output = tmp_path / "out.xlsx"
    result = run("label", source, "-o", output, "--top", "2", "--explain", home=trained_home.root)
    assert result.code == 0, result.stderr
    assert _sha(source) == before
    original = openpyxl.load_workbook(source, read_only=True)
    labelled = openpyxl.load_workbook(output, read_only=True)
    rows_in = list(original.active.iter_rows(values_only=True))
    rows_out = list(labelled.active.iter_rows(values_only=True))
    original.close()
    labelled.close()
    assert len(rows_in) == len(rows_out)
    width = len(rows_in[0])
    assert rows_out[0][width:] == (*PREDICTION_COLUMNS, "top_labels", "explanation")
    for row_in, row_out in zip(rows_in, rows_out, strict=True):
        assert row_out[:width] == row_in  # numbers stay numbers, dates stay dates
    for row in openpyxl.load_workbook(output).active.iter_rows():
        assert all(cell.data_type != "f" for cell in row)


def test_formula_cells_are_neutralised_in_csv(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "note,description\n"
        '=HYPERLINK("http://x"),Payroll for 300 staff\n'
        "-12.5,@SUM(A1) data entry\n",
        encoding="utf-8",
    )
    run("label", source, home=trained_home.root)
    rows = _rows(tmp_path / "in.labeled.csv")
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[2][0] == "-12.5"  # a plain number is not a formula
    assert rows[2][1] == "'@SUM(A1) data entry"


def test_parquet_in_and_out(run, trained_home, tmp_path):
    source = tmp_path / "in.parquet"
    pd.DataFrame(
        {"Scope": ["Medical coding for a clinic", "Cleaning of offices"], "n": ["1", "2"]}
    ).to_parquet(source)
    result = run("label", source, home=trained_home.root)
    assert result.code == 0, result.stderr
    out = pd.read_parquet(tmp_path / "in.labeled.parquet")
    assert out["n"].tolist() == ["1", "2"]
    assert out["predicted_label"].tolist() == ["mbpo", "other"]


@pytest.mark.parametrize(
    ("content", "encoding", "column"),
    [
        (
            "Beschreibung;Wert\nPayroll für 300 Mitarbeiter;5\n",
            "cp1252",
            "Beschreibung",
        ),  # ; and cp1252
        ("\ufeffdescription,value\nPayroll for 300 staff,5\n", "utf-8", "description"),  # BOM
    ],
)
def test_csv_dialects_and_encodings(run, trained_home, tmp_path, content, encoding, column):
    source = tmp_path / "in.csv"
    source.write_bytes(content.encode(encoding))
    result = run("label", source, home=trained_home.root)
    assert result.code == 0, result.stderr
    assert f"text column: {column}" in result.stdout
    out = pd.read_csv(tmp_path / "in.labeled.csv", dtype=str, keep_default_na=False)
    assert out["predicted_label"].tolist() == ["hro"]


def test_duplicate_headers_are_kept(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("note,note,description\na,b,Payroll for 300 staff\n", encoding="utf-8")
    run("label", source, home=trained_home.root)
    rows = _rows(tmp_path / "in.labeled.csv")
    assert rows[0][:3] == ["note", "note", "description"]
    assert rows[1][:3] == ["a", "b", "Payroll for 300 staff"]


def test_several_text_columns_are_joined(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "title,scope\nServices,ICD-10 coding and claims for a clinic\n", encoding="utf-8"
    )
    result = run(
        "label", source, "--text-column", "title", "--text-column", "scope", home=trained_home.root
    )
    assert "text column: title, scope" in result.stdout
    assert _rows(tmp_path / "in.labeled.csv")[1][2] == "mbpo"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda p: None, ["missing.csv"], "missing.csv: no such file"),
        (lambda p: (p / "bad.xlsx").write_bytes(b"not a workbook"), ["bad.xlsx"], "bad.xlsx"),
        (
            lambda p: None,
            ["ok.csv", "--text-column", "nope"],
            "no column 'nope'; columns are: description, value",
        ),
        (lambda p: None, ["ok.csv", "-o", "ok.csv"], "would overwrite the input"),
        (lambda p: (p / "ok.labeled.csv").write_text("keep me"), ["ok.csv"], "exists; use --force"),
        (lambda p: None, ["book.xlsx", "--sheet", "Nope"], "Nope"),
    ],
)
def test_bad_input_is_a_one_line_error(run, trained_home, tmp_path, setup, args, message):
    (tmp_path / "ok.csv").write_text(
        "description,value\nPayroll for 300 staff,5\n", encoding="utf-8"
    )
    book = openpyxl.Workbook()
    book.active.append(["description"])
    book.active.append(["Payroll"])
    book.save(tmp_path / "book.xlsx")
    setup(tmp_path)
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    paths = [str(tmp_path / a) if a.endswith((".csv", ".xlsx")) else a for a in args]
    result = run("label", *paths, home=trained_home.root)
    assert result.code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before  # nothing written or changed


def test_overlong_cell_for_xlsx_leaves_no_output(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "description,blob\nPayroll for 300 staff," + "x" * 40_000 + "\n", encoding="utf-8"
    )
    result = run("label", source, "-o", tmp_path / "out.xlsx", home=trained_home.root)
    assert result.code == 2
    assert "32,767" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_all_sheets_writes_one_file_per_sheet(run, trained_home, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "HR"
    book.active.append(["description"])
    book.active.append(["Payroll for 300 staff"])
    sheet = book.create_sheet("Medical")
    sheet.append(["description"])
    sheet.append(["ICD-10 coding for a clinic"])
    book.save(tmp_path / "book.xlsx")
    result = run("label", tmp_path / "book.xlsx", "--all-sheets", home=trained_home.root)
    assert result.code == 0, result.stderr
    hr = openpyxl.load_workbook(tmp_path / "book.HR.labeled.xlsx").active
    medical = openpyxl.load_workbook(tmp_path / "book.Medical.labeled.xlsx").active
    assert hr["B2"].value == "hro"
    assert medical["B2"].value == "mbpo"


def test_parallel_chunks_give_the_same_file_as_serial(trained_home, taxonomy, tmp_path):
    from outsourcing_classifier.label import label_file
    from outsourcing_classifier.predict import Predictor
    from outsourcing_classifier.store import load_model

    texts = ["Payroll for 300 staff", "ICD-10 coding", "", "Cleaning of offices", "Raise POs"] * 5
    source = tmp_path / "in.csv"
    pd.DataFrame({"description": texts, "n": range(len(texts))}).to_csv(source, index=False)
    predictor = Predictor(load_model(trained_home.models).pipeline, taxonomy)
    progress = []
    serial = label_file(source, predictor, tmp_path / "serial.csv", chunk_rows=4, workers=1)
    parallel = label_file(
        source, predictor, tmp_path / "parallel.csv", chunk_rows=4, workers=2,
        on_progress=progress.append,
    )  # fmt: skip
    assert (tmp_path / "serial.csv").read_bytes() == (tmp_path / "parallel.csv").read_bytes()
    assert serial.as_dict() | {"output": ""} == parallel.as_dict() | {"output": ""}
    assert sum(progress) == len(texts) and len(progress) == 7  # 25 rows in chunks of 4
    assert parallel.per_label == {"hro": 5, "mbpo": 5, "other": 5, "procurement_bpo": 5}


def _usual_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_summary_json_never_replaces_an_input_or_an_existing_file(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("description\nPayroll for 300 staff\n", encoding="utf-8")
    before = source.read_bytes()
    result = run("label", source, "--summary-json", source, "--force", home=trained_home.root)
    assert (result.code, result.stderr.count("\n")) == (2, 1)
    assert "in.csv: would overwrite the input" in result.stderr
    assert source.read_bytes() == before
    existing = tmp_path / "summary.json"
    existing.write_text("keep me", encoding="utf-8")
    result = run("label", source, "--summary-json", existing, home=trained_home.root)
    assert (result.code, result.stderr.count("\n")) == (2, 1)
    assert "summary.json: exists; use --force" in result.stderr
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "summary.json"]  # checked first

    result = run("label", source, "--summary-json", tmp_path / "new.json", home=trained_home.root)
    assert result.code == 0, result.stderr
    assert json.loads((tmp_path / "new.json").read_text())["rows"] == 1
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == _usual_mode()
    labelled = tmp_path / "in.labeled.csv"
    assert labelled.stat().st_mode & 0o777 == _usual_mode()
    again = tmp_path / "again.csv"
    result = run(
        "label", source, "-o", again, "--summary-json", again, "--force", home=trained_home.root
    )  # the summary may not replace the labelled file either
    assert result.code == 2
    assert "again.csv: would overwrite" in result.stderr
    assert not again.exists()


def test_review_never_replaces_the_file_it_reads(run, trained_home, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "description\n" + "".join(f"Support work item {n}\n" for n in range(30)), encoding="utf-8"
    )
    assert run("label", source, home=trained_home.root).code == 0
    labelled = tmp_path / "in.labeled.csv"
    before = labelled.read_bytes()
    os.link(labelled, tmp_path / "alias.csv")
    for target in (labelled, tmp_path / "alias.csv"):
        result = run("review", labelled, "-o", target, "--force", home=trained_home.root)
        assert (result.code, result.stderr.count("\n")) == (2, 1)
        assert "would overwrite the input" in result.stderr
        assert labelled.read_bytes() == before
    assert len(_rows(labelled)) == 31


def _crafted_workbook(path, sheets: dict[str, str]) -> None:
    """A workbook with sheet names that Excel refuses but a crafted file can hold."""
    plain = path.with_name("plain.xlsx")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for number, text in enumerate(sheets.values()):
        sheet = book.create_sheet(f"SHEET{number}")
        sheet.append(["description"])
        sheet.append([text])
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as crafted:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                for number, name in enumerate(sheets):
                    data = data.replace(f'name="SHEET{number}"'.encode(), f'name="{name}"'.encode())
            crafted.writestr(item, data)
    plain.unlink()


def test_all_sheets_outputs_stay_inside_the_output_folder(run, trained_home, tmp_path):
    book = tmp_path / "book.xlsx"
    _crafted_workbook(
        book,
        {
            "../../../x/deep": "Payroll for 300 staff",  # climbs out of out/
            "a/b": "ICD-10 coding for a clinic",  # a separator
            "a_b": "Raise purchase orders with suppliers",  # same file name as the one before
            "L" * 80: "Cleaning of offices",  # too long
        },
    )
    out = tmp_path / "a" / "b" / "out"
    result = run("label", book, "--all-sheets", "-o", out, home=trained_home.root)
    assert result.code == 0, result.stderr
    names = ["x_deep", "a_b", "a_b_2", "L" * 40]
    for sheet, name in zip(["../../../x/deep", "a/b", "a_b", "L" * 80], names, strict=True):
        assert f"sheet {sheet!r} -> {out / f'book.{name}.labeled.xlsx'}" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "book.xlsx"]
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["out"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"book.{n}.labeled.xlsx" for n in names)
    predicted = [
        openpyxl.load_workbook(out / f"book.{name}.labeled.xlsx").active["B2"].value
        for name in names
    ]
    assert predicted == ["hro", "mbpo", "procurement_bpo", "other"]
