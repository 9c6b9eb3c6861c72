"""The spaCy stage of the pipeline: raw descriptions in, normalised token strings out.

``spacy.blank("en")`` tokenises; a ``domain_phrases`` component merges the abbreviations and
phrases of outsourcing contracts into canonical terms (A/P, RFQ, ICD-10, e-discovery, ...); the
lookup lemmatiser's table from spacy-lookups-data lemmatises the rest, lower-cased. Numbers,
money, e-mails and URLs become placeholders; stop words and punctuation go.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import spacy
from sklearn.base import BaseEstimator, TransformerMixin
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.lookups import Table, load_lookups
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Token

# Canonical term -> surface forms, matched case-insensitively.
DOMAIN_PHRASES: dict[str, tuple[str, ...]] = {
    "accounts_payable": ("a/p", "accounts payable", "account payable", "accts payable"),
    "accounts_receivable": ("a/r", "accounts receivable", "account receivable", "accts receivable"),
    "accounts_payable accounts_receivable": ("ap/ar", "a/p & a/r", "a/p and a/r", "ap & ar"),
    "request_for_quotation": (
        "rfq",
        "rfqs",
        "request for quotation",
        "request for quote",
        "requests for quotation",
    ),
    "request_for_proposal": ("rfp", "rfps", "request for proposal", "requests for proposal"),
    "request_for_information": ("rfi", "rfis", "request for information"),
    "purchase_order": ("p.o.", "p.o", "purchase order", "purchase orders", "p/o"),
    "icd_code": ("icd-10", "icd 10", "icd10", "icd-9", "icd-10-cm", "icd-10-pcs", "icd"),
    "cpt_code": ("cpt", "hcpcs", "cpt/hcpcs"),
    "revenue_cycle": ("rcm", "revenue cycle", "revenue-cycle", "revenue cycle management"),
    "ediscovery": ("e-discovery", "ediscovery", "e discovery", "electronic discovery"),
    "research_development": ("r&d", "r & d", "r and d", "research and development"),
    "human_resources": ("human resources", "human resource", "h.r."),
    "know_your_customer": ("kyc", "know your customer"),
    "travel_expense": (
        "t&e",
        "t & e",
        "travel and expense",
        "travel and expenses",
        "travel & expense",
        "travel & expenses",
    ),
    "procure_to_pay": ("p2p", "procure-to-pay", "procure to pay", "purchase-to-pay"),
    "source_to_pay": ("s2p", "source-to-pay", "source to pay"),
    "order_to_cash": ("o2c", "order-to-cash", "order to cash"),
    "record_to_report": ("r2r", "record-to-report", "record to report"),
    "electronic_health_record": (
        "ehr",
        "emr",
        "electronic health record",
        "electronic health records",
        "electronic medical record",
        "electronic medical records",
    ),
    "contract_research_organisation": (
        "cro",
        "cros",
        "contract research organisation",
        "contract research organization",
    ),
    "applicant_tracking_system": ("ats", "applicant tracking system"),
    "non_disclosure_agreement": (
        "nda",
        "ndas",
        "non-disclosure agreement",
        "non-disclosure agreements",
    ),
    "general_ledger": ("g/l", "general ledger"),
    "full_time_equivalent": ("fte", "ftes", "full-time equivalent"),
    "evaluation_management": ("e/m", "e&m"),
    "prior_authorisation": (
        "prior auth",
        "prior authorization",
        "prior authorisation",
        "pre-auth",
        "preauthorization",
        "pre-authorization",
    ),
}
# Upper-case acronyms that are ordinary words in lower case ("IT" vs "it"): matched exactly.
CASED_ACRONYMS: dict[str, tuple[str, ...]] = {
    "information_technology": ("IT",),
    "accounts_payable": ("AP",),
    "accounts_receivable": ("AR",),
    "purchase_order": ("PO", "POs"),
    "human_resources": ("HR",),
    "general_ledger": ("GL",),
}

DOMAIN_TERMS_KEY = "domain_terms"  # doc.user_data: token index -> canonical term
# Whitespace-separated chunks the tokenizer remembers. spaCy's default, 10,000, is smaller than
# a contract register's vocabulary; past it every unseen chunk is split into affixes again.
TOKENIZER_CACHE_SIZE = 200_000
FORMS_CACHE_SIZE = 200_000  # token forms the normaliser remembers between calls


class DomainPhrases:
    """spaCy component: merge domain phrases into one token each and record its canonical term
    in ``doc.user_data["domain_terms"]`` (token index -> term)."""

    def __init__(self, nlp: Language):
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.cased = PhraseMatcher(nlp.vocab, attr="ORTH")
        for term, forms in DOMAIN_PHRASES.items():
            self.matcher.add(term, [nlp.make_doc(form) for form in forms])
        for term, forms in CASED_ACRONYMS.items():
            self.cased.add(term, [nlp.make_doc(form) for form in forms])

    def __call__(self, doc: Doc) -> Doc:
        matches = [*self.matcher(doc), *self.cased(doc)]
        if not matches:
            return doc
        terms = {(start, end): doc.vocab.strings[match_id] for match_id, start, end in matches}
        spans = spacy.util.filter_spans([doc[start:end] for _, start, end in matches])
        found, removed = {}, 0
        for span in sorted(spans, key=lambda s: s.start):
            found[span.start - removed] = terms[(span.start, span.end)]
            removed += len(span) - 1
        with doc.retokenize() as retokenizer:
            for span in spans:
                retokenizer.merge(span)
        doc.user_data[DOMAIN_TERMS_KEY] = found
        return doc


@Language.factory("domain_phrases")
def make_domain_phrases(nlp: Language, name: str) -> DomainPhrases:
    return DomainPhrases(nlp)


def build_nlp(lang: str = "en") -> Language:
    """``spacy.blank(lang)`` + the domain-phrase component; nothing downloaded."""
    nlp = spacy.blank(lang)
    nlp.tokenizer.max_cache_size = TOKENIZER_CACHE_SIZE
    nlp.add_pipe("domain_phrases")
    nlp.initialize()
    return nlp


def load_lemmas(lang: str = "en") -> Table:
    """The lookup lemmatiser's table from spacy-lookups-data (word -> lemma).

    We apply it to lower-cased tokens ourselves: spaCy's lookup lemmatiser looks words up as
    written, so "Drafting" would stay "Drafting", and running it costs half the pipeline's time.
    """
    return load_lookups(lang, ["lemma_lookup"]).get_table("lemma_lookup")


def token_form(token: Token, lemmas: dict | None) -> str | None:
    """What an ordinary token contributes to the normalised text (``None``: dropped).

    It depends on the token's text alone, so callers may cache it per text.
    """
    if token.like_url:
        return "URL"
    if token.like_email:
        return "EMAIL"
    if token.is_currency:
        return "MONEY"
    if token.like_num or token.text[:1].isdigit():
        return "NUM"
    if token.is_stop or token.is_punct or token.is_space or token.is_bracket or token.is_quote:
        return None
    lower = token.lower_
    if lemmas is None:
        return lower
    return lemmas.get(lower, lower)


def normalise_doc(doc: Doc, lemmas: dict | None, forms: dict[int, str | None]) -> str:
    """The normalised text of one processed doc; ``forms`` caches token forms by text id.

    Token ids are read as one array: building a Token object per token costs more than the rest.
    """
    terms = doc.user_data.get(DOMAIN_TERMS_KEY, {})
    words = []
    for index, orth in enumerate(doc.to_array(ORTH).tolist()):
        if index in terms:
            words.append(terms[index])
            continue
        form = forms.get(orth, _UNSEEN)
        if form is _UNSEEN:
            form = forms[orth] = token_form(doc[index], lemmas)
        if form is not None:
            words.append(form)
    return " ".join(words)


_UNSEEN = object()


class SpacyNormalizer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: texts -> normalised strings, via a lazily built spaCy pipeline.

    It learns nothing from data; only its settings are parameters, so it is cheap to clone and
    the spaCy pipeline is rebuilt (not serialised) after loading.
    """

    def __init__(self, lang: str = "en", lemmatize: bool = True, batch_size: int = 512):
        self.lang = lang
        self.lemmatize = lemmatize
        self.batch_size = batch_size

    def fit(self, X: Iterable[str], y=None) -> SpacyNormalizer:
        self._as_texts(X)
        self.fitted_ = True
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        texts = self._as_texts(X)
        unique = list(dict.fromkeys(texts))  # repeated texts are processed once
        nlp = self._pipeline()
        lemmas = self._lemmas if self.lemmatize else None
        forms = self._forms_cache(lemmas)
        normalised = {
            text: normalise_doc(doc, lemmas, forms)
            for text, doc in zip(unique, nlp.pipe(unique, batch_size=self.batch_size), strict=True)
        }
        return np.array([normalised[text] for text in texts], dtype=object)

    def _pipeline(self) -> Language:
        if getattr(self, "_nlp", None) is None:
            self._nlp = build_nlp(self.lang)
            self._lemmas = load_lemmas(self.lang) if self.lemmatize else None
        return self._nlp

    def _forms_cache(self, lemmas: Table | None) -> dict[int, str | None]:
        """Token forms by text id, remembered between calls for these lemmas (bounded)."""
        cached = getattr(self, "_forms", None)
        if cached is None or cached[0] is not lemmas or len(cached[1]) > FORMS_CACHE_SIZE:
            cached = self._forms = (lemmas, {})
        return cached[1]

    @staticmethod
    def _as_texts(X: Iterable[str]) -> list[str]:
        if isinstance(X, str):
            raise ValueError("expected an iterable of texts, got a single string")
        array = np.asarray(X, dtype=object)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(f"expected a 1-D sequence of texts, got shape {array.shape}")
        return ["" if value is None or value != value else str(value) for value in array]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: for our classes it is the live __dict__
        state.pop("_nlp", None)
        state.pop("_lemmas", None)
        state.pop("_forms", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
