"""Training runs land in a real, temporary MLflow store and can be read back."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from outsourcing_classifier import retrain, tracking
from outsourcing_classifier.config import REGISTERED_MODEL_NAME, ModelConfig, load_paths
from outsourcing_classifier.corpus import corpus_digest
from outsourcing_classifier.store import ModelFileError, load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, trained, corpus):
    paths = load_paths(tmp_path_factory.mktemp("home"))
    digest = corpus_digest(corpus)
    run = tracking.log_training(trained, corpus, digest, ModelConfig(), paths)
    retrain.promote(paths, run.version)
    return paths, run, digest


def test_the_store_is_the_embedded_sqlite_file(recorded):
    paths, _, _ = recorded
    assert paths.tracking_uri == f"sqlite:///{paths.root / 'mlflow.db'}"
    assert (paths.root / "mlflow.db").is_file()
    assert not (paths.root / "mlruns").exists()


def test_run_has_params_metrics_tags_and_nested_cv_runs(recorded, trained):
    paths, run, digest = recorded
    client = MlflowClient(paths.tracking_uri)
    data = client.get_run(run.run_id).data
    assert data.params["classifier"] == trained.kind
    assert data.metrics["test_macro_f1"] == pytest.approx(trained.test.macro_f1)
    assert data.metrics["test_ece"] == pytest.approx(trained.test.ece)
    assert data.metrics["framed_flip_rate"] == pytest.approx(trained.framed.flip_rate)
    assert data.metrics["framed_flip_rate_job_advert"] == pytest.approx(
        trained.framed.per_register["job_advert"]["flip_rate"]
    )
    assert data.metrics["framed_macro_f1"] == pytest.approx(trained.framed.macro_f1)
    assert "baseline_complement_nb_macro_f1" in data.metrics
    assert data.tags["corpus_digest"] == digest
    assert data.tags["version.scikit-learn"]
    children = client.search_runs(
        [client.get_run(run.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.run_id}'",
    )
    assert len(children) == sum(len(s) for _, s in ModelConfig().candidates)


def test_run_has_the_artifacts(recorded):
    paths, run, _ = recorded
    client = MlflowClient(paths.tracking_uri)
    names = {a.path for a in client.list_artifacts(run.run_id)}
    plots = {a.path for a in client.list_artifacts(run.run_id, "plots")}
    assert {
        "classification_report.txt",
        "top_terms.json",
        "misclassified_test_rows.csv",
        "test_keys.json",
        "test_metrics.json",
    } <= names
    assert plots == {"plots/confusion_matrix.png", "plots/calibration.png"}
    top = tracking.run_json(paths, run.run_id, "top_terms.json")
    assert {"patient", "coder", "icd_code", "medical"} & set(top["mbpo"])
    assert {"payroll", "pay", "benefit", "payslip"} & set(top["hro"])


def test_dataset_input_carries_our_digest(recorded):
    paths, run, digest = recorded
    inputs = MlflowClient(paths.tracking_uri).get_run(run.run_id).inputs.dataset_inputs
    assert [i.dataset.digest for i in inputs] == [digest[:32]]


def test_model_is_registered_with_the_champion_alias(recorded, trained):
    paths, run, digest = recorded
    assert run.version == "1"
    assert tracking.alias_version(paths) == "1"
    info = tracking.version_info(paths, "1")
    assert info.corpus_digest == digest
    assert info.aliases == ("champion",)
    assert info.classifier == (trained.kind, trained.strength)
    assert info.test_macro_f1 == trained.test.macro_f1  # unrounded: `models` rounds it once
    assert [v.version for v in tracking.list_versions(paths)] == ["1"]
    client = MlflowClient(paths.tracking_uri)
    assert client.get_registered_model(REGISTERED_MODEL_NAME).name == REGISTERED_MODEL_NAME


def test_champion_export_matches_the_registered_model(recorded, trained):
    paths, _, digest = recorded
    loaded = load_model(paths.models)
    probe = ["Medical coding", "Payroll for 400 staff", "Cleaning of offices"]
    assert loaded.pipeline.predict(probe).tolist() == trained.pipeline.predict(probe).tolist()
    assert loaded.manifest["mlflow"]["version"] == "1"
    assert loaded.manifest["corpus_digest"] == digest
    assert loaded.manifest["test_keys"] == list(trained.test_keys)
    registered = tracking.load_registered(paths, "models:/outsourcing-classifier/1")
    assert registered.predict(probe).tolist() == trained.pipeline.predict(probe).tolist()
    tags = (
        MlflowClient(paths.tracking_uri, paths.tracking_uri)
        .get_model_version(REGISTERED_MODEL_NAME, "1")
        .tags
    )
    assert tags["model_sha256"] == loaded.manifest["sha256"]  # models/ holds the registered file


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/outsourcing-classifier@champion", ("outsourcing-classifier", "champion", None)),
        ("models:/outsourcing-classifier/12", ("outsourcing-classifier", None, "12")),
    ],
)
def test_model_uris_name_a_registered_version(uri, parsed):
    assert tracking.parse_model_uri(uri) == parsed


@pytest.mark.parametrize(
    "uri",
    [
        "models:/outsourcing-classifier",  # neither alias nor version
        "models:/outsourcing-classifier/Production",  # a stage, not a version
        "models:/m-0123456789abcdef",  # a logged model, never registered
        "models:/outsourcing-classifier/3/model.skops",  # a file inside a version
    ],
)
def test_other_model_uris_are_refused(uri):
    with pytest.raises(ModelFileError, match="expected models:/NAME@ALIAS or models:/NAME/VERSION"):
        tracking.parse_model_uri(uri)
