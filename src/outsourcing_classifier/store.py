"""The exported champion in ``models/``: a skops file plus a manifest, verified on every load.

Models are never unpickled: skops rebuilds only the types on :data:`ALLOWED_TYPES`, and only
after the file's SHA-256 matches its manifest.
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


def export_model(pipeline: Pipeline, folder: Path, details: dict) -> Path:
    """Write ``pipeline`` and its manifest into ``folder``; return the model file's path.

    ``details`` (labels, corpus digest, metrics, MLflow version, ...) goes into the manifest.
    """
    data = sio.dumps(pipeline)
    untrusted = set(sio.get_untrusted_types(data=data))
    if not untrusted <= ALLOWED_TYPES:
        raise ModelFileError(
            f"pipeline holds types outside the allow-list: {untrusted - ALLOWED_TYPES}"
        )
    model_path = folder / MODEL_FILE
    manifest = {
        "format": MANIFEST_FORMAT,
        "model_file": MODEL_FILE,
        "sha256": hashlib.sha256(data).hexdigest(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **details,
    }
    # Model first, manifest last: a crash in between leaves a hash mismatch, never a silent swap.
    write_bytes(model_path, data, force=True)
    write_bytes(folder / MANIFEST_FILE, json.dumps(manifest, indent=2).encode("utf-8"), force=True)
    load_model(folder)  # verify what was written
    return model_path


def load_model(location: Path) -> LoadedModel:
    """Load a model folder (or its ``.skops`` file) after checking hash and types."""
    location = Path(location)
    if location.suffix.lower() in REFUSED_SUFFIXES:
        raise ModelFileError(
            f"{location}: pickle/joblib model files are never loaded; use a .skops export"
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
    if sha256_file(model_path) != manifest["sha256"]:
        raise ModelFileError(
            f"{model_path}: SHA-256 does not match {manifest_path.name}; the file was changed "
            "or replaced, refusing to load it"
        )
    try:
        untrusted = set(sio.get_untrusted_types(file=model_path))
    except Exception as error:
        raise ModelFileError(f"{model_path}: not a skops model file ({error})") from error
    if not untrusted <= ALLOWED_TYPES:
        foreign = ", ".join(sorted(untrusted - ALLOWED_TYPES))
        raise ModelFileError(f"{model_path}: holds types outside the allow-list: {foreign}")
    pipeline = sio.load(model_path, trusted=sorted(untrusted))
    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{model_path}: not a scikit-learn pipeline")
    return LoadedModel(pipeline=pipeline, manifest=manifest, path=model_path)
