"""One verified loader for every model source: a file planted in the MLflow artifact store, a
version registered without a digest, an unknown alias or version, a missing path and an edited
manifest are each refused in one line (exit 2) before any of the model's code runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest
import skops.io as sio
import yaml
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from outsourcing_classifier.config import REGISTERED_MODEL_NAME, Paths, load_paths

pytestmark = pytest.mark.slow
CHAMPION_URI = f"models:/{REGISTERED_MODEL_NAME}@champion"


@pytest.fixture
def home(trained_home, tmp_path) -> Paths:
    """A private copy of the trained small project."""
    shutil.copytree(trained_home.root, tmp_path / "home")
    return load_paths(tmp_path / "home")


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "marker"


@pytest.fixture
def rogue(marker) -> bytes:
    """A skops file whose pipeline runs a shell command that writes ``marker`` on any input."""
    pipeline = Pipeline(
        [
            (
                "normalise",
                FunctionTransformer(
                    np.full_like, kw_args={"fill_value": f"touch {marker}", "dtype": object}
                ),
            ),
            ("features", FunctionTransformer(subprocess.run, kw_args={"shell": True})),
            ("classify", DummyClassifier().fit([[0], [1]], ["hro", "bpo"])),
        ]
    )
    return sio.dumps(pipeline)


def registry(home: Paths) -> MlflowClient:
    """A client of the project's store for both tracking and registry (MLflow's default registry
    is whichever store the process last pointed it at)."""
    return MlflowClient(home.tracking_uri, home.tracking_uri)


def plant(home: Paths, data: bytes, tmp_path: Path) -> str:
    """What someone who can write the artifact store, but not the registry, can do: the files of
    a registered version (the champion's, copied, with the tags train gave it) have their model
    file replaced by ``data`` and their ``MLmodel`` told to trust its types. Returns the version,
    now the champion."""
    client = registry(home)
    original = client.get_model_version(REGISTERED_MODEL_NAME, "1")
    location = client.get_model_version_download_uri(REGISTERED_MODEL_NAME, "1")
    source = Path(url2pathname(urlparse(location).path))
    files = tmp_path / "artifact-store" / "model"
    shutil.copytree(source, files)
    (files / "model.skops").write_bytes(data)
    mlmodel = yaml.safe_load((files / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = sio.get_untrusted_types(data=data)
    (files / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    planted = client.create_model_version(
        REGISTERED_MODEL_NAME, source=files.as_uri(), run_id=original.run_id
    )
    for key, value in original.tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, planted.version, key, value)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, "champion", planted.version)
    return str(planted.version)


def versions(home: Paths) -> list[str]:
    found = registry(home).search_model_versions(f"name='{REGISTERED_MODEL_NAME}'")
    return sorted(str(v.version) for v in found)


def one_line_error(result) -> str:
    assert result.code == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def commands(version: str, tmp_path: Path) -> dict[str, list[str]]:
    """Every command that loads a model from MLflow, pointed at ``version``."""
    register = tmp_path / "register.csv"
    register.write_text("text\nPayroll for 400 staff\n", encoding="utf-8")
    return {
        "predict @champion": ["predict", "Payroll for 400 staff", "--model", CHAMPION_URI],
        "predict /version": [
            "predict", "Payroll", "--model", f"models:/{REGISTERED_MODEL_NAME}/{version}"
        ],
        "label": ["label", str(register), "--model", CHAMPION_URI],
        "retrain": ["retrain"],
        "promote": ["promote", version],
    }  # fmt: skip


COMMANDS = ["predict @champion", "predict /version", "label", "retrain", "promote"]


def test_the_planted_model_runs_its_command_when_trusted(rogue, marker):
    """What MLflow's own loader did with it: the refusals below are not vacuous."""
    pipeline = sio.loads(rogue, trusted=sio.get_untrusted_types(data=rogue))
    with pytest.raises(TypeError):
        pipeline.predict_proba(["Payroll for 400 staff"])
    assert marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_model_file_replaced_in_the_artifact_store_is_refused(
    run, home, tmp_path, rogue, marker, command
):
    version = plant(home, rogue, tmp_path)
    exported = home.champion_model.read_bytes()
    error = one_line_error(run(*commands(version, tmp_path)[command], home=home.root))
    assert f"SHA-256 does not match the digest registered for version {version}" in error
    assert not marker.exists()
    assert versions(home) == ["1", version]  # retrain refused before training a challenger
    assert home.champion_model.read_bytes() == exported  # promote left models/ alone


@pytest.mark.parametrize("command", COMMANDS)
def test_foreign_types_are_refused_even_when_the_registered_digest_matches(
    run, home, tmp_path, rogue, marker, command
):
    version = plant(home, rogue, tmp_path)
    registry(home).set_model_version_tag(
        REGISTERED_MODEL_NAME, version, "model_sha256", hashlib.sha256(rogue).hexdigest()
    )
    error = one_line_error(run(*commands(version, tmp_path)[command], home=home.root))
    assert (
        "holds types outside the allow-list: builtins.object, numpy.full_like, subprocess.run"
        in (error)
    )
    assert not marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_version_registered_without_a_digest_is_refused(run, home, tmp_path, command):
    version = plant(home, (home.champion_model).read_bytes(), tmp_path)
    registry(home).delete_model_version_tag(REGISTERED_MODEL_NAME, version, "model_sha256")
    error = one_line_error(run(*commands(version, tmp_path)[command], home=home.root))
    assert f"version {version} was registered without a SHA-256 of its model file" in error
    assert "train a new version" in error


def test_a_version_whose_model_file_is_gone_is_a_one_line_error(run, home, tmp_path):
    version = plant(home, home.champion_model.read_bytes(), tmp_path)
    (tmp_path / "artifact-store" / "model" / "model.skops").unlink()
    result = run("predict", "Payroll", "--model", CHAMPION_URI, home=home.root)
    assert one_line_error(result) == (
        f"error: {CHAMPION_URI} (version {version}): cannot fetch its model.skops from the "
        "artifact store\n"
    )


def test_the_registered_digest_is_that_of_the_exported_champion(home):
    tags = registry(home).get_model_version(REGISTERED_MODEL_NAME, "1").tags
    manifest = json.loads(home.champion_manifest.read_text())
    assert tags["model_sha256"] == manifest["sha256"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        # an alias nobody set
        (
            f"models:/{REGISTERED_MODEL_NAME}@nosuchalias",
            f"models:/{REGISTERED_MODEL_NAME}@nosuchalias: no registered version has this alias",
        ),
        # a version never registered
        (
            f"models:/{REGISTERED_MODEL_NAME}/99",
            f"models:/{REGISTERED_MODEL_NAME}/99: no such registered version",
        ),
        # neither an alias nor a version
        (
            f"models:/{REGISTERED_MODEL_NAME}",
            f"models:/{REGISTERED_MODEL_NAME}: expected models:/NAME@ALIAS or models:/NAME/VERSION",
        ),
        # a path that does not exist is named as given
        (
            "/nonexistent",
            "/nonexistent: no model file (no such file or folder; "
            "train one with 'outsourcing train')",
        ),
    ],
)
def test_a_model_that_is_not_there_is_a_one_line_error(run, trained_home, model, message):
    result = run("predict", "Payroll", "--model", model, home=trained_home.root)
    assert one_line_error(result) == f"error: {message}\n"


def test_a_manifest_whose_labels_were_renamed_is_refused(run, home):
    manifest = json.loads(home.champion_manifest.read_text())
    manifest["labels"] = ["payroll" if label == "hro" else label for label in manifest["labels"]]
    home.champion_manifest.write_text(json.dumps(manifest))
    error = one_line_error(run("predict", "Payroll", home=home.root))
    assert "manifest.json: its labels differ from the model's classes" in error


def test_a_threshold_written_into_the_manifest_changes_nothing(run, home):
    texts = ["Payroll", "Data entry", "Coding", "Research", "Screen applicants", "Transcription"]
    result = run("predict", *texts, "--json", home=home.root)
    before = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(0.5 <= p["confidence"] < 0.99 for p in before)  # 0.99 would mark these for review
    manifest = json.loads(home.champion_manifest.read_text())
    manifest["review_threshold"] = 0.99
    home.champion_manifest.write_text(json.dumps(manifest))
    result = run("predict", *texts, "--json", home=home.root)
    assert [json.loads(line) for line in result.stdout.splitlines()] == before
