"""Passages -> Answer: pick the sentences that answer the question and cite each one, or abstain."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.evidence import Evidence
from qa.types import Answer, Citation, Passage

NO_ANSWER = "The articles don't say."

_WORD = re.compile(r"\w+")


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
    """Answers with 1-3 source sentences, each followed by its citation, in reading order.

    The answer is the best-scoring sentence plus any close runner-up that adds something. If even the
    best one scores below ``threshold`` the evidence is too weak, and the answer says so instead of
    guessing.
    """

    def __init__(self, threshold: float, max_sentences: int = 3, margin: float = 1.5) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.margin = margin

    def answer(self, question: str, query: str, passages: Sequence[Passage],
               evidence: Sequence[Evidence]) -> Answer:
        """Builds the answer to ``question`` from scored ``evidence`` (best first) over ``passages``."""
        if not evidence or evidence[0].score < self.threshold:
            return Answer(question=question, text=NO_ANSWER, abstained=True, related=list(passages[:3]),
                          retrieved=list(passages), search_query=query)
        chosen = self._choose(list(evidence))
        builder = CitationBuilder()
        parts = []
        article_order = {c.passage.article_id: i for i, c in reversed(list(enumerate(chosen)))}
        for c in sorted(chosen, key=lambda c: (article_order[c.passage.article_id], c.start)):
            parts.append(f"{c.text} [{builder.cite(c.passage, c.start, c.end, c.text)}]")
        return Answer(question=question, text=" ".join(parts), citations=builder.citations,
                      retrieved=list(passages), search_query=query)

    def _choose(self, ranked: list[Evidence]) -> list[Evidence]:
        best = ranked[0]
        chosen = [best]
        floor = max(self.threshold, best.score - self.margin)
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < floor:
                break
            words = set(_WORD.findall(candidate.text.lower()))
            if all(_overlap(words, set(_WORD.findall(c.text.lower()))) < 0.6 for c in chosen):
                chosen.append(candidate)
        return chosen


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))
