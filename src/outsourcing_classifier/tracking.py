"""MLflow: the only module that imports it. Runs, metrics, plots, data digest, registry, aliases."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
import skops.io as sio
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from outsourcing_classifier.config import (
    CHAMPION_ALIAS,
    EXPERIMENT_NAME,
    REGISTERED_MODEL_NAME,
    ModelConfig,
    Paths,
)
from outsourcing_classifier.evaluate import (
    calibration_figure,
    classification_report_text,
    confusion_figure,
    top_terms,
)
from outsourcing_classifier.store import (
    ModelArtifact,
    ModelFileError,
    library_versions,
    load_verified,
)
from outsourcing_classifier.train import TrainResult

# The file MLflow's sklearn flavour writes a skops model to, and the registry tag holding its
# SHA-256: the registry, not the artifact store, says what a version's model file must be.
REGISTERED_FILE = "model.skops"
DIGEST_TAG = "model_sha256"
MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))")


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    version: str


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created: str
    run_id: str
    corpus_digest: str
    test_macro_f1: float | None
    aliases: tuple[str, ...]
    classifier: tuple[str, float] | None  # kind and regularisation its training run chose


def connect(paths: Paths) -> MlflowClient:
    """Point MLflow at the configured store and make sure the experiment exists."""
    # MLflow's schema set-up lines, pip-version warning and download bars are noise to users.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow exports the URI it is given to the environment; undo that, so the user's own
    # MLFLOW_TRACKING_URI (or its absence) keeps deciding, also for a later project in-process.
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(paths.tracking_uri)
    mlflow.set_registry_uri(paths.tracking_uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    client = MlflowClient(paths.tracking_uri, paths.tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT_NAME) is None:
        embedded = paths.tracking_uri.startswith("sqlite:///")
        client.create_experiment(
            EXPERIMENT_NAME,
            artifact_location=paths.mlflow_artifacts.as_uri() if embedded else None,
        )
    mlflow.set_experiment(EXPERIMENT_NAME)
    return client


def git_commit(root: Path) -> str:
    """The project's current commit, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _config_params(config: ModelConfig) -> dict[str, str]:
    flat = {}
    for key, value in asdict(config).items():
        if isinstance(value, dict):
            flat |= {f"{key}.{k}": str(v) for k, v in value.items()}
        else:
            flat[key] = str(value)
    return flat


def log_training(
    result: TrainResult,
    corpus: pd.DataFrame,
    corpus_digest: str,
    config: ModelConfig,
    paths: Paths,
    run_name: str = "train",
    tags: dict[str, str] | None = None,
) -> TrainingRun:
    """Record one training run with its CV candidates as nested runs; register the model."""
    client = connect(paths)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(
            {
                "corpus_digest": corpus_digest,
                "git_commit": git_commit(paths.root),
                **{f"version.{k}": v for k, v in library_versions().items()},
                **(tags or {}),
            }
        )
        mlflow.log_params(
            _config_params(config)
            | {
                "classifier": result.kind,
                "regularisation": result.strength,
                "train_rows": result.train_rows,
                "test_rows": len(result.test_keys),
                "corpus_rows": len(corpus),
            }
        )
        for candidate in result.candidates:
            with mlflow.start_run(
                run_name=f"cv-{candidate.kind}-{candidate.strength:g}", nested=True
            ):
                mlflow.log_params(
                    {"classifier": candidate.kind, "regularisation": candidate.strength}
                )
                mlflow.log_metrics(
                    {
                        "cv_macro_f1_mean": candidate.cv_macro_f1_mean,
                        "cv_macro_f1_std": candidate.cv_macro_f1_std,
                    }
                )
        mlflow.log_metrics(result.test.flat("test_"))
        if result.framed is not None:
            mlflow.log_metrics(result.framed.flat())
            mlflow.log_dict(asdict(result.framed), "framed_metrics.json")
        for name, metrics in result.baselines.items():
            mlflow.log_metrics(
                {
                    f"baseline_{name}_macro_f1": metrics.macro_f1,
                    f"baseline_{name}_accuracy": metrics.accuracy,
                }
            )
        dataset = mlflow.data.from_pandas(
            corpus[["text", "label", "register", "split"]],
            name="outsourcing-corpus",
            targets="label",
            digest=corpus_digest[:32],
        )
        mlflow.log_input(dataset, context="training")
        _log_artifacts(result)
        version = _log_model(client, result.pipeline, corpus)
        client.set_model_version_tag(REGISTERED_MODEL_NAME, version, "corpus_digest", corpus_digest)
        client.set_model_version_tag(
            REGISTERED_MODEL_NAME, version, "test_macro_f1", repr(float(result.test.macro_f1))
        )
    return TrainingRun(run_id=run.info.run_id, version=version)


