"""Taxonomy loading, validation and label resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from outsourcing_classifier.taxonomy import TaxonomyError, load_taxonomy

DESIGN_IDS = (
    "bpo", "kpo", "lpo", "research_po", "recruitment_po", "hro", "mbpo", "procurement_bpo", "other",
)  # fmt: skip


def test_label_ids_are_the_design_table(taxonomy):
    assert set(taxonomy.ids) == set(DESIGN_IDS)
    assert "rpo" not in taxonomy.ids


@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("bpo", "BPO"),
        ("kpo", "KPO"),
        ("lpo", "KPO"),  # the design resolves the seed's contradiction: judgment-heavy
        ("research_po", "KPO"),
        ("recruitment_po", "BPO"),  # part of HRO
        ("hro", "BPO"),
        ("mbpo", "BPO"),
        ("procurement_bpo", "BPO"),
        ("other", "none"),
    ],
)
def test_families(taxonomy, label, family):
    assert taxonomy.family_of(label) == family


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("bpo", "bpo"),  # the id itself
        ("BPO", "bpo"),  # upper-case acronym
        ("Legal Process Outsourcing", "lpo"),  # full name, any case
        ("legal-process outsourcing", "lpo"),  # punctuation ignored
        ("LPO", "lpo"),  # as a label, LPO is legal process outsourcing
        ("HRO", "hro"),
        ("HR outsourcing", "hro"),
        ("Medical BPO", "mbpo"),
        ("M.B.P.O.", "mbpo"),  # dots ignored
        ("Procurement BPO", "procurement_bpo"),
        ("procurement_bpo", "procurement_bpo"),
        ("research_po", "research_po"),
        ("Recruitment Process Outsourcing", "recruitment_po"),
        ("  none of these ", "other"),  # surrounding spaces ignored
    ],
)
def test_resolve_aliases(taxonomy, given, expected):
    assert taxonomy.resolve(given) == expected


@pytest.mark.parametrize("given", ["RPO", "rpo", "R.P.O."])
def test_ambiguous_alias_names_the_candidates(taxonomy, given):
    with pytest.raises(TaxonomyError, match="research_po or recruitment_po"):
        taxonomy.resolve(given)


def test_ambiguous_alias_resolves_with_a_mapping(taxonomy):
    assert taxonomy.resolve("RPO", {"RPO": "recruitment_po"}) == "recruitment_po"
    assert taxonomy.resolve("rpo", {"RPO": "Research Process Outsourcing"}) == "research_po"


def test_unknown_label_lists_the_ids(taxonomy):
    with pytest.raises(TaxonomyError) as error:
        taxonomy.resolve("IT outsourcing")
    assert all(label in str(error.value) for label in DESIGN_IDS)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Our RPO partner screens 400 applicants a month", ("RPO",)),
        ("Raise LPOs for stationery and toner", ("LPO",)),  # local purchase orders, plural
        ("Payroll for 3 countries", ()),
        ("Corporate purchase order approvals", ()),  # 'rpo' inside a word is not the acronym
    ],
)
def test_ambiguous_acronyms_in_text(taxonomy, text, flagged):
    assert taxonomy.ambiguous_acronyms_in(text) == flagged


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _valid() -> dict:
    return {
        "families": {"BPO": "", "none": ""},
        "labels": [
            {"id": "bpo", "name": "Business", "family": "BPO", "aliases": ["BPO"]},
            {"id": "other", "name": "Other", "family": "none"},
        ],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["labels"].append(dict(d["labels"][0])), "duplicate label ids"),
        (lambda d: d["labels"][0].update(family="XYZ"), "unknown family"),
        (lambda d: d["labels"][0].update(parent="nope"), "unknown parent"),
        (lambda d: d["labels"][1].update(aliases=["bpo"]), "names both"),
        (lambda d: d["labels"][0].update(id="Bad Id"), "snake case"),
        (lambda d: d.update(ambiguous_label_aliases={"X": ["bpo", "zzz"]}), "unknown ids"),
        (lambda d: d["labels"][0].pop("name"), "lacks field"),
    ],
)
def test_invalid_taxonomies_are_refused(tmp_path, change, message):
    data = _valid()
    change(data)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(_write(tmp_path, data))


def test_parent_cycle_is_refused(tmp_path):
    data = _valid()
    data["labels"][0]["parent"] = "other"
    data["labels"][1]["parent"] = "bpo"
    with pytest.raises(TaxonomyError, match="cycle"):
        load_taxonomy(_write(tmp_path, data))


def test_valid_minimal_taxonomy_loads(tmp_path):
    assert load_taxonomy(_write(tmp_path, _valid())).ids == ("bpo", "other")
