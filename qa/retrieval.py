"""Query -> Passages: dense + BM25 candidates fused with RRF (filters first), then reranked by evidence."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from qa.collection import Collection
from qa.evidence import Evidence, SentenceScorer, rerank_by_evidence, score_sentences
from qa.types import Passage, SearchFilters

log = logging.getLogger(__name__)

RRF_K = 60  # the constant from Cormack et al. (2009); flattens the head of each list
_TOKEN = re.compile(r"\w+")


@dataclass
class Retrieval:
    """Ranked passages plus the scored sentences of the top ones (best first)."""

    passages: list[Passage]
    evidence: list[Evidence] = field(default_factory=list)


def reciprocal_rank_fusion(*rankings: list[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuses ranked ``(id, score)`` lists by summing ``1 / (k + rank)``; best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


class Retriever:
    """Finds the passages most likely to answer a question.

    ``scorer`` (the cross-encoder) reads the sentences of the ``rerank_candidates`` best fused
    passages; those passages are reordered by their best sentence. Without a scorer the fused order
    stands.
    """

    def __init__(self, collection: Collection, scorer: SentenceScorer | None = None,
                 candidates: int = 50, rerank_candidates: int = 5, per_article: int = 2) -> None:
        self.collection = collection
        self.scorer = scorer
        self.candidates = candidates
        self.rerank_candidates = rerank_candidates
        self.per_article = per_article

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None,
               as_of: str | None = None, rerank: bool = True) -> list[Passage]:
        """Top ``k`` passages for ``query``; ``as_of`` (ISO date) breaks ties toward nearer articles."""
        return self.retrieve(query, k, filters, as_of, rerank).passages

    def retrieve(self, query: str, k: int = 10, filters: SearchFilters | None = None,
                 as_of: str | None = None, rerank: bool = True) -> Retrieval:
        """Like :meth:`search`, also returning the scored sentences behind the reranking."""
        fused = self._fused(query, filters)
        pool = self.collection.store.passages(fused[: max(self.candidates, k)])
        pool.sort(key=lambda p: (-round(p.score, 6), _days_apart(p.date, as_of)))
        pool = _diversify(_collapse_near_duplicates(pool), len(pool), self.per_article)
        if not rerank or self.scorer is None or not pool:
            return Retrieval(pool[:k])
        evidence = score_sentences(self.scorer, query, pool[: self.rerank_candidates])
        reranked = rerank_by_evidence(pool, evidence)
        head = sorted(reranked[: self.rerank_candidates],
                      key=lambda p: (-round(p.score, 3), _days_apart(p.date, as_of)))
        return Retrieval(head + reranked[self.rerank_candidates : k], evidence)

    def _fused(self, query: str, filters: SearchFilters | None) -> list[tuple[int, float]]:
        if not query.strip():
            return []
        vectors, keywords = self.collection.snapshot()
        if not len(vectors):
            return []
        allowed = None
        if filters is not None and filters.active:
            allowed = np.array(self.collection.store.filtered_vector_ids(filters), dtype=np.int64)
            if not len(allowed):
                return []
        dense = vectors.search(self.collection.encoder.encode_query(query), self.candidates, allowed)
        sparse = keywords.search(query, self.candidates, allowed)
        return reciprocal_rank_fusion(dense, sparse)


def _collapse_near_duplicates(passages: list[Passage], threshold: float = 0.9) -> list[Passage]:
    """Drops passages whose words mostly repeat a better-ranked one (syndicated copies, overlaps)."""
    kept: list[tuple[Passage, set[str]]] = []
    for passage in passages:
        words = set(_TOKEN.findall(passage.text.lower()))
        if any(len(words & seen) / max(1, min(len(words), len(seen))) >= threshold for _, seen in kept):
            continue
        kept.append((passage, words))
    return [p for p, _ in kept]


def _diversify(ranked: list[Passage], k: int, per_article: int) -> list[Passage]:
    """At most ``per_article`` chunks of one article ahead of other articles' chunks."""
    head, tail, counts = [], [], {}
    for passage in ranked:
        counts[passage.article_id] = counts.get(passage.article_id, 0) + 1
        (head if counts[passage.article_id] <= per_article else tail).append(passage)
    return (head + tail)[:k]


def _days_apart(article_date: str | None, as_of: str | None) -> int:
    if not as_of:
        return 0
    try:
        return abs((date.fromisoformat(article_date or "") - date.fromisoformat(as_of)).days)
    except ValueError:
        return 1 << 30
