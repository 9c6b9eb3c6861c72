"""Training: choose the classifier by grouped cross-validation, fit, and score on the test split.

``train`` is pure: a corpus frame and a config in, a :class:`TrainResult` out. No files, no MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline

from outsourcing_classifier.config import ModelConfig
from outsourcing_classifier.evaluate import FramedMetrics, Metrics, compute_metrics, framed_metrics
from outsourcing_classifier.frames import FrameLibrary, augment
from outsourcing_classifier.model import build_classifier, build_features, build_pipeline
from outsourcing_classifier.taxonomy import Taxonomy


@dataclass(frozen=True)
class CandidateScore:
    kind: str
    strength: float
    cv_macro_f1_mean: float
    cv_macro_f1_std: float


@dataclass(frozen=True)
class TrainResult:
    pipeline: Pipeline
    kind: str
    strength: float
    candidates: tuple[CandidateScore, ...]
    test: Metrics
    baselines: dict[str, Metrics]
    test_predictions: pd.DataFrame  # text, key, label, predicted, confidence
    test_proba: np.ndarray  # rows x pipeline.classes_
    train_rows: int
    test_keys: tuple[str, ...]
    framed: FramedMetrics | None = None  # the test rows in held-out frames


def cross_validate_candidates(
    normalised: np.ndarray, labels: np.ndarray, groups: np.ndarray, config: ModelConfig
) -> list[CandidateScore]:
    """Macro-F1 of every candidate classifier over grouped, stratified folds.

    Texts are read and normalised once (the normaliser learns nothing; the reader's boilerplate
    detector learns only from the frame library and which sentences are not frames); the TF-IDF
    features are fitted inside each fold, on that fold's training part only.
    """
    folds = StratifiedGroupKFold(config.cv_folds, shuffle=True, random_state=config.seed)
    scores: dict[tuple[str, float], list[float]] = {}
    for fit_index, score_index in folds.split(normalised, labels, groups):
        features = build_features(config)
        fit_matrix = features.fit_transform(normalised[fit_index])
        score_matrix = features.transform(normalised[score_index])
        for kind, strengths in config.candidates:
            for strength in strengths:
                classifier = build_classifier(kind, strength, config.seed)
                classifier.fit(fit_matrix, labels[fit_index])
                predicted = classifier.predict(score_matrix)
                scores.setdefault((kind, strength), []).append(
                    f1_score(labels[score_index], predicted, average="macro")
                )
    return [
        CandidateScore(kind, strength, float(np.mean(values)), float(np.std(values)))
        for (kind, strength), values in scores.items()
    ]


def choose_candidate(
    candidates: list[CandidateScore], keep: tuple[str, float] | None = None
) -> CandidateScore:
    """The best mean cross-validated macro-F1, except that ``keep`` (the champion's classifier and
    regularisation) stays chosen while it is within one standard deviation of the best, so that a
    retrain on a few more rows does not switch models on noise."""
    best = max(candidates, key=lambda c: (c.cv_macro_f1_mean, -c.cv_macro_f1_std))
    for candidate in candidates:
        if (candidate.kind, candidate.strength) == keep and (
            candidate.cv_macro_f1_mean >= best.cv_macro_f1_mean - best.cv_macro_f1_std
        ):
            return candidate
    return best


def _baselines(
    normalised_train: np.ndarray,
    train_labels: np.ndarray,
    normalised_test: np.ndarray,
    test_labels: np.ndarray,
    config: ModelConfig,
    taxonomy: Taxonomy,
) -> dict[str, Metrics]:
    models = {
        "complement_nb": Pipeline([("features", build_features(config)), ("nb", ComplementNB())]),
        "majority_class": DummyClassifier(strategy="most_frequent"),
    }
    results = {}
    for name, model in models.items():
        model.fit(normalised_train, train_labels)
        results[name] = compute_metrics(test_labels, model.predict(normalised_test), taxonomy)
    return results


def train(
    corpus: pd.DataFrame,
    config: ModelConfig,
    taxonomy: Taxonomy,
    keep: tuple[str, float] | None = None,
    frames: FrameLibrary | None = None,
) -> TrainResult:
    """Select, fit and score the pipeline on the corpus' own train and test splits.

    ``keep``: the classifier and regularisation to stay with unless clearly beaten (see
    :func:`choose_candidate`). ``frames``: the frame library; its training half frames copies of
    the training rows and teaches the reader, its held-out half measures reading through frames.
    """
    train_rows = corpus[corpus["split"] == "train"]
    test_rows = corpus[corpus["split"] == "test"]
    if train_rows["label"].nunique() < 2:
        raise ValueError("the training split needs at least two labels")
    texts, labels, groups = _training_set(train_rows, frames, config)
    boilerplate = frames.half(heldout=False).boilerplate if frames else ()
    pipeline = build_pipeline(config, boilerplate=boilerplate)
    preprocess = Pipeline(pipeline.steps[:2])  # reader and normaliser
    train_text = clone(preprocess).fit_transform(texts)
    candidates = cross_validate_candidates(train_text, labels, groups, config)
    best = choose_candidate(candidates, keep)
    pipeline = build_pipeline(config, best.kind, best.strength, boilerplate)
    pipeline.fit(texts, labels)

    proba = pipeline.predict_proba(test_rows["text"].tolist())
    classes = pipeline.classes_
    predicted = classes[proba.argmax(axis=1)]
    test_labels = test_rows["label"].to_numpy(dtype=object)
    return TrainResult(
        pipeline=pipeline,
        kind=best.kind,
        strength=best.strength,
        candidates=tuple(candidates),
        test=compute_metrics(test_labels, predicted, taxonomy, proba, classes),
        baselines=_baselines(
            train_text,
            labels,
            Pipeline(pipeline.steps[:2]).transform(test_rows["text"].tolist()),
            test_labels,
            config,
            taxonomy,
        ),
        test_predictions=pd.DataFrame(
            {
                "text": test_rows["text"].to_numpy(),
                "key": test_rows["key"].to_numpy(),
                "label": test_labels,
                "predicted": predicted,
                "confidence": proba.max(axis=1),
            }
        ),
        test_proba=proba,
        train_rows=len(train_rows),
        test_keys=tuple(test_rows["key"]),
        framed=None
        if frames is None
        else framed_metrics(
            pipeline,
            test_rows["text"].tolist(),
            test_labels,
            frames.half(heldout=True),
            taxonomy,
            unframed=predicted,
        ),
    )


def _training_set(
    rows: pd.DataFrame, frames: FrameLibrary | None, config: ModelConfig
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The training texts, labels and CV groups, with label-blind framed copies (training-half
    frames) when a frame library is given; a copy shares its original's group."""
    texts = rows["text"].tolist()
    labels = rows["label"].to_numpy(dtype=object)
    groups = rows["group"].to_numpy()
    if frames is None or config.frame_copies < 1:
        return texts, labels, groups
    framed, origin = augment(
        texts, frames.half(heldout=False), config.frame_copies, config.frame_seed
    )
    return texts + framed, np.concatenate([labels, labels[origin]]), np.r_[groups, groups[origin]]
