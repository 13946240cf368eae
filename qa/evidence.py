"""Passages -> scored sentences: the cross-encoder reads each candidate sentence against the question.

One pass serves two steps: the best sentence score of a passage reranks it, and the sentences
themselves are what an extractive answer quotes. Scoring sentences instead of whole chunks costs the
same tokens and points straight at the supporting sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.sentences import split_sentences
from qa.types import Passage

SentenceScorer = Callable[[str, Sequence[str]], np.ndarray]

MIN_WORDS = 3  # shorter "sentences" (bylines, "Yes.") never answer anything on their own


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage, located in its article, with its relevance score."""

    passage: Passage
    rank: int  # the passage's rank before sentence scoring
    start: int  # span in the article text
    end: int
    text: str
    score: float = 0.0


def candidate_sentences(passages: Sequence[Passage]) -> list[Evidence]:
    """Every distinct sentence of ``passages`` (overlapping chunks repeat sentences; keep the first)."""
    seen: set[tuple[str, int]] = set()
    candidates = []
    for rank, passage in enumerate(passages):
        for sentence in split_sentences(passage.text):
            start = passage.start + sentence.start
            if (passage.article_id, start) in seen or len(sentence.text.split()) < MIN_WORDS:
                continue
            seen.add((passage.article_id, start))
            candidates.append(Evidence(passage, rank, start, start + len(sentence.text), sentence.text))
    return candidates


def score_sentences(scorer: SentenceScorer, query: str, passages: Sequence[Passage]) -> list[Evidence]:
    """Scores every sentence of ``passages`` against ``query``; best first."""
    candidates = candidate_sentences(passages)
    if not candidates:
        return []
    scores = scorer(query, [f"{c.passage.title}. {c.text}" for c in candidates])
    scored = [replace(c, score=float(s)) for c, s in zip(candidates, scores)]
    return sorted(scored, key=lambda c: (-c.score, c.rank))


def rerank_by_evidence(passages: Sequence[Passage], evidence: Sequence[Evidence]) -> list[Passage]:
    """Passages with scored sentences first, by their best sentence; the rest keep their order after."""
    best: dict[str, float] = {}
    for item in evidence:
        best.setdefault(item.passage.chunk_id, item.score)
    scored = [replace(p, score=best[p.chunk_id]) for p in passages if p.chunk_id in best]
    scored.sort(key=lambda p: -p.score)
    return scored + [p for p in passages if p.chunk_id not in best]
