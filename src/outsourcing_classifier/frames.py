"""The frame library: the boilerplate that real documents wrap around the work (DESIGN §1).

``data/frames/*.csv`` holds pieces of job adverts, tender notices, contract clauses, e-mails,
spreadsheet cells and purchase requisitions, none of them naming a service. Whole pieces
(``opening``, ``middle``, ``closing``) stand around the work; ``inline`` pieces hold it in a
``{work}`` slot. A stable hash of each piece puts it in the training or the held-out half, so the
frames a model is judged on are never frames it was trained with. Wrapping is label-blind: every
label is framed by the same distribution, so a frame's words cannot become label evidence.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from outsourcing_classifier.config import UserFacingError
from outsourcing_classifier.corpus import text_key
from outsourcing_classifier.taxonomy import Taxonomy

SLOT = "{work}"
PARTS = ("opening", "middle", "closing", "inline")
REGISTERS = (
    "job_advert",
    "tender_notice",
    "contract_clause",
    "email_memo",
    "spreadsheet_cell",
    "purchase_requisition",
)
# Registers whose documents are one line: the work sits in an inline piece, little around it.
LINE_REGISTERS = frozenset({"spreadsheet_cell", "purchase_requisition"})
HELDOUT_PERCENT = 25
COLUMNS = ("text", "register", "part")
# Words that splitting the descriptions leaves alone but that ordinary documents use for other
# things ("business", "professional development", "document", "review period", "IT" as "it").
GENERIC_FRAGMENTS = frozenset(
    {"business", "development", "document", "processing", "review", "selection", "equity",
     "retirement", "travel", "it", "creative", "facilities", "trades"}
)  # fmt: skip


# Single words of the taxonomy's descriptions that name one kind of work wherever they stand (its
# phrases are checked whole; these words would otherwise hide inside other phrasing).
SERVICE_WORDS = (
    "accounting", "analytics", "assay", "billing", "bioinformatics", "biotech", "bookkeeping",
    "cleaning", "clinical", "coding", "compensation", "construction", "drafting",
    "due-diligence", "e-discovery", "hiring", "interviewing", "laboratory", "legal", "licensing",
    "manufacturing", "marketing", "medical", "onboarding", "patent", "patient", "payroll",
    "pharma", "pre-litigation", "procurement", "prosecution", "purchasing", "recruitment",
    "recruiting", "revenue-cycle", "rfq/rfp", "software", "staffing", "training", "transcription",
    "trials", "vacancies", "valuation",
)  # fmt: skip


# An advert's own words about filling the post it advertises: frame, not work (DESIGN §1: "the
# hiring words of an advert ... are the frame"), so a frame piece may use them although they
# share words with recruitment services. A service word inside one of them is not a service.
ADVERT_HIRING_IDIOMS = (
    "we are recruiting", "we're recruiting", "is recruiting", "are recruiting", "recruiting for",
    "now recruiting", "we are hiring", "we're hiring", "now hiring", "is hiring", "are hiring",
    "hiring manager", "hiring process", "our recruitment process", "the recruitment process",
    "recruitment timetable", "recruitment pack",
)  # fmt: skip
_IDIOM = re.compile("|".join(re.escape(idiom) for idiom in ADVERT_HIRING_IDIOMS), re.IGNORECASE)


class FrameError(UserFacingError):
    """A frame file breaks the schema or names a service; the message names file and row."""


@dataclass(frozen=True)
class Frame:
    text: str
    register: str
    part: str

    @property
    def heldout(self) -> bool:
        """In the held-out half (about ``HELDOUT_PERCENT`` %), decided by the text alone."""
        return int(text_key(self.text)[8:16], 16) % 100 < HELDOUT_PERCENT


@dataclass(frozen=True)
class FrameLibrary:
    frames: tuple[Frame, ...]

    def half(self, heldout: bool) -> FrameLibrary:
        return FrameLibrary(tuple(f for f in self.frames if f.heldout == heldout))

    @cached_property
    def registers(self) -> tuple[str, ...]:
        return tuple(r for r in REGISTERS if any(f.register == r for f in self.frames))

    @cached_property
    def _pieces(self) -> dict[tuple[str, str], tuple[str, ...]]:
        pieces: dict[tuple[str, str], list[str]] = {}
        for frame in self.frames:
            pieces.setdefault((frame.register, frame.part), []).append(frame.text)
        return {key: tuple(texts) for key, texts in pieces.items()}

    def pieces(self, register: str, part: str) -> tuple[str, ...]:
        return self._pieces.get((register, part), ())

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the pieces and their registers and parts, in order."""
        digest = hashlib.sha256()
        for frame in self.frames:
            digest.update(f"{frame.register}\t{frame.part}\t{frame.text}\n".encode())
        return digest.hexdigest()

    @property
    def boilerplate(self) -> tuple[str, ...]:
        """What the reader learns to set aside: the whole pieces, and the text on either side of
        each inline piece's slot."""
        texts = (part for f in self.frames for part in f.text.split(SLOT))
        return tuple(text.strip() for text in texts if text.strip())


