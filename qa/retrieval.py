"""Query -> Passages: dense + BM25 candidates fused with RRF, filtered first, then cross-encoder reranked."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date

import numpy as np

from embeddings import Reranker
from qa.collection import Collection
from qa.types import Passage, SearchFilters

log = logging.getLogger(__name__)

RRF_K = 60  # the constant from Cormack et al. (2009); flattens the head of each list
_TOKEN = re.compile(r"\w+")


def reciprocal_rank_fusion(*rankings: list[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuses ranked ``(id, score)`` lists by summing ``1 / (k + rank)``; best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


class Retriever:
    """Finds the passages most likely to answer a question."""

    def __init__(self, collection: Collection, reranker: Reranker | None = None,
                 candidates: int = 50, rerank_candidates: int = 30, per_article: int = 2) -> None:
        self.collection = collection
        self.reranker = reranker
        self.candidates = candidates
        self.rerank_candidates = rerank_candidates
        self.per_article = per_article

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None,
               as_of: str | None = None, rerank: bool = True) -> list[Passage]:
        """Top ``k`` passages for ``query``; ``as_of`` (ISO date) breaks ties toward nearer articles."""
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
        fused = reciprocal_rank_fusion(dense, sparse)
        reranking = rerank and self.reranker is not None
        pool = self.collection.store.passages(fused[: self.rerank_candidates if reranking else self.candidates])
        pool = _collapse_near_duplicates(pool)
        if reranking:
            assert self.reranker is not None
            scores = self.reranker.score(query, [f"{p.title}. {p.text}" for p in pool])
            pool = [replace(p, score=float(s)) for p, s in zip(pool, scores)]
        pool.sort(key=lambda p: (-round(p.score, 3), _days_apart(p.date, as_of)))
        return _diversify(pool, k, self.per_article)


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
    """At most ``per_article`` chunks of one article in the top ``k``, unless nothing else is left."""
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
