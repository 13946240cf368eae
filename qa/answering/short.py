"""The short answer: the span of the chosen sentence that answers the question (a name for "who", a number
for "how many", a date for "when", a place for "where"), stated before the quote that supports it.

A sentence often names several people ("Japanese Defense Minister Shinjiro Koizumi and his South Korean
counterpart Ahn Gyu Back…"): the short answer is the name the question describes, the one with most of the
question's words around it in its clause (or in its own title words), and no other country's adjective or
place before it.
"""

from __future__ import annotations

import re
from itertools import pairwise

from qa.answering.checks import Asked
from qa.text.answer_type import Expected, Span, name_spans, time_span
from qa.text.names import NameKind, names
from qa.text.words import WRITTEN_WORD

# Where a clause ends: what is said of one name there is not said of the next ("Koizumi and his counterpart Ahn").
_POSSESSIVE = re.compile(r"['’]s?$")
_NEXT_WORD = re.compile(r"\s+([\w-]+)")
_CLAUSE_BREAK = re.compile(r"[.,;:!?()“”\"—–]|\b(?:and|or|but|while|whereas)\b")
MIN_CONTENT_LETTERS = 4  # shorter question words ("who", "is", "the", "of") describe nothing


class ShortAnswerFinder:
    """Finds the short answer in a sentence.

    ``context_words``: how many words before a name are read for the question's words that describe it
    (a title, a role, a country's adjective: "his South Korean counterpart Ahn Gyu Back").
    """

    def __init__(self, context_words: int = 4) -> None:
        self.context_words = context_words

    def find(self, asked: Asked, sentence: str, span: Span | None, context: str = "") -> Span | None:
        """The short answer's span in ``sentence`` (which passed the answer-kind check with ``span``, and sits
        in ``context``, its passage); None for a question of no particular kind or a sentence giving none."""
        kind = asked.kind
        if kind is Expected.ANY:
            return None
        if kind is Expected.TIME:
            return time_span(sentence)
        if span is None or (span.start, span.end) == (0, len(sentence)):
            return None
        if not kind.is_name:
            return _with_counted_noun(asked.question, sentence, span) if kind is Expected.NUMBER else span
        candidates = name_spans(asked.question, sentence, kind, context)
        if len(candidates) >= 2:
            # The answer-kind check's choice wins ties: another name only when the question's words point at it.
            described = max(candidates, key=lambda s: self._described(asked.question, sentence, s))
            if self._described(asked.question, sentence, described) > self._described(asked.question, sentence, span):
                span = described
        return _without_possessive(sentence, _without_asked_title(asked.question, sentence, span))

    def _described(self, question: str, sentence: str, span: Span) -> int:
        """How well the words around ``span`` in its clause (and its own words) match the question: each
        content word of the question there counts one, each place or country's adjective the question lacks
        (before it: "Japanese Defense Minister …") counts minus one."""
        asked = {w.lower() for w in WRITTEN_WORD.findall(question) if len(w) >= MIN_CONTENT_LETTERS}
        before = WRITTEN_WORD.findall(_CLAUSE_BREAK.split(sentence[: span.start])[-1])[-self.context_words :]
        after = WRITTEN_WORD.findall(_CLAUSE_BREAK.split(sentence[span.end :])[0])[: self.context_words]
        here = before + WRITTEN_WORD.findall(sentence[span.start : span.end]) + after
        score = sum(1 for word in here if word.lower() in asked)
        score -= sum(1 for name in names(" ".join(before)) if name.kind is NameKind.PLACE
                     and not {w.lower() for w in WRITTEN_WORD.findall(name.text)} <= asked)
        return score


def _without_asked_title(question: str, sentence: str, span: Span) -> Span:
    """``span`` without the leading words the question already holds ("Defense Minister Shinjiro Koizumi" for
    "who is the defense minister?" -> "Shinjiro Koizumi"); its last word always stays."""
    asked = {w.lower() for w in WRITTEN_WORD.findall(question)}
    words = list(WRITTEN_WORD.finditer(sentence, span.start, span.end))
    start = span.start
    for word, after in pairwise(words):
        if word.group(0).lower() not in asked:
            break
        start = after.start()
    return Span(start, span.end, span.sure)


def _without_possessive(sentence: str, span: Span) -> Span:
    """``span`` without a possessive ending: "Athens’s" -> "Athens"."""
    ending = _POSSESSIVE.search(sentence[span.start : span.end])
    return Span(span.start, span.end - len(ending.group(0)), span.sure) if ending and ending.start() else span


def _with_counted_noun(question: str, sentence: str, span: Span, most: int = 3) -> Span:
    """A number with the (at most ``most``) words after it that the question asks for ("how many years" ->
    "27 years", "how many painted zebras" -> "312 painted zebras"): a count alone reads as a bare figure.
    Short words ("of", "the") end it: "hundreds of" is no count of anything."""
    asked = {w.lower() for w in WRITTEN_WORD.findall(question) if len(w) >= MIN_CONTENT_LETTERS}
    end = span.end
    for _ in range(most):
        after = _NEXT_WORD.match(sentence, end)
        if after is None or after.group(1).lower() not in asked:
            break
        end = after.end(1)
    return Span(span.start, end, span.sure)
