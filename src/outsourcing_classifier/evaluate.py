"""Metrics and plots for any labelled set: per-class scores, confusion, calibration, top terms."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.pipeline import Pipeline

from outsourcing_classifier.frames import FrameLibrary, wrap_all
from outsourcing_classifier.model import feature_names, linear_coefficients
from outsourcing_classifier.taxonomy import Taxonomy

FRAMED_SEED = 20261208  # the held-out framing every model is judged on


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    """Scores of a model on one labelled set."""

    rows: int
    macro_f1: float
    accuracy: float
    family_accuracy: float
    log_loss: float | None
    ece: float | None
    per_class: dict[str, ClassScores]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Scalar metrics keyed for MLflow, per-class F1 included."""
        values = {
            "macro_f1": self.macro_f1,
            "accuracy": self.accuracy,
            "family_accuracy": self.family_accuracy,
            "log_loss": self.log_loss,
            "ece": self.ece,
        }
        values |= {f"f1_{label}": s.f1 for label, s in self.per_class.items()}
        return {f"{prefix}{k}": float(v) for k, v in values.items() if v is not None}

    def to_dict(self) -> dict:
        return asdict(self)


def expected_calibration_error(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, bins: int = 15
) -> float:
    """Top-label ECE: |accuracy - confidence| averaged over equal-width confidence bins."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def compute_metrics(
    y_true, y_pred, taxonomy: Taxonomy, proba: np.ndarray | None = None, classes=None
) -> Metrics:
    """Metrics over all taxonomy labels (a label absent from the set scores zero support)."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    labels = list(taxonomy.ids)
    present = [label for label in labels if label in set(y_true) | set(y_pred)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0
    )
    families_true = [taxonomy.family_of(label) for label in y_true]
    families_pred = [taxonomy.family_of(label) for label in y_pred]
    loss = ece = None
    if proba is not None:
        classes = np.asarray(classes, dtype=object)
        known = np.isin(y_true, classes)
        if known.all():
            loss = float(log_loss(y_true, proba, labels=list(classes)))
        ece = expected_calibration_error(y_true, proba, classes)
    return Metrics(
        rows=len(y_true),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(y_true, y_pred)),
        family_accuracy=float(accuracy_score(families_true, families_pred)),
        log_loss=loss,
        ece=ece,
        per_class={
            label: ClassScores(float(p), float(r), float(f), int(s))
            for label, p, r, f, s in zip(present, precision, recall, f1, support, strict=True)
        },
        labels=tuple(labels),
        confusion=tuple(
            tuple(int(v) for v in row) for row in confusion_matrix(y_true, y_pred, labels=labels)
        ),
    )


@dataclass(frozen=True)
class FramedMetrics:
    """How a model reads the same texts wrapped in frames it never saw (DESIGN §1).

    ``flip_rate``: share of framed texts whose label differs from the unframed text's.
    """

    rows: int
    flip_rate: float
    macro_f1: float
    ece: float
    unframed_macro_f1: float
    per_register: dict[str, dict[str, float]]  # register -> flip_rate, macro_f1, ece

    def flat(self, prefix: str = "framed_") -> dict[str, float]:
        values = {"flip_rate": self.flip_rate, "macro_f1": self.macro_f1, "ece": self.ece}
        for register, scores in self.per_register.items():
            values |= {f"{name}_{register}": value for name, value in scores.items()}
        return {f"{prefix}{k}": float(v) for k, v in values.items()}


