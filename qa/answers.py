"""Passages -> Answer: pick the sentences that answer the question and cite each one, or abstain."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.sentences import split_sentences
from qa.types import Answer, Citation, Passage

NO_ANSWER = "The articles don't say."

SentenceScorer = Callable[[str, Sequence[str]], np.ndarray]
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, located in its article."""

    passage: Passage
    rank: int  # the passage's rank in retrieval
    start: int  # span in the article text
    end: int
    text: str
    score: float = 0.0


def candidate_sentences(passages: Sequence[Passage]) -> list[Candidate]:
    """Every distinct sentence of ``passages`` (overlapping chunks repeat sentences; keep the first)."""
    seen: set[tuple[str, int]] = set()
    candidates = []
    for rank, passage in enumerate(passages):
        for sentence in split_sentences(passage.text):
            start = passage.start + sentence.start
            if (passage.article_id, start) in seen or len(sentence.text.split()) < 3:
                continue
            seen.add((passage.article_id, start))
            candidates.append(Candidate(passage, rank, start, start + len(sentence.text), sentence.text))
    return candidates


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

    Sentences are scored against the question by ``scorer`` (the cross-encoder); the answer is the
    best sentence plus any close runner-up that adds something. If even the best one scores below
    ``threshold`` the evidence is too weak, and the answer says so instead of guessing.
    """

    def __init__(self, scorer: SentenceScorer, threshold: float, max_sentences: int = 3,
                 passages_considered: int = 5, margin: float = 1.5) -> None:
        self.scorer = scorer
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.passages_considered = passages_considered
        self.margin = margin

    def answer(self, question: str, query: str, passages: Sequence[Passage]) -> Answer:
        """Builds the answer to ``question`` (scored with the standalone ``query``) from ``passages``."""
        considered = list(passages[: self.passages_considered])
        candidates = candidate_sentences(considered)
        if candidates:
            scores = self.scorer(query, [f"{c.passage.title}. {c.text}" for c in candidates])
            candidates = [Candidate(c.passage, c.rank, c.start, c.end, c.text, float(s))
                          for c, s in zip(candidates, scores)]
            candidates.sort(key=lambda c: (-c.score, c.rank))
        if not candidates or candidates[0].score < self.threshold:
            return Answer(question=question, text=NO_ANSWER, abstained=True, related=considered[:3],
                          retrieved=list(passages), search_query=query)
        chosen = self._choose(candidates)
        builder = CitationBuilder()
        parts = []
        article_order = {c.passage.article_id: i for i, c in reversed(list(enumerate(chosen)))}
        for c in sorted(chosen, key=lambda c: (article_order[c.passage.article_id], c.start)):
            parts.append(f"{c.text} [{builder.cite(c.passage, c.start, c.end, c.text)}]")
        return Answer(question=question, text=" ".join(parts), citations=builder.citations,
                      retrieved=list(passages), search_query=query)

    def _choose(self, ranked: list[Candidate]) -> list[Candidate]:
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
