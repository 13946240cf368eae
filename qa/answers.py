"""Passages -> Answer: pick the sentences that answer the question and cite each one, or abstain."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.evidence import Evidence
from qa.types import Answer, Citation, Passage

NO_ANSWER = "The articles don't say."

_WORD = re.compile(r"\w+")

# Questions that ask for a quantity or a time can only be answered by a sentence that states one.
_ASKS_QUANTITY = re.compile(r"^\s*(how (many|much|long|old|far|big|large|tall|high|often)|what (percentage|percent|"
                            r"number|amount|proportion))\b", re.I)
_ASKS_TIME = re.compile(r"^\s*(when|(in |during )?(what|which) (year|date|day|month|time|century|decade))\b", re.I)
_CLAUSE_THEN_QUESTION = re.compile(r"^\s*when\b[^?]*,\s*(what|which|who|how)\b", re.I)  # "When X, what is it called?"
_QUANTITY = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                       r"fifty|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|dozens|half|"
                       r"several|single|once|twice)\b", re.I)
_TIME = re.compile(r"\d|\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|century|"
                   r"decade|ago|week|month|year|spring|summer|autumn|fall|winter|morning|evening|night)\b", re.I)


def states_what_is_asked(question: str, sentence: str) -> bool:
    """False when the question asks for a quantity or a time and the sentence states none."""
    if _ASKS_QUANTITY.search(question):
        return bool(_QUANTITY.search(sentence))
    if _ASKS_TIME.search(question) and not _CLAUSE_THEN_QUESTION.search(question):
        return bool(_TIME.search(sentence))
    return True


class CitationBuilder:
    """Numbers sources by first use; one number per (article, quote span)."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def cite(self, passage: Passage, start: int, end: int, quote: str) -> int:
        """The ``[n]`` for this quote, adding a citation the first time it is used."""
        key = (passage.article_id, start, end)
        if key not in self._numbers:
            n = len(self.citations) + 1
            self._numbers[key] = n
            self.citations.append(Citation(
                n=n, article_id=passage.article_id, chunk_id=passage.chunk_id, quote=quote, start=start, end=end,
                title=passage.title, date=passage.date, source=passage.source, url=passage.url,
                passage=passage.text, passage_start=passage.start))
        return self._numbers[key]


class ExtractiveAnswerer:
    """Answers with 1-3 source sentences in reading order, each run of adjacent ones followed by its citation.

    The answer is the best-scoring evidence (a sentence, or a sentence with its neighbour) plus any close
    runner-up that adds something. If even the best one scores below ``threshold`` the evidence is too
    weak, and the answer says so instead of guessing.
    """

    def __init__(self, threshold: float, max_sentences: int = 3, margin: float = 1.0) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.margin = margin

    def answer(self, question: str, query: str, passages: Sequence[Passage],
               evidence: Sequence[Evidence]) -> Answer:
        """Builds the answer to ``question`` from scored ``evidence`` (best first) over ``passages``."""
        # The best evidence must clear the threshold; if it lacks the kind of answer asked for (a number,
        # a date), a close runner-up that has one may stand in, else the articles don't say.
        floor = max(self.threshold, evidence[0].score - self.margin) if evidence else self.threshold
        fitting = [e for e in evidence if states_what_is_asked(question, e.text)]
        if not fitting or fitting[0].score < floor:
            return Answer(question=question, text=NO_ANSWER, abstained=True, related=list(passages[:3]),
                          retrieved=list(passages), search_query=query)
        builder = CitationBuilder()
        parts = [f"{quote.text} [{builder.cite(quote.passage, quote.start, quote.end, quote.text)}]"
                 for quote in _quotes(self._choose(fitting))]
        return Answer(question=question, text=" ".join(parts), citations=builder.citations,
                      retrieved=list(passages), search_query=query)

    def _choose(self, ranked: list[Evidence]) -> list[_Sentence]:
        """The sentences of the best evidence and of close runners-up, up to ``max_sentences``."""
        floor = max(self.threshold, ranked[0].score - self.margin)
        chosen: list[_Sentence] = []
        for candidate in ranked:
            if candidate.score < floor or len(chosen) >= self.max_sentences:
                break
            taken = {c.key for c in chosen}
            new = [s for s in _sentences(candidate) if s.key not in taken]
            if not new or len(chosen) + len(new) > self.max_sentences:
                continue
            # The same statement again (in another article, or reworded) adds nothing.
            if any(_overlap(s.words, c.words) >= 0.6 for s in new for c in chosen):
                continue
            chosen.extend(new)
        return chosen


@dataclass(frozen=True)
class _Sentence:
    passage: Passage
    start: int
    end: int

    @property
    def key(self) -> tuple[str, int]:
        return self.passage.article_id, self.start

    @property
    def text(self) -> str:
        return self.passage.text[self.start - self.passage.start : self.end - self.passage.start]

    @property
    def words(self) -> set[str]:
        return set(_WORD.findall(self.text.lower()))


def _sentences(evidence: Evidence) -> list[_Sentence]:
    return [_Sentence(evidence.passage, start, end) for start, end in evidence.spans]


def _quotes(chosen: list[_Sentence]) -> list[_Sentence]:
    """Chosen sentences grouped by article (best article first) in reading order, adjacent ones joined."""
    article_order = {s.passage.article_id: i for i, s in reversed(list(enumerate(chosen)))}
    quotes: list[_Sentence] = []
    for sentence in sorted(chosen, key=lambda s: (article_order[s.passage.article_id], s.start)):
        last = quotes[-1] if quotes else None
        if (last is not None and last.passage.chunk_id == sentence.passage.chunk_id
                and sentence.start >= last.end
                and not _Sentence(last.passage, last.end, sentence.start).text.strip()):
            quotes[-1] = _Sentence(last.passage, last.start, sentence.end)
        else:
            quotes.append(sentence)
    return quotes


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))
