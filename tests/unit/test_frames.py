"""The frame library: validation, a stable held-out half, label-blind wrapping."""

from __future__ import annotations

import numpy as np
import pytest

from outsourcing_classifier.frames import (
    SLOT,
    Frame,
    FrameError,
    FrameLibrary,
    augment,
    load_frames,
    wrap,
    wrap_all,
)

HEADER = "text,register,part\n"
GOOD = (
    "Join a friendly team in the heart of the city.,job_advert,middle\n"
    '"The post holder will: {work}",job_advert,inline\n'
    "Apply with your CV by 30 June.,job_advert,closing\n"
    "We are looking for someone special.,job_advert,opening\n"
    '"CT-0041 | {work} | 2.0 FTE",spreadsheet_cell,inline\n'
)


def write(folder, body: str):
    folder.mkdir(exist_ok=True)
    (folder / "frames.csv").write_text(HEADER + body, encoding="utf-8")
    return folder


def test_a_valid_library_loads_with_its_registers(tmp_path, taxonomy):
    library = load_frames(write(tmp_path / "f", GOOD), taxonomy)
    assert library.registers == ("job_advert", "spreadsheet_cell")
    assert library.pieces("job_advert", "inline") == ("The post holder will: {work}",)
    assert library.boilerplate == (
        "Join a friendly team in the heart of the city.",
        "The post holder will:",
        "Apply with your CV by 30 June.",
        "We are looking for someone special.",
        "CT-0041 |",
        "| 2.0 FTE",
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # a piece that names the work would teach the model that frames carry labels
        ("Monthly payroll for all staff is part of the post.,job_advert,middle", "names a service"),
        ("Lot 2 covers legal research support.,tender_notice,middle", "names a service"),
        ("Hi all - can someone pick up the RPO file?,email_memo,opening", "names a service"),
        ("Ref 44 | 1 FTE,spreadsheet_cell,inline", "exactly one {work}"),
        ('"{work} and {work}",spreadsheet_cell,inline', "exactly one {work}"),
        ('"Dear {work},",email_memo,opening', "only inline pieces hold a slot"),
        ("Kind regards,email_memo,signature", "unknown part"),
        ("Kind regards,fax_cover,closing", "unknown register"),
        ("Join a friendly team in the heart of the city!,job_advert,middle", "the same piece"),
    ],
)
def test_bad_pieces_are_refused_naming_file_and_line(tmp_path, taxonomy, row, message):
    folder = write(tmp_path / "f", GOOD + row + "\n")
    with pytest.raises(FrameError, match=message) as error:
        load_frames(folder, taxonomy)
    assert "frames.csv:7" in str(error.value)


def test_an_adverts_own_hiring_idioms_are_frame_but_recruiting_as_a_service_is_not(
    tmp_path, taxonomy
):
    idioms = (
        '"We are recruiting a reliable, organised person to join the team.",job_advert,opening\n'
        '"Our recruitment process has two interviews; the hiring manager calls within a week.",'
        "job_advert,middle\n"
    )
    library = load_frames(write(tmp_path / "f", GOOD + idioms), taxonomy)
    assert len(library.frames) == 7
    service = '"Our recruiting team fills vacancies for clients.",job_advert,middle\n'
    with pytest.raises(FrameError, match="names a service"):
        load_frames(write(tmp_path / "g", GOOD + service), taxonomy)


def test_every_taxonomy_alias_is_refused_in_a_piece(tmp_path, taxonomy):
    for label in taxonomy.labels:
        if label.id == "other":
            continue
        for alias in label.aliases:
            folder = write(
                tmp_path / "f", GOOD + f'"Our {alias} team is growing.",job_advert,middle\n'
            )
            with pytest.raises(FrameError, match="names a service"):
                load_frames(folder, taxonomy)


def test_the_held_out_half_depends_on_the_text_alone():
    frames = [
        Frame(f"Closing date {day} March, noon.", "job_advert", "closing") for day in range(400)
    ]
    library = FrameLibrary(tuple(frames))
    heldout = {f.text for f in library.half(heldout=True).frames}
    again = {f.text for f in FrameLibrary(tuple(reversed(frames))).half(heldout=True).frames}
    assert heldout == again
    assert 0.15 < len(heldout) / len(frames) < 0.35
    assert heldout.isdisjoint(f.text for f in library.half(heldout=False).frames)


def test_wrap_keeps_the_work_and_adds_only_library_pieces(tmp_path, taxonomy):
    library = load_frames(write(tmp_path / "f", GOOD), taxonomy)
    work = "Run monthly payroll for 1,200 staff."
    for seed in range(20):
        framed = wrap(work, "job_advert", library, np.random.default_rng(seed))
        assert work in framed
        rest = framed.replace("The post holder will: " + work, "").replace(work, "")
        for piece in library.boilerplate:
            rest = rest.replace(piece, "")
        assert rest.strip() == ""
    cell = wrap(work, "spreadsheet_cell", library, np.random.default_rng(0))
    assert cell == "CT-0041 | " + work + " | 2.0 FTE"


def test_wrapping_is_seeded_and_label_blind(tmp_path, taxonomy):
    library = load_frames(write(tmp_path / "f", GOOD), taxonomy)
    texts = [f"text {i}" for i in range(50)]
    first, registers = wrap_all(texts, library, seed=3)
    assert (first, registers) == wrap_all(texts, library, seed=3)
    assert set(registers) == {"job_advert", "spreadsheet_cell"}
    framed, origin = augment(texts, library, copies=2, seed=3)
    assert origin == list(range(50)) * 2
    assert all(texts[i] in text for text, i in zip(framed, origin, strict=True))
    assert SLOT not in "".join(framed)


def test_a_texts_frame_does_not_depend_on_the_other_texts(tmp_path, taxonomy):
    """Adding rows to the corpus must not reframe every other row (a retrain stays comparable)."""
    library = load_frames(write(tmp_path / "f", GOOD), taxonomy)
    texts = [f"text {i}" for i in range(30)]
    alone, _ = wrap_all(texts[10:], library, seed=4)
    together, _ = wrap_all(texts, library, seed=4)
    assert together[10:] == alone
