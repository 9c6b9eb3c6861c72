"""End-to-end fixtures: a small copy of the project trained through the real CLI."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from outsourcing_classifier.cli import main
from outsourcing_classifier.config import PROJECT_ROOT, Paths, load_paths
from outsourcing_classifier.corpus import DOCUMENT_REGISTERS, REQUIRED_COLUMNS

ROWS_PER_LABEL = 250


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(capsys, monkeypatch):
    """Run the real ``outsourcing`` entry point in-process, as a user would from a shell."""

    def invoke(*args: str, home: Path, stdin: str | None = None) -> Result:
        monkeypatch.setenv("OUTSOURCING_HOME", str(home))
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.setattr(sys, "argv", ["outsourcing", *map(str, args)])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def make_small_project(root: Path, corpus: pd.DataFrame) -> Paths:
    """A project folder with the real taxonomy, behavioural cases and frame library and a small
    slice of the corpus."""
    (root / "data" / "corpus").mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "data/frames", root / "data/frames")
    (root / "data" / "incoming").mkdir()
    for name in ("taxonomy.yaml", "behaviour.yaml"):
        (root / "data" / name).write_bytes((PROJECT_ROOT / "data" / name).read_bytes())
    # Short registers only: these tests exercise the commands, and a few hundred rows per label
    # learn short texts more reliably without whole adverts and notices among them. ``other``
    # spans every kind of work outside the taxonomy, so it gets twice the rows, as in the corpus.
    short = corpus[~corpus["register"].isin(DOCUMENT_REGISTERS)]
    small = pd.concat(
        rows.sample(ROWS_PER_LABEL * (2 if label == "other" else 1), random_state=0)
        for label, rows in short.groupby("label")
    )
    small[[*REQUIRED_COLUMNS, "near_label"]].to_csv(root / "data/corpus/base.csv", index=False)
    return load_paths(root)


@pytest.fixture
def untrained_home(tmp_path, corpus) -> Paths:
    """A small project before its first ``outsourcing train``: no champion."""
    return make_small_project(tmp_path / "untrained", corpus)


@pytest.fixture
def small_home(tmp_path, corpus) -> Paths:
    """An untrained small project of this test's own."""
    return make_small_project(tmp_path / "home", corpus)


@pytest.fixture
def start_cli():
    """Start the real ``outsourcing`` command as a separate process (several may run at once)."""
    command = Path(sys.executable).with_name("outsourcing")
    started = []

    def start(*args: object, home: Path, **env: str) -> subprocess.Popen:
        environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        environment |= {"OUTSOURCING_HOME": str(home), **env}
        process = subprocess.Popen(
            [str(command), *map(str, args)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:  # a failed test leaves none running and no pipe open
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()
        process.wait()


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory, corpus) -> Paths:
    """A small project trained once by ``outsourcing train``; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("trained-home")
    paths = make_small_project(root, corpus)
    mp = pytest.MonkeyPatch()
    mp.setenv("OUTSOURCING_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setattr(sys, "argv", ["outsourcing", "train"])
    try:
        main()
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    finally:
        mp.undo()
    assert paths.champion_model.is_file()
    return paths
