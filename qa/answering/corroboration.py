"""Answer + scored evidence -> the other articles that state the same thing ("also reported by …").

A statement convinces more when several outlets make it. Evidence from another article corroborates the
quoted statement when it gives the same answer to the question (the same number, name or date, for a
question that asks for one) or, for other questions, repeats most of what the quote adds to the question;
and when the cross-encoder rates it an answer nearly as good. A syndicated copy of the quoted text is no
second source: retrieval already keeps one of near-identical passages, and it is skipped here too.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected, answer_span
from qa.text.names import names
from qa.text.sentences import split_sentences
from qa.text.words import COPY_OVERLAP, overlap, terms, tokens

MAX_CORROBORATING = 3
SCORE_MARGIN = 3.0  # logits below the quoted evidence a corroborating sentence may score
SAME_STATEMENT = 0.5  # share of the quote's new terms (not in the question) the other sentence repeats
MIN_SHARED_TERMS = 3


def corroborating(question: str, kind: Expected, quote: str, passage_text: str, evidence: Sequence[Evidence],
                  other_than: set[str]) -> list[Evidence]:
    """Up to three pieces of ``evidence`` (best first, each already likely enough to answer), one per article
    not in ``other_than``, that state what ``quote`` (from a passage of ``passage_text``) states, scoring within
    ``SCORE_MARGIN`` of the best."""
    if not evidence:
        return []
    floor = evidence[0].score - SCORE_MARGIN
    pool = [e for e in evidence if e.score >= floor and e.passage.article_id not in other_than]
    if not pool:
        return []
    quote = _answering_sentence(question, kind, quote)
    quoted_answer = _answer_text(question, kind, quote)
    # One tokenizer pass for the question, the quote, its answer and every candidate.
    named = " ".join(name.text for name in names(quote))
    asked, quoted, answer_terms, name_terms, *pool_terms = terms(
        [question, quote, quoted_answer, named, *(e.text for e in pool)])
    quoted_terms = quoted - asked
    main_words = _words(passage_text)
    found: list[Evidence] = []
    seen = set(other_than)
    for candidate, candidate_terms in zip(pool, pool_terms):
        if len(found) >= MAX_CORROBORATING:
            break
        if candidate.passage.article_id in seen:
            continue
        shared = quoted_terms & (candidate_terms - asked)
        if quoted_answer:  # the same number, name or date, said about something the quote also mentions
            if _answer_text(question, kind, candidate.text) != quoted_answer or not shared:
                continue
            # A name recurs across articles about its bearer, and so do the other names of the story
            # ("Trump", "Kim Jong Un"): the words of the statement around them must match too.
            if kind.is_name and len(shared - answer_terms - name_terms) < MIN_SHARED_TERMS:
                continue
        elif len(shared) < max(MIN_SHARED_TERMS, SAME_STATEMENT * len(quoted_terms)):
            continue
        if overlap(_words(candidate.passage.text), main_words) >= COPY_OVERLAP:
            continue
        seen.add(candidate.passage.article_id)
        found.append(candidate)
    return found


def _answering_sentence(question: str, kind: Expected, quote: str) -> str:
    """The sentence of ``quote`` that gives the answer (the whole quote when it asks for nothing particular):
    another article must state what that sentence states, not share words with its neighbour."""
    return next((s.text for s in split_sentences(quote) if _answer_text(question, kind, s.text)), quote)


def _answer_text(question: str, kind: Expected, text: str) -> str:
    """The normalised answer ``text`` gives, for questions that ask for something particular ("" if none)."""
    if kind in (Expected.ANY, Expected.TIME):
        return ""
    span = answer_span(question, text, kind)
    return _normal(text[span.start : span.end]) if span is not None else ""


def _normal(text: str) -> str:
    return " ".join(tokens(text))


def _words(text: str) -> set[str]:
    return set(tokens(text))
