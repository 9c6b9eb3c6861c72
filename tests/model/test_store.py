"""The champion export: skops + manifest, verified on load; tampered or foreign files refused."""

from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import skops.io as sio

from outsourcing_classifier.store import (
    MANIFEST_FILE,
    MODEL_FILE,
    ModelArtifact,
    ModelFileError,
    export_model,
    load_model,
    load_verified,
    sha256_file,
)

pytestmark = pytest.mark.slow
PROBE = ["ICD-10 coding for a clinic", "Raise purchase orders", "Screen candidates"]


def artifact(data: bytes, sha256: str | None = None) -> ModelArtifact:
    return ModelArtifact(data, sha256 or hashlib.sha256(data).hexdigest(), "made here", "its maker")


@pytest.fixture(scope="module")
def model_bytes(trained) -> bytes:
    return sio.dumps(trained.pipeline)


@pytest.fixture
def exported(model_bytes, tmp_path):
    export_model(artifact(model_bytes), tmp_path, {"corpus_digest": "d" * 64})
    return tmp_path


def test_round_trip_predicts_the_same(trained, exported, model_bytes):
    loaded = load_model(exported)
    assert loaded.pipeline.predict(PROBE).tolist() == trained.pipeline.predict(PROBE).tolist()
    assert (exported / MODEL_FILE).read_bytes() == model_bytes  # the verified file, unchanged
    assert loaded.manifest["sha256"] == sha256_file(exported / MODEL_FILE)
    assert loaded.manifest["labels"] == trained.pipeline.classes_.tolist()
    assert loaded.manifest["corpus_digest"] == "d" * 64
    assert {"scikit-learn", "spacy", "skops", "python"} <= set(loaded.manifest["libraries"])


def test_loading_the_skops_file_directly_works(exported):
    assert load_model(exported / MODEL_FILE).path == exported / MODEL_FILE


def test_tampered_file_is_refused(exported):
    path = exported / MODEL_FILE
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="SHA-256 does not match"):
        load_model(exported)


def test_a_file_not_matching_its_recorded_digest_is_refused(model_bytes):
    with pytest.raises(ModelFileError, match="made here: SHA-256 does not match its maker"):
        load_verified(artifact(model_bytes, "0" * 64))


def test_export_refuses_foreign_types_before_writing(tmp_path):
    rogue = sio.dumps({"fn": len})
    with pytest.raises(ModelFileError, match="made here: holds types outside the allow-list"):
        export_model(artifact(rogue), tmp_path / "models", {})
    assert not (tmp_path / "models").exists()


def test_foreign_types_are_refused_even_with_a_matching_hash(exported):
    # a valid skops file that is not our pipeline and holds a function reference
    rogue = sio.dumps({"fn": len})
    (exported / MODEL_FILE).write_bytes(rogue)
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    manifest["sha256"] = sha256_file(exported / MODEL_FILE)
    (exported / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match=r"allow-list|not a scikit-learn pipeline"):
        load_model(exported)


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model.pickle"])
def test_pickle_files_are_never_loaded(tmp_path, trained, name):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(trained.pipeline))
    with pytest.raises(ModelFileError, match="never loaded"):
        load_model(path)


def test_missing_manifest_is_refused(exported):
    (exported / MANIFEST_FILE).unlink()
    with pytest.raises(ModelFileError, match="no manifest"):
        load_model(exported)


def test_missing_model_names_the_path(tmp_path):
    with pytest.raises(ModelFileError, match=str(tmp_path / MODEL_FILE)):
        load_model(tmp_path)


def test_a_path_that_does_not_exist_is_named_as_given(tmp_path):
    with pytest.raises(
        ModelFileError, match=f"^{tmp_path / 'nothing'}: no model file \\(no such file"
    ):
        load_model(tmp_path / "nothing")


def test_manifest_labels_must_be_the_model_classes(exported):
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    manifest["labels"] = list(reversed(manifest["labels"]))
    (exported / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="its labels differ from the model's classes"):
        load_model(exported)
