"""Behavioural cases (``data/behaviour.yaml``): load and validate them, find those a model fails.

The same cases are run by ``tests/model`` on the model trained from the committed corpus and by
the retraining gate on every challenger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from outsourcing_classifier.config import UserFacingError
from outsourcing_classifier.taxonomy import Taxonomy


class BehaviourError(UserFacingError):
    """The behaviour file is unreadable or a case breaks its schema; the message names the case."""


@dataclass(frozen=True)
class Scores:
    """A model's class probabilities for some texts."""

    classes: tuple[str, ...]
    probabilities: dict[str, np.ndarray]

    def label(self, text: str) -> str:
        return self.classes[int(self.probabilities[text].argmax())]

    def probability(self, text: str, label: str) -> float:
        """0 for a label the model never learnt (its training data had no row of it)."""
        if label not in self.classes:
            return 0.0
        return float(self.probabilities[text][self.classes.index(label)])


def score(pipeline, texts) -> Scores:
    """Probabilities of ``pipeline`` for each distinct text, computed in one batch."""
    distinct = list(dict.fromkeys(texts))
    proba = pipeline.predict_proba(distinct)
    return Scores(tuple(str(c) for c in pipeline.classes_), dict(zip(distinct, proba, strict=True)))


@dataclass(frozen=True)
class MinimumCase:
    """A clear text that must get ``label``."""

    why: str
    text: str
    label: str
    kind = "minimum"

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.text,)

    def failure(self, scores: Scores) -> str | None:
        got = scores.label(self.text)
        if got == self.label:
            return None
        confidence = scores.probability(self.text, got)
        return f"{self.text!r} is {got} ({confidence:.2f}), expected {self.label}"


@dataclass(frozen=True)
class InvarianceCase:
    """Texts that differ only in what must not matter (a name, a city, a frame): one label."""

    why: str
    texts: tuple[str, ...]
    kind = "invariance"

    def failure(self, scores: Scores) -> str | None:
        labels = [scores.label(text) for text in self.texts]
        if len(set(labels)) == 1:
            return None
        return ", but ".join(
            f"{t!r} is {label}" for t, label in zip(self.texts, labels, strict=True)
        )


@dataclass(frozen=True)
class DirectionCase:
    """``changed`` adds words of ``towards`` to ``base``: its probability of ``towards`` rises."""

    why: str
    base: str
    changed: str
    towards: str
    kind = "direction"

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.base, self.changed)

    def failure(self, scores: Scores) -> str | None:
        before = scores.probability(self.base, self.towards)
        after = scores.probability(self.changed, self.towards)
        if after > before:
            return None
        return (
            f"{self.changed!r} does not move towards {self.towards} "
            f"(from {before:.2f} for {self.base!r} to {after:.2f})"
        )


Case = MinimumCase | InvarianceCase | DirectionCase


@dataclass(frozen=True)
class BehaviourFailure:
    case: Case
    detail: str

    def __str__(self) -> str:
        return f"{self.case.kind} ({self.case.why}): {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.case.kind, "why": self.case.why, "detail": self.detail}


def failures(pipeline, cases: tuple[Case, ...]) -> tuple[BehaviourFailure, ...]:
    """The cases ``pipeline`` fails, in file order."""
    scores = score(pipeline, [text for case in cases for text in case.texts])
    found = ((case, case.failure(scores)) for case in cases)
    return tuple(BehaviourFailure(case, detail) for case, detail in found if detail is not None)


def _text(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"needs a non-empty text {what}")
    return value.strip()


def _field(entry: dict, field: str) -> str:
    return _text(entry.get(field), repr(field))


def _minimum(entry: dict, taxonomy: Taxonomy) -> MinimumCase:
    return MinimumCase(
        _field(entry, "why"), _field(entry, "text"), taxonomy.resolve(_field(entry, "label"))
    )


def _invariance(entry: dict, taxonomy: Taxonomy) -> InvarianceCase:
    texts = entry.get("texts")
    if not isinstance(texts, list) or len(texts) < 2:
        raise ValueError("needs 'texts', a list of at least two texts")
    return InvarianceCase(_field(entry, "why"), tuple(_text(t, "in 'texts'") for t in texts))


def _direction(entry: dict, taxonomy: Taxonomy) -> DirectionCase:
    return DirectionCase(
        _field(entry, "why"),
        _field(entry, "base"),
        _field(entry, "changed"),
        taxonomy.resolve(_field(entry, "towards")),
    )


# Section name -> how one entry of it becomes a case. A new kind of case is one more entry.
SECTIONS: dict[str, Callable[[dict, Taxonomy], Case]] = {
    "minimum": _minimum,
    "invariance": _invariance,
    "direction": _direction,
}


def load_behaviour(path: Path, taxonomy: Taxonomy) -> tuple[Case, ...]:
    """Every case of the behaviour file, validated, labels resolved through the taxonomy."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise BehaviourError(f"{path}: cannot read behavioural cases: {error}") from error
    if not isinstance(raw, dict) or not raw:
        raise BehaviourError(f"{path}: no sections; expected {', '.join(SECTIONS)}")
    unknown = [name for name in raw if name not in SECTIONS]
    if unknown:
        raise BehaviourError(
            f"{path}: unknown section {unknown[0]!r}; sections are {', '.join(SECTIONS)}"
        )
    cases = []
    for section, entries in raw.items():
        if not isinstance(entries, list):
            raise BehaviourError(f"{path}: section {section!r} is not a list of cases")
        for number, entry in enumerate(entries, start=1):
            try:
                if not isinstance(entry, dict):
                    raise ValueError("is not a mapping")
                cases.append(SECTIONS[section](entry, taxonomy))
            except ValueError as error:  # TaxonomyError included: an unknown or ambiguous label
                raise BehaviourError(f"{path}: {section} case {number}: {error}") from error
    return tuple(cases)