def framed_metrics(
    pipeline: Pipeline,
    texts: list[str],
    labels,
    library: FrameLibrary,
    taxonomy: Taxonomy,
    unframed: np.ndarray | None = None,
    seed: int = FRAMED_SEED,
) -> FramedMetrics:
    """Every text wrapped once in each register of ``library`` (seeded), scored and compared
    with the model's label for the unframed text (``unframed``, predicted here if not given)."""
    labels = np.asarray(labels, dtype=object)
    classes = pipeline.classes_
    if unframed is None:
        unframed = classes[pipeline.predict_proba(texts).argmax(axis=1)]
    per_register, flips, probas = {}, [], []
    for offset, register in enumerate(library.registers):
        framed, _ = wrap_all(texts, library, seed + offset, register)
        proba = pipeline.predict_proba(framed)
        predicted = classes[proba.argmax(axis=1)]
        scores = compute_metrics(labels, predicted, taxonomy, proba, classes)
        flipped = predicted != unframed
        per_register[register] = {
            "flip_rate": float(flipped.mean()),
            "macro_f1": scores.macro_f1,
            "ece": float(scores.ece),
        }
        flips.append(flipped)
        probas.append(proba)
    proba = np.vstack(probas)
    every_label = np.tile(labels, len(probas))
    overall = compute_metrics(every_label, classes[proba.argmax(axis=1)], taxonomy, proba, classes)
    return FramedMetrics(
        rows=len(texts),
        flip_rate=float(np.concatenate(flips).mean()),
        macro_f1=overall.macro_f1,
        ece=float(overall.ece),
        unframed_macro_f1=compute_metrics(labels, unframed, taxonomy).macro_f1,
        per_register=per_register,
    )


def classification_report_text(metrics: Metrics) -> str:
    """A plain-text per-class table in the style of scikit-learn's report."""
    lines = [f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, s in metrics.per_class.items():
        lines.append(
            f"{label:<16}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10}"
        )
    lines.append("")
    lines.append(f"{'macro F1':<16}{metrics.macro_f1:>10.3f}")
    lines.append(f"{'accuracy':<16}{metrics.accuracy:>10.3f}")
    lines.append(f"{'family accuracy':<16}{metrics.family_accuracy:>10.3f}")
    if metrics.log_loss is not None:
        lines.append(f"{'log loss':<16}{metrics.log_loss:>10.3f}")
    if metrics.ece is not None:
        lines.append(f"{'ECE':<16}{metrics.ece:>10.3f}")
    lines.append(f"{'rows':<16}{metrics.rows:>10}")
    return "\n".join(lines) + "\n"


def confusion_figure(metrics: Metrics) -> Figure:
    """Confusion matrix as a matplotlib figure (rows: true label, columns: predicted)."""
    matrix = np.array(metrics.confusion)
    figure = Figure(figsize=(8, 7))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(metrics.labels)), metrics.labels, rotation=45, ha="right")
    axes.set_yticks(range(len(metrics.labels)), metrics.labels)
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if value > matrix.max() / 2 else "black"
            axes.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"Confusion matrix (macro F1 {metrics.macro_f1:.3f})")
    figure.tight_layout()
    return figure


def calibration_figure(y_true, proba: np.ndarray, classes, bins: int = 10) -> Figure:
    """Reliability diagram of the top-label confidence."""
    classes = np.asarray(classes, dtype=object)
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == np.asarray(y_true, dtype=object)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    centres, accuracy = [], []
    for b in range(bins):
        if (which == b).any():
            centres.append(confidence[which == b].mean())
            accuracy.append(correct[which == b].mean())
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.plot(centres, accuracy, marker="o", label="model")
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title("Calibration (top label)")
    axes.legend()
    figure.tight_layout()
    return figure


def top_terms(pipeline: Pipeline, k: int = 15) -> dict[str, list[str]]:
    """The word features with the largest weights for each class."""
    names = feature_names(pipeline)
    coef = linear_coefficients(pipeline)
    words = np.array([n.startswith("words__") for n in names])
    classes = pipeline.classes_
    result = {}
    for row, label in enumerate(classes):
        weights = np.where(words, coef[row], -np.inf)
        best = np.argsort(weights)[::-1][:k]
        result[str(label)] = [names[i].removeprefix("words__") for i in best]
    return result
