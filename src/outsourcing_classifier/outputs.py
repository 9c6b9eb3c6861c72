"""Every file the tool writes, and the project lock that makes its own state one writer at a time.

The rules live here, once. A file is written under a temporary name beside its target, then
published: never over one of the command's inputs, never over an existing file unless the caller
says so (``--force``), with the usual mode (``0o666`` less the umask; a replaced file keeps its
own). Temporary names carry the writer's pid, so a later run removes what a killed one left.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from outsourcing_classifier.config import Paths, UserFacingError

TEMP_PREFIX = ".outsourcing-tmp."  # then the writer's pid, a random token and the target's name
_LOCKS_HELD: set[Path] = set()  # lock files this process holds, so that nested holds pass


class OutputError(UserFacingError):
    """An output would replace an input or an existing file, or another command holds the lock."""


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name the same file (through links and relative paths too)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def check_output(path: Path, inputs: Iterable[Path] = (), force: bool = False) -> None:
    """Refuse `path` if it is one of `inputs` (even with `force`) or, without `force`, exists."""
    for source in inputs:
        if same_file(source, path):
            raise OutputError(f"{path}: would overwrite the input {source}; choose another output")
    if not force and (path.exists() or path.is_symlink()):
        raise OutputError(f"{path}: exists; use --force to replace it")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporary files of writers that are no longer running (killed mid-write)."""
    for path in folder.glob(f"{TEMP_PREFIX}*"):
        pid = path.name.removeprefix(TEMP_PREFIX).partition(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def create_temporary(path: Path) -> Path:
    """A new empty file beside `path`, named for this process; the folder is made if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    name = f"{TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(4)}.{path.name[:64]}"
    temporary = path.with_name(name)
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return temporary


def publish(temporary: Path, path: Path, inputs: Iterable[Path] = (), force: bool = False) -> None:
    """Give the finished `temporary` the name `path`, under the rules of :func:`check_output`.

    Without `force` the name is taken with a hard link, which fails if the target appeared in
    the meantime (another command writing the same output), so nothing is replaced silently.
    """
    check_output(path, inputs, force)
    if force and path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    temporary.chmod(mode)
    if force:
        temporary.replace(path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError as error:
        raise OutputError(f"{path}: exists; use --force to replace it") from error
    temporary.unlink()


def write_bytes(path: Path, data: bytes, inputs: Iterable[Path] = (), force: bool = False) -> None:
    """Write `data` to `path` through a temporary file (see :func:`publish`)."""
    inputs = list(inputs)
    try:
        check_output(path, inputs, force)
        temporary = create_temporary(path)
        try:
            temporary.write_bytes(data)
            publish(temporary, path, inputs, force)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror or error}") from error


def _holder(lock: Path) -> str:
    try:
        held = json.loads(lock.read_text(encoding="utf-8"))
        return f"pid {held['pid']}, {held['command']!r}, since {held['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a command that did not say who it is"


@contextmanager
def project_lock(paths: Paths) -> Iterator[None]:
    """Hold the project lock while changing the corpus, the registry or ``models/``.

    Another writer waits up to ``paths.lock_timeout`` seconds, then stops naming the holder. The
    lock is an ``flock`` on ``paths.lock``, so the system releases it if its holder is killed.
    """
    lock = paths.lock
    if lock in _LOCKS_HELD:
        yield
        return
    timeout = paths.lock_timeout
    handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OutputError(
                        f"{lock}: another command holds the project lock ({_holder(lock)}); "
                        f"gave up after {timeout:g} s"
                    ) from None
                time.sleep(0.1)
        holder = {
            "pid": os.getpid(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(holder).encode("utf-8"), 0)
        _LOCKS_HELD.add(lock)
        try:
            yield
        finally:
            _LOCKS_HELD.discard(lock)
    finally:
        os.close(handle)  # releases the lock
