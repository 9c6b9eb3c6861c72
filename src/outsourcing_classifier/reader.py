"""The reading stage: long texts are read sentence by sentence and boilerplate is set aside.

A real advert, notice or contract wraps one or two sentences of work in many sentences of frame
(DESIGN §1). ``SentenceReader`` splits a text into sentences with spaCy's sentencizer (and at line
breaks), scores each with a small linear detector of boilerplate learned from the frame library,
and passes on only the sentences that describe work: those the detector does not call boilerplate
(probability under ``threshold``) and that are nearly as work-like as the text's most work-like
sentence (log-odds within ``margin`` of it), since frame sentences the detector has never seen
still score well above the work; a part the detector is sure is work (log-odds under
``sure_work``) is always kept. A one-sentence text passes unchanged, and so does a text in which
every sentence looks like boilerplate (then nothing better is known).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import spacy
from sklearn.base import BaseEstimator, TransformerMixin, clone

from outsourcing_classifier.corpus import normalise_text

_SENTENCE_END = re.compile(r"[.!?]\s+\S")
_BULLETS = "\u2022\u00b7\u25aa\u25cf|"  # bullets and the pipe
# A colon or semicolon, a spaced dash, a bullet or a pipe: where a cell or a line changes part.
_SEPARATOR = re.compile(rf"[:;]\s+|\s[-\u2013\u2014{_BULLETS}]+\s|[{_BULLETS}]")
_MAY_SPLIT = re.compile(f"[\\n\\r]|{_SENTENCE_END.pattern}|{_SEPARATOR.pattern}")


class SentenceReader(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: texts -> the sentences of each text that describe work.

    ``boilerplate``: frame pieces (whole sentences, no work) the ``detector`` (an unfitted
    scikit-learn classifier of texts, cloned at fit) learns from; the work side is every segment
    of the training texts that is not one of them. With no boilerplate or no detector the reader
    passes texts through unchanged.
    """

    def __init__(
        self,
        boilerplate: tuple[str, ...] = (),
        detector=None,
        threshold: float = 0.5,
        margin: float = 2.0,
        sure_work: float = -5.0,
        lang: str = "en",
    ):
        self.boilerplate = boilerplate
        self.detector = detector
        self.threshold = threshold
        self.margin = margin
        self.sure_work = sure_work
        self.lang = lang

    def fit(self, X: Iterable[str], y=None) -> SentenceReader:
        texts = [str(t) for t in X]
        if not self.boilerplate or self.detector is None:
            self.detector_ = None
            return self
        frame_sentences = [s for piece in self.boilerplate for s in self.sentences(piece)]
        known = {normalise_text(s) for s in frame_sentences}
        work_sentences = list(
            dict.fromkeys(
                s
                for sentences in self._split_all(texts)
                for s in sentences
                if normalise_text(s) not in known
            )
        )
        self.detector_ = clone(self.detector).fit(
            work_sentences + frame_sentences,
            np.r_[np.zeros(len(work_sentences)), np.ones(len(frame_sentences))],
        )
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        texts = [str(t) for t in X]
        if getattr(self, "detector_", None) is None:
            return np.array(texts, dtype=object)
        return np.array(
            [" ".join(kept) for kept in self.read_all(texts)],
            dtype=object,
        )

    def read_all(self, texts: list[str]) -> list[list[str]]:
        """For each text, the sentences kept as work (all of them for a one-sentence text)."""
        split = self._split_all(texts)
        long = [sentences for sentences in split if len(sentences) > 1]
        if not long or getattr(self, "detector_", None) is None:
            return split
        log_odds = self.detector_.decision_function([s for sentences in long for s in sentences])
        ceiling = np.log(self.threshold / (1.0 - self.threshold))
        kept, start = [], 0
        for sentences in split:
            if len(sentences) <= 1:
                kept.append(sentences)
                continue
            scores = log_odds[start : start + len(sentences)]
            start += len(sentences)
            close = (scores <= scores.min() + self.margin) | (scores < self.sure_work)
            work = (scores < ceiling) & close
            kept.append([s for s, keep in zip(sentences, work, strict=True) if keep] or sentences)
        return kept

    def sentences(self, text: str) -> list[str]:
        return self._split_all([text])[0]

    def _split_all(self, texts: list[str]) -> list[list[str]]:
        """Each text's segments: lines, then spaCy's sentences, then the parts between
        separators (a colon or semicolon, a spaced dash, a bullet, a pipe). A text with none of
        them is one segment and never reaches spaCy (most register cells)."""
        lines_of = [
            [line for line in t.splitlines() if line.strip()] if _MAY_SPLIT.search(t) else [t]
            for t in texts
        ]
        ends = (line for lines in lines_of for line in lines if _SENTENCE_END.search(line))
        to_split = list(dict.fromkeys(ends))
        sentences = dict(
            zip(
                to_split,
                (
                    [s.text for s in doc.sents]
                    for doc in self._sentencizer().pipe(to_split, batch_size=256)
                ),
                strict=True,
            )
        )
        return [
            [
                part
                for line in lines
                for sentence in sentences.get(line, [line])
                for part in (p.strip() for p in _SEPARATOR.split(sentence))
                if part
            ]
            for lines in lines_of
        ]

    def _sentencizer(self):
        if getattr(self, "_nlp", None) is None:
            self._nlp = spacy.blank(self.lang)
            self._nlp.add_pipe("sentencizer")
        return self._nlp

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_nlp", None)
        return state
