"""`outsourcing predict` and `evaluate` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_predict_prints_label_name_family_and_confidence(run, trained_home):
    result = run(
        "predict", "Monthly payroll processing and payslips for 900 staff", home=trained_home.root
    )
    assert result.code == 0
    first = result.stdout.splitlines()[0]
    assert first.startswith("hro  Human resource outsourcing  [BPO]  confidence ")
    assert "text: Monthly payroll processing" in result.stdout


def test_predict_json_lines_with_top_and_explanation(run, trained_home):
    result = run(
        "predict", "ICD-10 coding for a hospital", "Raise purchase orders and chase suppliers",
        "--json", "--top", "3", "--explain", home=trained_home.root,
    )  # fmt: skip
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["mbpo", "procurement_bpo"]
    assert set(lines[0]) == {
        "text", "label", "name", "family", "confidence", "needs_review", "ambiguity", "top",
        "explanation",
    }  # fmt: skip
    assert len(lines[0]["top"]) == 3
    assert lines[0]["top"][0]["label"] == "mbpo"
    assert sum(t["probability"] for t in lines[0]["top"]) <= 1.0001
    label_terms = [term for term, _ in lines[0]["explanation"]["mbpo"]]
    assert any("icd" in term or "code" in term or "hospital" in term for term in label_terms)


def test_predict_reads_stdin_and_flags_ambiguous_acronyms(run, trained_home):
    stdin = (
        "Our RPO partner screens and interviews applicants\n\nRaise LPOs for branch stationery\n"
    )
    result = run("predict", "-", "--json", home=trained_home.root, stdin=stdin)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["ambiguity"] for line in lines] == [["RPO"], ["LPO"]]


def test_threshold_marks_needs_review(run, trained_home):
    result = run("predict", "Payroll", "--json", "--threshold", "1.0", home=trained_home.root)
    assert json.loads(result.stdout)["needs_review"] is True
    result = run("predict", "Payroll", "--json", "--threshold", "0.0", home=trained_home.root)
    assert json.loads(result.stdout)["needs_review"] is False


def test_no_model_is_a_one_line_error(run, tmp_path):
    (tmp_path / "data").mkdir()
    from outsourcing_classifier.config import PROJECT_ROOT

    (tmp_path / "data" / "taxonomy.yaml").write_bytes(
        (PROJECT_ROOT / "data/taxonomy.yaml").read_bytes()
    )
    result = run("predict", "Payroll", home=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("error: ") and "no model file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_tampered_model_is_refused(run, trained_home, tmp_path):
    import shutil

    shutil.copytree(trained_home.root, tmp_path / "home")
    model = tmp_path / "home" / "models" / "champion.skops"
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    result = run("predict", "Payroll", home=tmp_path / "home")
    assert result.code == 2
    assert "SHA-256 does not match" in result.stderr


def test_evaluate_reports_metrics_on_a_labelled_file(run, trained_home, tmp_path):
    path = tmp_path / "gold.csv"
    path.write_text(
        "text,label\n"
        "Monthly payroll processing for 400 employees,HRO\n"
        "Medical coding and billing for a clinic,Medical BPO\n"
        "Raise purchase orders and run RFQs,procurement_bpo\n",
        encoding="utf-8",
    )
    result = run("evaluate", path, "--json", home=trained_home.root)
    metrics = json.loads(result.stdout)
    assert metrics["rows"] == 3
    assert metrics["accuracy"] == 1.0
    assert metrics["per_class"]["hro"]["support"] == 1


def test_evaluate_refuses_ambiguous_labels_naming_the_row(run, trained_home, tmp_path):
    path = tmp_path / "gold.csv"
    path.write_text("text,label\nPayroll,hro\nScreen applicants,RPO\n", encoding="utf-8")
    result = run("evaluate", path, home=trained_home.root)
    assert result.code == 2
    assert "row 3" in result.stderr and "research_po or recruitment_po" in result.stderr


def test_console_script_and_module_entry_points(trained_home):
    env = {"OUTSOURCING_HOME": str(trained_home.root), "PATH": "/usr/bin:/bin"}
    for command in (
        [str(__import__("pathlib").Path(sys.executable).with_name("outsourcing"))],
        [sys.executable, "-m", "outsourcing_classifier"],
    ):
        done = subprocess.run(
            [*command, "predict", "Office cleaning and window washing", "--json"],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["label"] == "other"
        assert "mlflow" not in done.stderr.lower()


def test_predict_path_never_imports_mlflow(trained_home):
    code = (
        "import sys\n"
        "from outsourcing_classifier.cli import main\n"
        "sys.argv = ['outsourcing', 'predict', 'Payroll']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MLFLOW' if 'mlflow' in sys.modules else 'CLEAN')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120,
        env={"OUTSOURCING_HOME": str(trained_home.root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.stdout.strip().endswith("CLEAN"), done.stderr


def test_predict_with_a_registry_alias(run, trained_home):
    result = run(
        "predict", "Medical coding for a clinic", "--json",
        "--model", "models:/outsourcing-classifier@champion", home=trained_home.root,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["label"] == "mbpo"


def test_models_lists_the_registered_version(run, trained_home):
    result = run("models", home=trained_home.root)
    assert result.code == 0
    assert "champion" in result.stdout
    assert " 1 " in result.stdout


def test_evaluate_frames_reports_every_register_on_the_test_split(run, trained_home, corpus):
    from outsourcing_classifier.corpus import read_corpus
    from outsourcing_classifier.frames import REGISTERS
    from outsourcing_classifier.taxonomy import load_taxonomy

    result = run("evaluate-frames", "--json", home=trained_home.root)
    assert result.code == 0, result.stderr
    figures = json.loads(result.stdout)
    test_rows = read_corpus(trained_home.corpus, load_taxonomy(trained_home.taxonomy))
    assert figures["rows"] == int((test_rows["split"] == "test").sum())
    assert list(figures["per_register"]) == list(REGISTERS)
    rates = [scores["flip_rate"] for scores in figures["per_register"].values()]
    assert figures["flip_rate"] == pytest.approx(sum(rates) / len(rates))
    assert 0 < figures["flip_rate"] < 0.5
    table = run("evaluate-frames", home=trained_home.root).stdout
    assert "job_advert" in table and "the same rows unframed: macro-F1" in table
