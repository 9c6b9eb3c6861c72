"""Writing files on real disks: never over an input or an existing file, the usual mode, no
temporary files left behind, not even by a writer that was killed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from outsourcing_classifier.outputs import TEMP_PREFIX, OutputError, same_file, write_bytes


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_new_file_gets_the_usual_mode_and_no_temporary_is_left(tmp_path, umask_027):
    path = tmp_path / "sub" / "out.json"
    write_bytes(path, b"{}")
    assert path.read_bytes() == b"{}"
    assert path.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    assert names(tmp_path / "sub") == ["out.json"]


def test_existing_file_is_replaced_only_with_force_and_keeps_its_mode(tmp_path):
    path = tmp_path / "out.json"
    path.write_bytes(b"keep me")
    path.chmod(0o600)
    with pytest.raises(OutputError, match=r"out\.json: exists; use --force to replace it"):
        write_bytes(path, b"new")
    assert path.read_bytes() == b"keep me"
    write_bytes(path, b"new", force=True)
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o600
    assert names(tmp_path) == ["out.json"]


@pytest.mark.parametrize(
    "alias",
    [
        lambda source: source,  # the input itself
        lambda source: source.parent / "sub" / ".." / source.name,  # a relative detour
        lambda source: (
            (source.parent / "link.csv").symlink_to(source) or source.parent / "link.csv"
        ),
        lambda source: os.link(source, source.parent / "hard.csv") or source.parent / "hard.csv",
    ],
)
def test_an_input_is_never_replaced_even_with_force(tmp_path, alias):
    source = tmp_path / "in.csv"
    source.write_bytes(b"a\n1\n")
    target = alias(source)
    with pytest.raises(OutputError, match=r"would overwrite the input .*in\.csv"):
        write_bytes(target, b"x", inputs=[source], force=True)
    assert source.read_bytes() == b"a\n1\n"


def test_temporaries_of_dead_writers_are_removed_by_the_next_write(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stale = tmp_path / f"{TEMP_PREFIX}{finished.stdout.strip()}.0a1b2c3d.out.csv"
    busy = tmp_path / f"{TEMP_PREFIX}{os.getpid()}.0a1b2c3d.other.csv"  # a live writer's
    stale.write_bytes(b"half a file")
    busy.write_bytes(b"being written")
    write_bytes(tmp_path / "out.csv", b"done")
    assert names(tmp_path) == sorted([busy.name, "out.csv"])


def test_same_file(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a\n", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(path)
    os.link(path, tmp_path / "hard.csv")
    assert same_file(path, tmp_path / "sub" / ".." / "link.csv")
    assert same_file(path, tmp_path / "." / "in.csv")
    assert same_file(path, tmp_path / "hard.csv")
    assert not same_file(path, tmp_path / "out.csv")
