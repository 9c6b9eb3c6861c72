"""A labelling run that is stopped (SIGTERM) or killed (SIGKILL) leaves no worker processes
behind to hang the script that started it, and no temporary file for long."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from outsourcing_classifier.outputs import TEMP_PREFIX

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


def wait_until(condition, what: str) -> None:
    """Poll `condition` until it holds; after five minutes the test fails naming `what`."""
    deadline = time.monotonic() + 300
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


@pytest.fixture
def register(tmp_path) -> Path:
    """200,000 rows: enough chunks for two workers and a run of many seconds."""
    path = tmp_path / "register.csv"
    texts = ["Payroll for staff", "ICD-10 coding for a clinic", "Cleaning of offices"]
    pd.DataFrame({"description": [f"{texts[n % 3]} {n}" for n in range(200_000)]}).to_csv(
        path, index=False
    )
    return path


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL])
def test_stopped_label_run_leaves_no_workers_and_no_temporary_file(
    start_cli, trained_home, register, tmp_path, signal_number
):
    out = tmp_path / "out"
    process = start_cli("label", register, "-o", out / "labelled.csv", home=trained_home.root)
    workers: list[int] = []
    try:
        wait_until(
            lambda: len(children(process.pid)) == 2 and any(out.glob(f"{TEMP_PREFIX}*")),
            "two workers and a temporary file",
        )
        workers = children(process.pid)
        process.send_signal(signal_number)
        process.communicate(timeout=300)  # a worker holding the pipes open would hang this
        wait_until(lambda: not any(map(running, workers)), "the workers end")
    finally:
        for pid in filter(running, workers):  # only if the test failed
            os.kill(pid, signal.SIGKILL)
    leftovers = sorted(p.name for p in out.iterdir())
    if signal_number == signal.SIGTERM:
        assert process.returncode == 130
        assert leftovers == []
        return
    assert process.returncode == -signal.SIGKILL
    assert len(leftovers) == 1 and leftovers[0].startswith(f"{TEMP_PREFIX}{process.pid}.")
    small = tmp_path / "small.csv"
    small.write_text("description\nPayroll for 300 staff\n", encoding="utf-8")
    again = start_cli("label", small, "-o", out / "small.labeled.csv", home=trained_home.root)
    again.communicate(timeout=300)
    assert again.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["small.labeled.csv"]  # the next run cleaned
