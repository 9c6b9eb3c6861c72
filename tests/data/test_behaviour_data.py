"""The committed behavioural cases cover every label in several registers and test reading,
not memory: none of their texts is a corpus row."""

from __future__ import annotations

from collections import Counter

import pytest

from outsourcing_classifier.behaviour import MinimumCase, load_behaviour
from outsourcing_classifier.corpus import text_key

MIN_CLEAR_TEXTS, MIN_REGISTERS = 8, 4


@pytest.fixture(scope="module")
def cases(project_paths, taxonomy):
    return load_behaviour(project_paths.behaviour, taxonomy)


def test_every_label_has_clear_texts_in_several_registers(cases, taxonomy):
    minimum = [c for c in cases if isinstance(c, MinimumCase)]
    counts = Counter(c.label for c in minimum)
    registers = {label: {c.why for c in minimum if c.label == label} for label in taxonomy.ids}
    assert {label: counts[label] >= MIN_CLEAR_TEXTS for label in taxonomy.ids} == dict.fromkeys(
        taxonomy.ids, True
    ), counts
    assert all(len(registers[label]) >= MIN_REGISTERS for label in taxonomy.ids), registers


def test_no_case_text_is_a_corpus_row(cases, corpus):
    keys = set(corpus["key"])
    assert [t for case in cases for t in case.texts if text_key(t) in keys] == []
