"""The compact vectorizer: same features as scikit-learn's, and a state that round-trips."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from outsourcing_classifier.model import CompactTfidfVectorizer

TRAIN = [
    "invoice processing and accounts payable",
    "payroll payroll payroll processing",
    "ICD-10 coding for outpatient claims",
    "résumé screening for café staff",
    "e-discovery document review",
]
UNSEEN = [
    "payroll for café staff, payroll again",
    "",
    "zzz qqq",  # no known n-gram
    "Accounts  payable\tinvoice   processing",
    "coding coding coding coding",
]


@pytest.mark.parametrize("options", [{}, {"sublinear_tf": True}, {"max_features": 40}])
def test_char_wb_features_equal_scikit_learns(options):
    settings = {"analyzer": "char_wb", "ngram_range": (2, 5), **options}
    ours = CompactTfidfVectorizer(**settings).fit(TRAIN)
    reference = TfidfVectorizer(**settings).fit(TRAIN)
    assert ours.vocabulary_ == reference.vocabulary_
    expected = reference.transform(UNSEEN).toarray()
    assert np.abs(expected).sum() > 0
    np.testing.assert_allclose(ours.transform(UNSEEN).toarray(), expected, rtol=1e-12)


def test_remembered_words_follow_a_refit():
    vectorizer = CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(TRAIN)
    vectorizer.transform(UNSEEN)  # fills the per-word cache for this vocabulary
    vectorizer.fit(UNSEEN[:1] + TRAIN[2:])
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(UNSEEN[:1] + TRAIN[2:])
    np.testing.assert_allclose(
        vectorizer.transform(UNSEEN).toarray(), reference.transform(UNSEEN).toarray()
    )
    assert "_word_columns" not in vectorizer.__getstate__()


def test_word_features_are_scikit_learns():
    ours = CompactTfidfVectorizer(ngram_range=(1, 2)).fit(TRAIN)
    reference = TfidfVectorizer(ngram_range=(1, 2)).fit(TRAIN)
    np.testing.assert_allclose(
        ours.transform(UNSEEN).toarray(), reference.transform(UNSEEN).toarray()
    )


def test_state_keeps_the_vocabulary_as_one_string_and_restores_it():
    fitted = CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)).fit(TRAIN)
    state = fitted.__getstate__()
    assert "vocabulary_" not in state and isinstance(state["vocabulary_terms_"], str)
    restored = CompactTfidfVectorizer.__new__(CompactTfidfVectorizer)
    restored.__setstate__(state)
    assert restored.vocabulary_ == fitted.vocabulary_
    np.testing.assert_array_equal(
        restored.transform(UNSEEN).toarray(), fitted.transform(UNSEEN).toarray()
    )
