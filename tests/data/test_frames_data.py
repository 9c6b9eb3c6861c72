"""The committed frame library meets its data card: size, registers, parts, halves, no work."""

from __future__ import annotations

from collections import Counter

from outsourcing_classifier.frames import PARTS, REGISTERS, load_frames


def test_the_library_is_large_valid_and_covers_every_register(project_paths, taxonomy):
    library = load_frames(project_paths.frames, taxonomy)  # refuses any piece naming a service
    assert len(library.frames) >= 1500
    assert library.registers == REGISTERS
    counts = Counter((f.register, f.part) for f in library.frames)
    assert [r for r in REGISTERS if counts[(r, "inline")] < 50] == []
    assert [r for r in REGISTERS if sum(counts[(r, p)] for p in PARTS) < 200] == []


def test_both_halves_hold_every_register_and_part(project_paths, taxonomy):
    library = load_frames(project_paths.frames, taxonomy)
    for heldout in (False, True):
        half = library.half(heldout)
        present = {(f.register, f.part) for f in half.frames}
        assert {(r, "inline") for r in REGISTERS} <= present
        assert {(r, "middle") for r in REGISTERS} <= present
    assert 0.2 <= len(library.half(heldout=True).frames) / len(library.frames) <= 0.3
