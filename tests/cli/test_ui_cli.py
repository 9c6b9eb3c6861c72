"""`outsourcing ui`: the real MLflow server, started by the real CLI, serves the project store."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from outsourcing_classifier.config import Paths

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60  # the server's workers shut down gracefully; slow on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, deadline: float, server: subprocess.Popen) -> dict:
    """GET ``url`` until the server answers, failing if it exits or the deadline passes."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None:
                pytest.fail(f"the UI server exited with code {server.returncode}")
            if time.monotonic() > deadline:
                pytest.fail(f"no answer from {url} within {START_TIMEOUT_S} s")
            time.sleep(0.5)


def group_alive(group: int) -> bool:
    """Whether the session ``group`` still has a process after waiting up to ``STOP_TIMEOUT_S``."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.2)
    return True


def test_ui_serves_the_project_store_on_loopback(trained_home: Paths, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(trained_home.root, home)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["OUTSOURCING_HOME"] = str(home)
    command = [str(Path(sys.executable).with_name("outsourcing")), "ui", "--port", str(port)]
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as server:
        try:
            base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
            deadline = time.monotonic() + START_TIMEOUT_S
            alias = get_json(
                f"{base}/registered-models/alias?name=outsourcing-classifier&alias=champion",
                deadline,
                server,
            )
            experiment = get_json(
                f"{base}/experiments/get-by-name?experiment_name=outsourcing-classifier",
                deadline,
                server,
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=STOP_TIMEOUT_S)
            leftovers = group_alive(server.pid)
            if leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
            banner = server.communicate(timeout=STOP_TIMEOUT_S)[0].decode()
    assert not leftovers, "a server process outlived SIGTERM sent to `outsourcing ui`"
    assert alias["model_version"]["version"] == "1"
    assert alias["model_version"]["aliases"] == ["champion"]
    assert experiment["experiment"]["name"] == "outsourcing-classifier"
    assert banner.startswith(f"MLflow UI on http://127.0.0.1:{port} (store: sqlite:///{home}")
