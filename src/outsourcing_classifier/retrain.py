"""The model lifecycle: train and record, promote, roll back, and the challenger gate."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from outsourcing_classifier import behaviour, tracking
from outsourcing_classifier.config import (
    CHAMPION_ALIAS,
    PREVIOUS_CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    GateConfig,
    ModelConfig,
    Paths,
    UserFacingError,
)
from outsourcing_classifier.corpus import CorpusError, corpus_digest, read_corpus
from outsourcing_classifier.evaluate import Metrics, compute_metrics, framed_metrics
from outsourcing_classifier.frames import load_frames
from outsourcing_classifier.gate import (
    Comparison,
    GateDecision,
    add_checked,
    confident_flips,
    decide,
)
from outsourcing_classifier.outputs import project_lock, write_bytes
from outsourcing_classifier.spreadsheet import SpreadsheetError
from outsourcing_classifier.store import export_model
from outsourcing_classifier.taxonomy import Taxonomy, TaxonomyError
from outsourcing_classifier.train import TrainResult, train


class LifecycleError(UserFacingError):
    """A lifecycle step cannot be done (no champion, unknown version, ...)."""


@dataclass(frozen=True)
class TrainReport:
    run: tracking.TrainingRun
    result: TrainResult
    promoted: bool

    def text(self) -> str:
        test = self.result.test
        lines = [
            f"trained {self.result.kind} (regularisation {self.result.strength:g}) on "
            f"{self.result.train_rows} rows; MLflow run {self.run.run_id}, "
            f"model version {self.run.version}",
            f"test split: macro-F1 {test.macro_f1:.3f}, accuracy {test.accuracy:.3f}, "
            f"family accuracy {test.family_accuracy:.3f}, ECE {test.ece:.3f}, "
            f"log loss {test.log_loss:.3f} ({test.rows} rows)",
            "baselines: "
            + ", ".join(f"{k} macro-F1 {m.macro_f1:.3f}" for k, m in self.result.baselines.items()),
        ]
        if self.promoted:
            lines.append(f"version {self.run.version} is the champion (exported to models/)")
        return "\n".join(lines)


def train_and_record(
    paths: Paths,
    config: ModelConfig,
    taxonomy: Taxonomy,
    run_name: str,
    tags: dict | None = None,
    keep: tuple[str, float] | None = None,
) -> tuple[pd.DataFrame, str, TrainResult, tracking.TrainingRun]:
    corpus = read_corpus(paths.corpus, taxonomy)
    digest = corpus_digest(corpus)
    frames = load_frames(paths.frames, taxonomy)
    result = train(corpus, config, taxonomy, keep, frames)
    tags = {"frames_digest": frames.digest, "frame_pieces": str(len(frames.frames)), **(tags or {})}
    with project_lock(paths):  # registers a version
        run = tracking.log_training(result, corpus, digest, config, paths, run_name, tags)
    return corpus, digest, result, run


def train_new(paths: Paths, config: ModelConfig, taxonomy: Taxonomy) -> TrainReport:
    """``outsourcing train``: a new registered version; champion only if there is none yet."""
    _, _, result, run = train_and_record(paths, config, taxonomy, "train")
    with project_lock(paths):
        first = tracking.alias_version(paths, CHAMPION_ALIAS) is None
        if first:
            promote(paths, run.version)
    return TrainReport(run, result, promoted=first)


def promote(paths: Paths, version: str) -> None:
    """Make ``version`` the champion: export it to ``models/`` (verified), then move the alias."""
    with project_lock(paths):
        _promote(paths, version)


def _promote(paths: Paths, version: str) -> None:
    try:
        info = tracking.version_info(paths, version)
    except Exception as error:
        raise LifecycleError(
            f"no registered version {version} of {REGISTERED_MODEL_NAME}"
        ) from error
    artifact = tracking.fetch_model(paths, tracking.version_uri(version))
    metrics = tracking.run_json(paths, info.run_id, "test_metrics.json")
    keys = tracking.run_json(paths, info.run_id, "test_keys.json")["test_keys"]
    export_model(
        artifact,
        paths.models,
        {
            "corpus_digest": info.corpus_digest,
            "test_macro_f1": metrics["macro_f1"],
            "test_ece": metrics["ece"],
            "mlflow": {
                "registered_model": REGISTERED_MODEL_NAME,
                "version": info.version,
                "run_id": info.run_id,
                "tracking_uri": paths.tracking_uri,
            },
            "test_keys": keys,
        },
    )
    previous = tracking.alias_version(paths, CHAMPION_ALIAS)
    if previous is not None and previous != str(version):
        tracking.set_alias(paths, PREVIOUS_CHAMPION_ALIAS, previous)
    tracking.set_alias(paths, CHAMPION_ALIAS, str(version))


def rollback(paths: Paths) -> str:
    """Champion back to the previous champion; returns the version now in use."""
    with project_lock(paths):
        previous = tracking.alias_version(paths, PREVIOUS_CHAMPION_ALIAS)
        if previous is None:
            raise LifecycleError("no previous champion to roll back to")
        promote(paths, previous)
    return previous


@dataclass(frozen=True)
class RetrainReport:
    status: str  # "unchanged", "first-champion", "promoted", "forced", "refused"
    message: str
    version: str | None = None
    decision: GateDecision | None = None


def _score(
    pipeline, rows: pd.DataFrame, taxonomy: Taxonomy
) -> tuple[Metrics, np.ndarray, np.ndarray]:
    """Metrics on ``rows``, and the predicted label and its confidence for each row."""
    proba = pipeline.predict_proba(rows["text"].tolist())
    predicted = pipeline.classes_[proba.argmax(axis=1)]
    metrics = compute_metrics(rows["label"], predicted, taxonomy, proba, pipeline.classes_)
    return metrics, predicted, proba.max(axis=1)


def retrain(
    paths: Paths,
    taxonomy: Taxonomy,
    config: ModelConfig | None = None,
    gate_config: GateConfig | None = None,
    if_changed: bool = False,
    force: bool = False,
) -> RetrainReport:
    """Train a challenger and promote it only if the gate allows (or ``force``)."""
    config, gate_config = config or ModelConfig(), gate_config or GateConfig()
    cases = behaviour.load_behaviour(paths.behaviour, taxonomy)  # a broken file stops us early
    champion = tracking.alias_version(paths, CHAMPION_ALIAS)
    if champion is None:
        report = train_new(paths, config, taxonomy)
        return RetrainReport("first-champion", report.text(), report.run.version)
    champion_info = tracking.version_info(paths, champion)
    if if_changed:
        digest = corpus_digest(read_corpus(paths.corpus, taxonomy))
        if digest == champion_info.corpus_digest:
            return RetrainReport(
                "unchanged", f"corpus unchanged since version {champion}: nothing to do"
            )
    champion_pipeline = tracking.load_registered(paths, tracking.version_uri(champion))
    corpus, _, result, run = train_and_record(
        paths,
        config,
        taxonomy,
        "retrain-challenger",
        {"champion_version": champion, "forced": str(force)},
        keep=champion_info.classifier,
    )
    judged_keys = set(tracking.run_json(paths, champion_info.run_id, "test_keys.json")["test_keys"])
    judged = corpus[corpus["key"].isin(judged_keys)]
    new_test = corpus[(corpus["split"] == "test") & ~corpus["key"].isin(judged_keys)]
    champion_metrics, champion_predicted, champion_confidence = _score(
        champion_pipeline, judged, taxonomy
    )
    challenger_metrics, challenger_predicted, challenger_confidence = _score(
        result.pipeline, judged, taxonomy
    )
    confident, flips = confident_flips(
        judged,
        champion_predicted,
        champion_confidence,
        challenger_predicted,
        challenger_confidence,
        gate_config.confident_at,
    )
    heldout = load_frames(paths.frames, taxonomy).half(heldout=True)
    texts = judged["text"].tolist()
    comparison = Comparison(
        champion=champion_metrics,
        challenger=challenger_metrics,
        champion_failures=behaviour.failures(champion_pipeline, cases),
        challenger_failures=behaviour.failures(result.pipeline, cases),
        confident=confident,
        confident_flips=flips,
        champion_framed=framed_metrics(
            champion_pipeline, texts, judged["label"], heldout, taxonomy, champion_predicted
        ),
        challenger_framed=framed_metrics(
            result.pipeline, texts, judged["label"], heldout, taxonomy, challenger_predicted
        ),
    )
    decision = decide(comparison, gate_config)
    record = {
        "champion_version": champion,
        "challenger_version": run.version,
        "judged_rows": len(judged),
        **comparison.as_dict(),
        "gate": asdict(gate_config),
        "decision": "promote" if decision.promote else ("forced" if force else "refuse"),
        "reasons": list(decision.reasons),
        "forced": force,
    }
    if len(new_test):
        record["new_test_rows"] = {
            "rows": len(new_test),
            "champion": _score(champion_pipeline, new_test, taxonomy)[0].flat(),
            "challenger": _score(result.pipeline, new_test, taxonomy)[0].flat(),
        }
    if paths.real_dev.is_file():
        real = pd.read_csv(paths.real_dev, dtype=str, keep_default_na=False)
        record["real_dev"] = {
            "rows": len(real),
            "champion_macro_f1": _score(champion_pipeline, real, taxonomy)[0].macro_f1,
            "challenger_macro_f1": _score(result.pipeline, real, taxonomy)[0].macro_f1,
        }
    changed = judged.assign(champion=champion_predicted, challenger=challenger_predicted)
    changed = changed[changed["champion"] != changed["challenger"]][
        ["text", "label", "champion", "challenger"]
    ]
    tracking.log_comparison(paths, run.run_id, record, changed)
    summary = _summary(comparison, champion, run.version, len(judged), len(changed), len(cases))
    if decision.promote or force:
        promote(paths, run.version)
        status = "promoted" if decision.promote else "forced"
        note = "" if decision.promote else " (forced past: " + "; ".join(decision.reasons) + ")"
        return RetrainReport(
            status,
            f"{summary}\nversion {run.version} promoted to champion{note}",
            run.version,
            decision,
        )
    return RetrainReport(
        "refused",
        f"{summary}\nchallenger refused, champion v{champion} stays:\n"
        + "\n".join(f"  - {reason}" for reason in decision.reasons),
        run.version,
        decision,
    )


def _summary(
    comparison: Comparison, champion: str, challenger: str, judged: int, changed: int, cases: int
) -> str:
    known = len(comparison.challenger_failures) - len(comparison.new_failures)
    return (
        f"champion v{champion} macro-F1 {comparison.champion.macro_f1:.3f} vs challenger "
        f"v{challenger} {comparison.challenger.macro_f1:.3f} on the {judged} test rows the "
        f"champion was judged on; {changed} predictions changed "
        f"({len(comparison.confident_flips)} of the champion's "
        f"{sum(comparison.confident.values())} confident, correct ones)\n"
        f"behavioural cases: the challenger fails {len(comparison.challenger_failures)} of "
        f"{cases}" + (f" ({known} failed by the champion too)" if known else "")
    )


INCOMING_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".parquet")


def ingest_incoming(paths: Paths, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """Add every labelled file dropped in ``data/incoming/``; move each one taken in to
    ``done/``, leave a refused one in place with ``<name>.errors.txt`` beside it."""
    outcomes = []
    with project_lock(paths):  # two ingests never take the same file
        files = sorted(paths.incoming.glob("*")) if paths.incoming.is_dir() else []
        for path in files:
            if not path.is_file() or path.suffix.lower() not in INCOMING_SUFFIXES:
                continue
            errors = path.with_name(path.name + ".errors.txt")
            try:
                added = add_checked(paths, taxonomy, path)
                refused = added.plan.refused
            except (CorpusError, SpreadsheetError, TaxonomyError) as error:
                added, refused = None, [str(error)]
            if refused:
                write_bytes(errors, ("\n".join(refused) + "\n").encode("utf-8"), force=True)
                outcomes.append((path.name, f"refused, see {errors.name}"))
                continue
            errors.unlink(missing_ok=True)
            paths.incoming_done.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            shutil.move(path, paths.incoming_done / f"{stamp}-{path.name}")
            outcome = f"added {len(added.plan.rows)}, skipped {len(added.plan.skipped)}"
            if added.check:
                outcome += f"; contradicts the champion: {added.check.text()}"
            outcomes.append((path.name, outcome))
    return outcomes