def _log_artifacts(result: TrainResult) -> None:
    predictions = result.test_predictions
    mlflow.log_figure(confusion_figure(result.test), "plots/confusion_matrix.png")
    mlflow.log_figure(
        calibration_figure(predictions["label"], result.test_proba, result.pipeline.classes_),
        "plots/calibration.png",
    )
    mlflow.log_text(classification_report_text(result.test), "classification_report.txt")
    mlflow.log_dict(top_terms(result.pipeline), "top_terms.json")
    mlflow.log_dict(
        {name: metrics.to_dict() for name, metrics in result.baselines.items()}, "baselines.json"
    )
    mlflow.log_dict(result.test.to_dict(), "test_metrics.json")
    mlflow.log_dict({"test_keys": list(result.test_keys)}, "test_keys.json")
    wrong = predictions[predictions["label"] != predictions["predicted"]]
    mlflow.log_text(
        wrong.sort_values("confidence", ascending=False).to_csv(index=False),
        "misclassified_test_rows.csv",
    )


def _log_model(client: MlflowClient, pipeline: Pipeline, corpus: pd.DataFrame) -> str:
    """Log the pipeline as the run's model, register it as a new version, and tag the version
    with the SHA-256 of its model file as stored, which every later load must match.

    Registered through the client: the fluent ``registered_model_name`` prints to stderr.
    """
    example = pd.DataFrame({"text": corpus["text"].head(3).tolist()})
    # object-dtype header: MLflow compares it with a range, which pandas 3 string indexes deprecate
    example.columns = pd.Index(["text"], dtype=object)
    versions = library_versions()
    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        serialization_format="skops",
        skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(pipeline)),
        signature=infer_signature(example, pipeline.predict(example["text"].tolist())),
        input_example=example,
        pip_requirements=[
            f"{name}=={versions[name]}"
            for name in ("scikit-learn", "spacy", "spacy-lookups-data", "skops")
            if name in versions
        ],
    )
    try:
        client.get_registered_model(REGISTERED_MODEL_NAME)
    except MlflowException:
        client.create_registered_model(REGISTERED_MODEL_NAME)
    registered = client.create_model_version(
        REGISTERED_MODEL_NAME, source=info.model_uri, run_id=info.run_id, model_id=info.model_id
    )
    version = str(registered.version)
    data = _registered_file(client, REGISTERED_MODEL_NAME, version)
    client.set_model_version_tag(
        REGISTERED_MODEL_NAME, version, DIGEST_TAG, hashlib.sha256(data).hexdigest()
    )
    return version


def _registered_file(client: MlflowClient, name: str, version: str) -> bytes:
    """The bytes of a registered version's model file, fetched from the artifact store."""
    location = client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location.rstrip('/')}/{REGISTERED_FILE}", dst_path=folder
        )
        return Path(local).read_bytes()


def run_json(paths: Paths, run_id: str, artifact: str) -> dict:
    """A JSON artifact of a run."""
    client = connect(paths)
    with tempfile.TemporaryDirectory() as folder:
        local = client.download_artifacts(run_id, artifact, folder)
        return json.loads(Path(local).read_text(encoding="utf-8"))


