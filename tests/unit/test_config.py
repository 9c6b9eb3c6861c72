"""Every path comes from one root; the tracking store from MLFLOW_TRACKING_URI or the project."""

from __future__ import annotations

import pytest

from outsourcing_classifier.config import PROJECT_ROOT, UserFacingError, load_paths


def test_root_is_the_project_without_outsourcing_home(monkeypatch):
    monkeypatch.delenv("OUTSOURCING_HOME", raising=False)
    assert load_paths().root == PROJECT_ROOT
    assert (PROJECT_ROOT / "pyproject.toml").is_file()


def test_outsourcing_home_moves_every_path(monkeypatch, tmp_path):
    monkeypatch.setenv("OUTSOURCING_HOME", str(tmp_path))
    paths = load_paths()
    for path in (
        paths.taxonomy, paths.behaviour, paths.corpus, paths.added_examples, paths.incoming,
        paths.models, paths.champion_model, paths.champion_manifest, paths.mlflow_db,
        paths.mlflow_artifacts, paths.lock,
    ):  # fmt: skip
        assert path.is_relative_to(tmp_path), path
    assert paths.real_dev == tmp_path.parent / "shared" / "real_dev" / "onet_dev.csv"


def test_tracking_uri_defaults_to_the_project_sqlite_store(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert load_paths(tmp_path).tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_tracking_uri_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert load_paths(tmp_path).tracking_uri == "http://127.0.0.1:5000"


def test_loading_paths_touches_no_disk(tmp_path):
    load_paths(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_lock_timeout_follows_the_environment(monkeypatch, tmp_path):
    paths = load_paths(tmp_path)
    monkeypatch.delenv("OUTSOURCING_LOCK_TIMEOUT", raising=False)
    assert paths.lock_timeout == 120
    monkeypatch.setenv("OUTSOURCING_LOCK_TIMEOUT", "2.5")
    assert paths.lock_timeout == 2.5
    monkeypatch.setenv("OUTSOURCING_LOCK_TIMEOUT", "soon")
    with pytest.raises(UserFacingError, match="'soon': expected a number of seconds"):
        _ = paths.lock_timeout