def service_vocabulary(taxonomy: Taxonomy) -> tuple[str, ...]:
    """Phrases that name a service: every label's aliases and the items of its description,
    plus :data:`SERVICE_WORDS`. ``other`` contributes its description only (its aliases are
    words like "none")."""
    phrases: set[str] = set()
    for label in taxonomy.labels:
        if label.id != "other":
            phrases.update(alias.lower() for alias in label.aliases)
        described = re.sub(r"\([^)]*\)|^[^:]*:", "", label.description.lower())
        for item in re.split(r",|;|\.|\band\b|\babove all\b", described):
            item = item.strip(" -")
            if item and item not in GENERIC_FRAGMENTS:
                phrases.add(item)
    phrases.update(acronym.lower() for acronym in taxonomy.ambiguous_text_acronyms)
    phrases.update(SERVICE_WORDS)
    return tuple(sorted(phrases))


def service_named(text: str, vocabulary: Sequence[str]) -> str | None:
    """The first service phrase that ``text`` contains as whole words, if any; a match that lies
    inside one of the :data:`ADVERT_HIRING_IDIOMS` does not count."""
    lowered = text.lower()
    idioms = [match.span() for match in _IDIOM.finditer(lowered)]
    for phrase in vocabulary:
        for match in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", lowered):
            if not any(start <= match.start() and match.end() <= end for start, end in idioms):
                return phrase
    return None


def load_frames(folder: Path, taxonomy: Taxonomy) -> FrameLibrary:
    """Every ``*.csv`` in ``folder``, validated: known register and part, one slot in inline
    pieces and none elsewhere, no service named, no piece twice."""
    vocabulary = service_vocabulary(taxonomy)
    frames: list[Frame] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise FrameError(f"{path}: missing column(s) {', '.join(missing)}")
            for line, row in enumerate(reader, start=2):
                frame = Frame(row["text"].strip(), row["register"].strip(), row["part"].strip())
                _check(frame, f"{path}:{line}", vocabulary)
                key = text_key(frame.text)
                if key in seen:
                    raise FrameError(f"{path}:{line}: the same piece as {seen[key]}")
                seen[key] = f"{path.name}:{line}"
                frames.append(frame)
    if not frames:
        raise FrameError(f"{folder}: no frame pieces")
    return FrameLibrary(tuple(frames))


def _check(frame: Frame, where: str, vocabulary: Sequence[str]) -> None:
    if frame.register not in REGISTERS:
        raise FrameError(f"{where}: unknown register {frame.register!r}")
    if frame.part not in PARTS:
        raise FrameError(f"{where}: unknown part {frame.part!r}; parts are {', '.join(PARTS)}")
    slots = frame.text.count(SLOT)
    if frame.part == "inline" and (slots != 1 or frame.text.count("{") != 1):
        raise FrameError(f"{where}: an inline piece holds exactly one {SLOT}")
    if frame.part != "inline" and ("{" in frame.text or "}" in frame.text):
        raise FrameError(f"{where}: only inline pieces hold a slot")
    named = service_named(frame.text.replace(SLOT, " "), vocabulary)
    if named:
        raise FrameError(f"{where}: names a service ({named!r}); a frame must carry no work")


def wrap(text: str, register: str, library: FrameLibrary, rng: np.random.Generator) -> str:
    """``text`` as a document of ``register`` would carry it, with pieces drawn by ``rng``."""

    def draw(part: str, count: int) -> list[str]:
        pieces = library.pieces(register, part)
        if not pieces or count <= 0:
            return []
        return [pieces[i] for i in rng.choice(len(pieces), size=min(count, len(pieces)))]

    inline = draw("inline", 1 if register in LINE_REGISTERS or rng.random() < 0.6 else 0)
    work = inline[0].replace(SLOT, text.strip()) if inline else text.strip()
    if register in LINE_REGISTERS:
        around = draw("middle", int(rng.random() < 0.3))
        return " ".join([work, *around])
    before = draw("opening", int(rng.integers(0, 3)))
    middles = draw("middle", int(rng.integers(0, 4)))
    cut = int(rng.integers(0, len(middles) + 1))
    after = draw("closing", int(rng.integers(0, 3)))
    # Documents keep their parts on lines of their own, or arrive flattened into one line.
    joiner = "\n" if rng.random() < 0.5 else " "
    return joiner.join([*before, *middles[:cut], work, *middles[cut:], *after])


def wrap_all(
    texts: Sequence[str],
    library: FrameLibrary,
    seed: int,
    register: str | None = None,
) -> tuple[list[str], list[str]]:
    """Each text wrapped once, in ``register`` or in a register drawn at random per text.

    A text's frame depends only on ``seed`` and the text itself, so adding rows to a corpus
    leaves the framing of every other row as it was. Returns the wrapped texts and the register
    each one was given.
    """
    registers = library.registers
    wrapped, chosen = [], []
    for text in texts:
        rng = np.random.default_rng([seed, int(text_key(text)[:15], 16)])
        kind = register or registers[int(rng.integers(len(registers)))]
        wrapped.append(wrap(text, kind, library, rng))
        chosen.append(kind)
    return wrapped, chosen


def augment(
    texts: Sequence[str], library: FrameLibrary, copies: int, seed: int
) -> tuple[list[str], list[int]]:
    """``copies`` framed copies of every text, each in a register drawn at random: label-blind,
    so every label is framed by the same distribution. Returns the copies and, for each, the
    index of the text it wraps."""
    framed: list[str] = []
    origin: list[int] = []
    for copy in range(copies):
        wrapped, _ = wrap_all(texts, library, seed + copy)
        framed.extend(wrapped)
        origin.extend(range(len(texts)))
    return framed, origin