def log_comparison(paths: Paths, run_id: str, comparison: dict, changed: pd.DataFrame) -> None:
    """Attach the champion/challenger comparison to the challenger's run."""
    client = connect(paths)
    client.log_dict(run_id, comparison, "comparison.json")
    client.log_text(run_id, changed.to_csv(index=False), "changed_test_predictions.csv")
    client.set_tag(run_id, "gate_decision", comparison.get("decision", ""))


def version_info(paths: Paths, version: str) -> VersionInfo:
    client = connect(paths)
    found = client.get_model_version(REGISTERED_MODEL_NAME, str(version))
    f1 = found.tags.get("test_macro_f1")
    params = client.get_run(found.run_id).data.params
    kind, strength = params.get("classifier"), params.get("regularisation")
    return VersionInfo(
        version=str(found.version),
        created=datetime.fromtimestamp(found.creation_timestamp / 1000, UTC).isoformat(
            timespec="seconds"
        ),
        run_id=found.run_id,
        corpus_digest=found.tags.get("corpus_digest", ""),
        test_macro_f1=float(f1) if f1 else None,
        aliases=tuple(found.aliases),
        classifier=(kind, float(strength)) if kind and strength else None,
    )


def list_versions(paths: Paths) -> list[VersionInfo]:
    """Every registered version, newest first."""
    client = connect(paths)
    try:
        found = client.search_model_versions(f"name='{REGISTERED_MODEL_NAME}'")
    except MlflowException:
        return []
    numbers = sorted((int(v.version) for v in found), reverse=True)
    return [version_info(paths, str(number)) for number in numbers]


def alias_version(paths: Paths, alias: str = CHAMPION_ALIAS) -> str | None:
    """The version an alias points at, or ``None``."""
    client = connect(paths)
    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(paths: Paths, alias: str, version: str) -> None:
    connect(paths).set_registered_model_alias(REGISTERED_MODEL_NAME, alias, str(version))


def version_uri(version: str) -> str:
    return f"models:/{REGISTERED_MODEL_NAME}/{version}"


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` as (name, alias, version)."""
    match = MODEL_URI.fullmatch(uri)
    if match is None:
        raise ModelFileError(f"{uri}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    return match["name"], match["alias"], match["version"]


def fetch_model(paths: Paths, uri: str) -> ModelArtifact:
    """A registered version's model file with the SHA-256 that ``train`` recorded for it.

    Only the registry is believed: the artifact's own ``MLmodel`` (its loader and the types it
    says to trust) is never read.
    """
    name, alias, version = parse_model_uri(uri)
    client = connect(paths)
    try:
        if alias:
            found = client.get_model_version_by_alias(name, alias)
        else:
            found = client.get_model_version(name, version)
    except MlflowException as error:  # the store answered connect(): the version is not there
        reason = "no registered version has this alias" if alias else "no such registered version"
        raise ModelFileError(f"{uri}: {reason}") from error
    number = str(found.version)
    source = uri if version else f"{uri} (version {number})"
    digest = found.tags.get(DIGEST_TAG)
    if not digest:
        raise ModelFileError(
            f"{source}: version {number} was registered without a SHA-256 of its model file, so "
            "it cannot be verified; train a new version ('outsourcing train') and promote it"
        )
    try:
        data = _registered_file(client, name, number)
    except (MlflowException, OSError) as error:
        raise ModelFileError(
            f"{source}: cannot fetch its {REGISTERED_FILE} from the artifact store"
        ) from error
    return ModelArtifact(data, digest, source, f"the digest registered for version {number}")


def load_registered(paths: Paths, uri: str) -> Pipeline:
    """A registered version's pipeline, through the one verified loader."""
    return load_verified(fetch_model(paths, uri))
