"""The notebooks run top to bottom against the package, so they never rot."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from outsourcing_classifier.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _execute(name: str, home, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("OUTSOURCING_HOME", str(home))
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return notebook


def _text(notebook) -> str:
    return "\n".join(
        str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_corpus_notebook(monkeypatch):
    text = _text(_execute("01-corpus.ipynb", PROJECT_ROOT, monkeypatch))
    assert "near-duplicate rate" in text
    assert "procurement_bpo" in text


def test_error_analysis_notebook(trained_home, monkeypatch):
    notebook = _execute("02-error-analysis.ipynb", trained_home.root, monkeypatch)
    text = _text(notebook)
    assert "test rows: macro-F1" in text
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # confusion matrix and calibration plot
