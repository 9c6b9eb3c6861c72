"""The verified model loader, and the exported champion in ``models/`` (skops file + manifest).

Models are never unpickled: every source (``models/``, the MLflow registry) goes through
:func:`load_verified`, which rebuilds only the types on :data:`ALLOWED_TYPES`, and only after
the file's SHA-256 matches the one recorded for it (by the manifest, or by the registry).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import skops.io as sio
from sklearn.pipeline import Pipeline

from outsourcing_classifier.config import MANIFEST_FILE, MODEL_FILE, UserFacingError
from outsourcing_classifier.outputs import write_bytes

MANIFEST_FORMAT = 1
REFUSED_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".dill")
# Every type our pipeline holds that skops does not trust by default.
ALLOWED_TYPES = frozenset(
    {
        "outsourcing_classifier.preprocess.SpacyNormalizer",
        "outsourcing_classifier.reader.SentenceReader",
        "outsourcing_classifier.model.CompactTfidfVectorizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.calibration._TemperatureScaling",
        "sklearn.model_selection._split.StratifiedKFold",
    }
)
LIBRARIES = ("scikit-learn", "spacy", "spacy-lookups-data", "skops", "numpy", "scipy", "mlflow")


class ModelFileError(UserFacingError):
    """A model file is missing, foreign, tampered with, or of a refused format."""


@dataclass(frozen=True)
class ModelArtifact:
    """A model file's bytes and the SHA-256 recorded for them when they were made."""

    data: bytes
    sha256: str
    source: str  # what the user named: a path, or a models:/ URI and its version
    recorded_in: str  # where the SHA-256 was recorded, for the mismatch message


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Pipeline
    manifest: dict
    path: Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except Exception:
            continue
    return versions


def allowed_types(data: bytes, source: str) -> list[str]:
    """The types of a skops file that skops does not trust itself; refused unless allow-listed."""
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as error:
        raise ModelFileError(f"{source}: not a skops model file ({error})") from error
    if not untrusted <= ALLOWED_TYPES:
        foreign = ", ".join(sorted(untrusted - ALLOWED_TYPES))
        raise ModelFileError(f"{source}: holds types outside the allow-list: {foreign}")
    return sorted(untrusted)


def load_verified(artifact: ModelArtifact) -> Pipeline:
    """The one loader of every model source: hash, then allow-listed types, then load.

    Hash and load read the same bytes, so the file cannot change between the two.
    """
    if hashlib.sha256(artifact.data).hexdigest() != artifact.sha256:
        raise ModelFileError(
            f"{artifact.source}: SHA-256 does not match {artifact.recorded_in}; the file was "
            "changed or replaced, refusing to load it"
        )
    pipeline = sio.loads(artifact.data, trusted=allowed_types(artifact.data, artifact.source))
    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{artifact.source}: not a scikit-learn pipeline")
    return pipeline


def model_labels(pipeline: Pipeline) -> list[str]:
    return [str(c) for c in pipeline.classes_]


def export_model(artifact: ModelArtifact, folder: Path, details: dict) -> Path:
    """Verify ``artifact`` and write it unchanged into ``folder`` with its manifest.

    The manifest records the file's SHA-256 and the model's labels; ``details`` (corpus digest,
    metrics, MLflow version, ...) is a record for people. Returns the model file's path.
    """
    pipeline = load_verified(artifact)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / MODEL_FILE
    manifest = {
        "format": MANIFEST_FORMAT,
        "model_file": MODEL_FILE,
        "sha256": artifact.sha256,
        "labels": model_labels(pipeline),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **details,
    }
    # Model first, manifest last: a crash in between leaves a hash mismatch, never a silent swap.
    write_bytes(model_path, artifact.data, force=True)
    write_bytes(folder / MANIFEST_FILE, json.dumps(manifest, indent=2).encode("utf-8"), force=True)
    if sha256_file(model_path) != artifact.sha256:
        raise ModelFileError(f"{model_path}: the written file differs from the verified one")
    return model_path


def load_model(location: Path) -> LoadedModel:
    """Load a model folder (or its ``.skops`` file) through :func:`load_verified`, against the
    SHA-256 of its manifest; the manifest's labels must be the model's classes."""
    location = Path(location)
    if location.suffix.lower() in REFUSED_SUFFIXES:
        raise ModelFileError(
            f"{location}: pickle/joblib model files are never loaded; use a .skops export"
        )
    if not location.exists():
        raise ModelFileError(
            f"{location}: no model file (no such file or folder; "
            "train one with 'outsourcing train')"
        )
    folder = location if location.is_dir() else location.parent
    model_path = location if location.is_file() else folder / MODEL_FILE
    manifest_path = folder / MANIFEST_FILE
    if not model_path.is_file():
        raise ModelFileError(f"{model_path}: no model file (train one with 'outsourcing train')")
    if not manifest_path.is_file():
        raise ModelFileError(f"{manifest_path}: no manifest beside the model; refusing to load it")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{manifest_path}: unreadable manifest: {error}") from error
    if manifest.get("format") != MANIFEST_FORMAT or "sha256" not in manifest:
        raise ModelFileError(f"{manifest_path}: not a manifest of this tool")
    pipeline = load_verified(
        ModelArtifact(
            model_path.read_bytes(), manifest["sha256"], str(model_path), manifest_path.name
        )
    )
    if manifest.get("labels") != model_labels(pipeline):
        raise ModelFileError(
            f"{manifest_path}: its labels differ from the model's classes "
            f"({', '.join(model_labels(pipeline))}); the manifest was edited, refusing to load it"
        )
    return LoadedModel(pipeline=pipeline, manifest=manifest, path=model_path)
