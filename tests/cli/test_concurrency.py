"""Commands at the same time, as separate real processes: no row lost, no output replaced
silently, and a writer that cannot get the project lock says who holds it."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


def write_batch(path, seed: int, rows: int) -> list[str]:
    """Labelled texts of random words: no two alike, no near-copies."""
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase, k=8))

    texts = [f"{word()} {word()} payroll {word()} {word()}" for _ in range(rows)]
    pd.DataFrame({"text": texts, "label": "hro"}).to_csv(path, index=False)
    return texts


def test_parallel_adds_keep_every_row(start_cli, small_home, tmp_path):
    # Eight at once: without the lock, every such trial lost whole batches.
    batches = [tmp_path / f"batch{n}.csv" for n in range(8)]
    texts = [text for n, batch in enumerate(batches) for text in write_batch(batch, n, 1500)]
    processes = [start_cli("add", batch, home=small_home.root) for batch in batches]
    for code, stdout, stderr in map(finish, processes):
        assert code == 0, stderr
        assert "added 1500 row(s) (hro 1500)" in stdout
    added = pd.read_csv(small_home.added_examples, dtype=str, keep_default_na=False)
    assert len(added) == 12_000
    assert sorted(added["text"]) == sorted(texts)
    assert added["source"].value_counts().to_dict() == {b.name: 1500 for b in batches}


def test_parallel_labels_to_one_new_output_never_replace_each_other(
    start_cli, trained_home, tmp_path
):
    inputs = {
        tmp_path / "payroll.csv": [f"Payroll for {n} staff" for n in range(20_000)],
        tmp_path / "cleaning.csv": [f"Cleaning of {n} offices" for n in range(20_001)],
    }
    for path, texts in inputs.items():
        pd.DataFrame({"description": texts}).to_csv(path, index=False)
    output = tmp_path / "out.csv"
    processes = {
        path: start_cli("label", path, "-o", output, home=trained_home.root) for path in inputs
    }
    results = {path: finish(process) for path, process in processes.items()}
    assert sorted(code for code, _, _ in results.values()) == [0, 2]
    winner = next(path for path, (code, _, _) in results.items() if code == 0)
    _, loser_stdout, loser_stderr = next(r for r in results.values() if r[0] == 2)
    assert "wrote" not in loser_stdout
    assert loser_stderr.strip() == f"error: {output}: exists; use --force to replace it"
    written = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert written["description"].tolist() == inputs[winner]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cleaning.csv", "out.csv", "payroll.csv"]


HOLD_THE_LOCK = """
import sys
from outsourcing_classifier.config import load_paths
from outsourcing_classifier.outputs import project_lock

with project_lock(load_paths()):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_writer_that_cannot_get_the_lock_says_who_holds_it(start_cli, small_home, tmp_path):
    script = tmp_path / "hold_lock.py"
    script.write_text(HOLD_THE_LOCK, encoding="utf-8")
    batch = tmp_path / "batch.csv"
    write_batch(batch, 0, 3)
    holder = subprocess.Popen(
        [sys.executable, str(script), "--for", "a test"],
        env={**os.environ, "OUTSOURCING_HOME": str(small_home.root)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        code, stdout, stderr = finish(
            start_cli("add", batch, home=small_home.root, OUTSOURCING_LOCK_TIMEOUT="1")
        )
        assert code == 2
        assert len(stderr.splitlines()) == 1
        assert f"(pid {holder.pid}, 'hold_lock.py --for a test', since 20" in stderr
        assert not small_home.added_examples.exists()
    finally:
        holder.communicate("\n", timeout=60)
    code, stdout, stderr = finish(start_cli("add", batch, home=small_home.root))
    assert code == 0, stderr
    assert "added 3 row(s)" in stdout
