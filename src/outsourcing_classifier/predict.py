"""Predictions for texts: label, family, calibrated confidence, top-k, explanation, review flag.

Loads only the exported model (``store``); this path never imports mlflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sklearn.pipeline import Pipeline

from outsourcing_classifier.model import feature_names, linear_coefficients
from outsourcing_classifier.taxonomy import Taxonomy

DEFAULT_REVIEW_THRESHOLD = 0.5
EXPLANATION_TERMS = 5


@dataclass(frozen=True)
class TermWeight:
    term: str
    weight: float


@dataclass(frozen=True)
class Explanation:
    """Word features that pushed towards the label and towards the runner-up (tf-idf x weight)."""

    towards_label: tuple[TermWeight, ...]
    towards_runner_up: tuple[TermWeight, ...]
    sentence: str | None = None  # in a long text, the sentence that carried the decision

    def summary(self, label: str, runner_up: str) -> str:
        def terms(weights: tuple[TermWeight, ...]) -> str:
            return ", ".join(f"{w.term} (+{w.weight:.2f})" for w in weights) or "nothing specific"

        read_from = f' | read from: "{self.sentence}"' if self.sentence else ""
        return (
            f"{label}: {terms(self.towards_label)} | {runner_up}: "
            f"{terms(self.towards_runner_up)}{read_from}"
        )


@dataclass(frozen=True)
class Prediction:
    text: str
    label: str
    name: str
    family: str
    confidence: float
    needs_review: bool
    runner_up: str
    runner_up_confidence: float
    ambiguity: tuple[str, ...]
    top: tuple[tuple[str, float], ...] = ()
    explanation: Explanation | None = None
    status: str = "ok"

    def as_dict(self, top: bool = False, explain: bool = False) -> dict:
        result = {
            "text": self.text,
            "label": self.label,
            "name": self.name,
            "family": self.family,
            "confidence": round(self.confidence, 4),
            "needs_review": self.needs_review,
            "ambiguity": list(self.ambiguity),
        }
        if self.status != "ok":
            result["status"] = self.status
        if top:
            result["top"] = [{"label": lab, "probability": round(p, 4)} for lab, p in self.top]
        if explain and self.explanation is not None:
            result["explanation"] = {
                self.label: [[w.term, round(w.weight, 4)] for w in self.explanation.towards_label],
                self.runner_up: [
                    [w.term, round(w.weight, 4)] for w in self.explanation.towards_runner_up
                ],
            }
            if self.explanation.sentence:
                result["explanation"]["sentence"] = self.explanation.sentence
        return result


def needs_review(confidence: float, threshold: float) -> bool:
    """A person should check a prediction whose calibrated confidence is under the threshold."""
    return confidence < threshold


def empty_prediction(text: str, status: str) -> Prediction:
    """The row is kept but not labelled; ``status`` says why."""
    return Prediction(text, "", "", "", 0.0, True, "", 0.0, (), status=status)


@dataclass
class Predictor:
    """A fitted pipeline plus the taxonomy, turning texts into :class:`Prediction` objects."""

    pipeline: Pipeline
    taxonomy: Taxonomy
    threshold: float = DEFAULT_REVIEW_THRESHOLD

    @property
    def classes(self) -> np.ndarray:
        return self.pipeline.classes_

    def predict(self, texts: list[str], top: int = 3, explain: bool = False) -> list[Prediction]:
        """One prediction per text; blank texts get an unlabelled row with a status."""
        filled = [str(t) for t in texts if str(t).strip()]
        described = iter([])
        if filled:
            features = self.pipeline[:-1].transform(filled)
            proba = self.pipeline.named_steps["classify"].predict_proba(features)
            described = iter(self.describe(filled, proba, top, features if explain else None))
        return [
            next(described) if str(t).strip() else empty_prediction(str(t), "empty text")
            for t in texts
        ]

    def describe(
        self, texts: list[str], proba: np.ndarray, top: int = 3, features=None
    ) -> list[Prediction]:
        """Predictions from class probabilities (one row per text); with ``features``, explained."""
        ranks = max(top, 2)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :ranks]
        ranked = np.take_along_axis(proba, order, axis=1).tolist()
        labels = [str(c) for c in self.classes]
        info = {label: self.taxonomy.label(label) for label in labels}
        results = []
        for row, (text, columns, probabilities) in enumerate(
            zip(texts, order.tolist(), ranked, strict=True)
        ):
            label, runner_up = labels[columns[0]], labels[columns[1]]
            results.append(
                Prediction(
                    text=text,
                    label=label,
                    name=info[label].name,
                    family=info[label].family,
                    confidence=probabilities[0],
                    needs_review=needs_review(probabilities[0], self.threshold),
                    runner_up=runner_up,
                    runner_up_confidence=probabilities[1],
                    ambiguity=self.taxonomy.ambiguous_acronyms_in(text),
                    top=tuple(
                        zip([labels[c] for c in columns[:top]], probabilities[:top], strict=True)
                    ),
                    explanation=None
                    if features is None
                    else self._explain(text, features[row], columns[0], columns[1]),
                )
            )
        return results

    @cached_property
    def _word_features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feature names, which of them are word features, and the linear weights: read once."""
        names = feature_names(self.pipeline)
        is_word = np.array([n.startswith("words__") for n in names])
        return names, is_word, linear_coefficients(self.pipeline)

    def _explain(self, text: str, features, best: int, second: int) -> Explanation:
        """Exact for a linear model: each word feature's tf-idf value times its class weight;
        for a text the reader kept several sentences of, the one scoring highest for the label."""
        names, is_word, coef = self._word_features
        row = features.tocsr()
        keep = is_word[row.indices]
        columns, values = row.indices[keep], row.data[keep]

        def strongest(class_index: int) -> tuple[TermWeight, ...]:
            contributions = values * coef[class_index, columns]
            order = np.argsort(contributions)[::-1][:EXPLANATION_TERMS]
            return tuple(
                TermWeight(names[columns[i]].removeprefix("words__"), float(contributions[i]))
                for i in order
                if contributions[i] > 0
            )

        return Explanation(strongest(best), strongest(second), self._deciding_sentence(text, best))

    def _deciding_sentence(self, text: str, best: int) -> str | None:
        kept = self.pipeline.named_steps["read"].read_all([text])[0]
        if len(kept) < 2:
            return None
        sentence_features = self.pipeline[1:-1].transform(kept)
        scores = sentence_features @ self._word_features[2][best]
        return kept[int(np.argmax(scores))]
