"""The label set: load and validate ``taxonomy.yaml``, resolve label strings, flag acronyms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from outsourcing_classifier.config import UserFacingError


class TaxonomyError(UserFacingError):
    """The taxonomy file is malformed, or a label string cannot be resolved."""


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    family: str
    parent: str | None
    description: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    labels: tuple[Label, ...]
    families: dict[str, str]
    ambiguous_label_aliases: dict[str, tuple[str, ...]]
    ambiguous_text_acronyms: dict[str, str]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)

    def label(self, label_id: str) -> Label:
        for label in self.labels:
            if label.id == label_id:
                return label
        raise TaxonomyError(f"unknown label id {label_id!r}; ids are: {', '.join(self.ids)}")

    def family_of(self, label_id: str) -> str:
        return self.label(label_id).family

    def resolve(self, value: str, mapping: dict[str, str] | None = None) -> str:
        """The label id that ``value`` names (id, name or alias; case and punctuation ignored).

        ``mapping`` lets the user settle ambiguous strings, e.g. ``{"RPO": "recruitment_po"}``.
        """
        key = _key(value)
        if not key:
            raise TaxonomyError("empty label")
        for raw, target in (mapping or {}).items():
            if _key(raw) == key:
                return self.resolve(target)
        for alias, candidates in self.ambiguous_label_aliases.items():
            if _key(alias) == key:
                raise TaxonomyError(
                    f"label {value!r} is ambiguous: it may mean {' or '.join(candidates)}; "
                    f"map it explicitly (e.g. --map {alias}={candidates[0]})"
                )
        for label in self.labels:
            if key in {_key(label.id), _key(label.name), *(_key(a) for a in label.aliases)}:
                return label.id
        raise TaxonomyError(f"unknown label {value!r}; label ids are: {', '.join(self.ids)}")

    @cached_property
    def _acronym_pattern(self) -> re.Pattern:
        acronyms = "|".join(re.escape(a) for a in self.ambiguous_text_acronyms)
        return re.compile(rf"(?<![A-Za-z0-9])({acronyms})s?(?![A-Za-z0-9])", re.I)

    def ambiguous_acronyms_in(self, text: str) -> tuple[str, ...]:
        """The ambiguous acronyms (e.g. RPO, LPO) that ``text`` uses as whole words."""
        lowered = text.lower()
        if not any(a.lower() in lowered for a in self.ambiguous_text_acronyms):
            return ()  # the common case, decided without the regular expression
        found = {match.lower() for match in self._acronym_pattern.findall(text)}
        return tuple(a for a in self.ambiguous_text_acronyms if a.lower() in found)


def _key(value: str) -> str:
    """Case-, space- and punctuation-insensitive comparison key."""
    return re.sub(r"[^a-z0-9]+", "", str(value).lower())


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate the taxonomy; raise :class:`TaxonomyError` naming the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {error}") from error
    if not isinstance(raw, dict) or not raw.get("labels"):
        raise TaxonomyError(f"{path}: no labels")
    families = dict(raw.get("families") or {})
    try:
        labels = tuple(
            Label(
                id=str(entry["id"]),
                name=str(entry["name"]),
                family=str(entry["family"]),
                parent=entry.get("parent"),
                description=str(entry.get("description", "")).strip(),
                aliases=tuple(str(a) for a in entry.get("aliases") or ()),
            )
            for entry in raw["labels"]
        )
    except (KeyError, TypeError) as error:
        raise TaxonomyError(f"{path}: a label lacks field {error}") from error
    taxonomy = Taxonomy(
        labels=labels,
        families=families,
        ambiguous_label_aliases={
            str(k): tuple(v) for k, v in (raw.get("ambiguous_label_aliases") or {}).items()
        },
        ambiguous_text_acronyms={
            str(k): str(v) for k, v in (raw.get("ambiguous_text_acronyms") or {}).items()
        },
    )
    _validate(taxonomy, path)
    return taxonomy


def _validate(taxonomy: Taxonomy, path: Path) -> None:
    ids = taxonomy.ids
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise TaxonomyError(f"{path}: duplicate label ids: {', '.join(duplicates)}")
    for label in taxonomy.labels:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", label.id):
            raise TaxonomyError(f"{path}: label id {label.id!r} is not lower-case snake case")
        if label.family not in taxonomy.families:
            raise TaxonomyError(f"{path}: label {label.id!r} has unknown family {label.family!r}")
        if label.parent is not None and label.parent not in ids:
            raise TaxonomyError(f"{path}: label {label.id!r} has unknown parent {label.parent!r}")
    for label in taxonomy.labels:
        seen, parent = {label.id}, label.parent
        while parent is not None:
            if parent in seen:
                raise TaxonomyError(f"{path}: parent cycle through {label.id!r}")
            seen.add(parent)
            parent = taxonomy.label(parent).parent
    owners: dict[str, str] = {}
    for label in taxonomy.labels:
        for name in {label.id, label.name, *label.aliases}:
            previous = owners.setdefault(_key(name), label.id)
            if previous != label.id:
                raise TaxonomyError(f"{path}: alias {name!r} names both {previous} and {label.id}")
    for alias, candidates in taxonomy.ambiguous_label_aliases.items():
        if _key(alias) in owners:
            raise TaxonomyError(f"{path}: ambiguous alias {alias!r} is also a plain alias")
        unknown = [c for c in candidates if c not in ids]
        if unknown:
            raise TaxonomyError(f"{path}: ambiguous alias {alias!r} names unknown ids {unknown}")
