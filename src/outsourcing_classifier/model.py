"""The pipeline: sentence reader -> spaCy normaliser -> word + character TF-IDF -> calibrated
linear classifier."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from outsourcing_classifier.config import ModelConfig
from outsourcing_classifier.preprocess import SpacyNormalizer
from outsourcing_classifier.reader import SentenceReader

CLASSIFIER_KINDS = ("logreg", "linear_svc", "sgd")
WORD_CACHE_SIZE = 200_000  # distinct words whose n-gram columns a vectorizer remembers


class CompactTfidfVectorizer(TfidfVectorizer):
    """A TfidfVectorizer that saves compactly and transforms ``char_wb`` features fast.

    - Saving: skops writes a dict entry by entry, so the vocabulary is kept as one string (a plain
      vectorizer made the model file 80 MB and took seconds to load). ``stop_words_`` is for
      introspection only and is dropped, as scikit-learn documents.
    - ``char_wb`` transform: a document's n-grams are the union of its words' n-grams, so each
      distinct word is analysed once (and remembered) and the counts are one sparse product;
      the result equals scikit-learn's.
    """

    def transform(self, raw_documents):
        if self.analyzer != "char_wb" or self.binary or not hasattr(self, "vocabulary_"):
            return super().transform(raw_documents)
        return self._tfidf.transform(self._char_wb_counts(raw_documents), copy=False)

    def _char_wb_counts(self, documents) -> sparse.csr_matrix:
        """Documents x words (how often each distinct word occurs) times words x n-grams."""
        preprocess, vocabulary = self.build_preprocessor(), self.vocabulary_
        word_ids: dict[str, int] = {}
        words_of_documents: list[int] = []
        document_ends = [0]
        for document in documents:
            for word in preprocess(self.decode(document)).split():
                words_of_documents.append(word_ids.setdefault(word, len(word_ids)))
            document_ends.append(len(words_of_documents))
        columns_of = self._columns_of_words()
        grams: list[int] = []
        word_ends = [0]
        for word in word_ids:
            columns = columns_of.get(word)
            if columns is None:
                grams_of_word = self._char_wb_ngrams(word)
                columns = columns_of[word] = [
                    vocabulary[g] for g in grams_of_word if g in vocabulary
                ]
            grams.extend(columns)
            word_ends.append(len(grams))
        documents_by_words = sparse.csr_matrix(
            (np.ones(len(words_of_documents), self.dtype), words_of_documents, document_ends),
            shape=(len(document_ends) - 1, len(word_ids)),
        )
        words_by_grams = sparse.csr_matrix(
            (np.ones(len(grams), self.dtype), grams, word_ends),
            shape=(len(word_ids), len(vocabulary)),
        )
        return (documents_by_words @ words_by_grams).tocsr()

    def _columns_of_words(self) -> dict[str, list[int]]:
        """Each word's n-gram columns, remembered between calls for this vocabulary (bounded)."""
        cached = getattr(self, "_word_columns", None)
        if cached is None or cached[0] is not self.vocabulary_ or len(cached[1]) > WORD_CACHE_SIZE:
            cached = self._word_columns = (self.vocabulary_, {})
        return cached[1]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: for our classes it is the live __dict__
        state.pop("stop_words_", None)
        state.pop("_word_columns", None)
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            state["vocabulary_terms_"] = "\n".join(terms)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {term: i for i, term in enumerate(terms.split("\n"))}
        super().__setstate__(state)


def build_features(config: ModelConfig) -> FeatureUnion:
    """Word (1-2) and character (``char_wb`` 2-5) TF-IDF with sublinear term frequency."""
    return FeatureUnion(
        [
            (
                "words",
                CompactTfidfVectorizer(
                    ngram_range=config.word_ngrams,
                    min_df=config.word_min_df,
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w\w+\b",
                ),
            ),
            (
                "chars",
                CompactTfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=config.char_ngrams,
                    min_df=config.char_min_df,
                    max_features=config.max_char_features,
                    sublinear_tf=True,
                ),
            ),
        ]
    )


def build_boilerplate_detector(seed: int) -> Pipeline:
    """The reader's detector: boilerplate vs work segments, from word (1-2) and character
    (``char_wb`` 3-5) TF-IDF and a balanced logistic regression."""
    return Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        ("words", CompactTfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                        (
                            "chars",
                            CompactTfidfVectorizer(
                                analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2
                            ),
                        ),
                    ]
                ),
            ),
            (
                "classify",
                LogisticRegression(
                    C=10.0, max_iter=2000, class_weight="balanced", random_state=seed
                ),
            ),
        ]
    )


def build_classifier(kind: str, strength: float, seed: int):
    """An uncalibrated linear classifier; ``strength`` is C (logreg, SVC) or alpha (SGD)."""
    if kind == "logreg":
        return LogisticRegression(C=strength, max_iter=3000, tol=1e-3, random_state=seed)
    if kind == "linear_svc":
        return LinearSVC(C=strength, random_state=seed)
    if kind == "sgd":
        return SGDClassifier(
            loss="modified_huber", alpha=strength, max_iter=100, tol=1e-4, random_state=seed
        )
    raise ValueError(f"unknown classifier kind {kind!r}; choose from {', '.join(CLASSIFIER_KINDS)}")


def build_pipeline(
    config: ModelConfig,
    kind: str = "logreg",
    strength: float = 10.0,
    boilerplate: tuple[str, ...] = (),
) -> Pipeline:
    """The whole model: everything that learns from data sits inside this one pipeline.

    ``boilerplate``: the frame pieces the reader learns to set aside (none: it reads every
    sentence).
    """
    calibrated = CalibratedClassifierCV(
        build_classifier(kind, strength, config.seed),
        method=config.calibration,
        cv=StratifiedKFold(config.calibration_folds, shuffle=True, random_state=config.seed),
        ensemble=False,
    )
    return Pipeline(
        [
            (
                "read",
                SentenceReader(
                    boilerplate,
                    build_boilerplate_detector(config.seed),
                    config.reader_threshold,
                    config.reader_margin,
                    config.reader_sure_work,
                    config.preprocess.lang,
                ),
            ),
            (
                "normalise",
                SpacyNormalizer(
                    lang=config.preprocess.lang,
                    lemmatize=config.preprocess.lemmatize,
                    batch_size=config.preprocess.batch_size,
                ),
            ),
            ("features", build_features(config)),
            ("classify", calibrated),
        ]
    )


def linear_coefficients(pipeline: Pipeline) -> np.ndarray:
    """The (classes x features) weights of the fitted linear model inside the calibration."""
    calibrated = pipeline.named_steps["classify"].calibrated_classifiers_[0]
    coef = np.asarray(calibrated.estimator.coef_)
    if coef.shape[0] == 1:  # binary problems store one row
        coef = np.vstack([-coef[0], coef[0]])
    return coef


def feature_names(pipeline: Pipeline) -> np.ndarray:
    return pipeline.named_steps["features"].get_feature_names_out()
