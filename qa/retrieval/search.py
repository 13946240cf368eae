"""Query -> Passages: dense + BM25 candidates fused with RRF (filters first), then reranked by evidence."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from qa.retrieval.evidence import Evidence, SentenceScorer, rerank_by_evidence, score_sentences, with_sentence_before
from qa.storage.collection import Collection, Snapshot
from qa.storage.facets import Facets, day_number
from qa.text.timeframe import DateWindow, parse_date, window_for
from qa.text.words import COPY_OVERLAP, overlap, terms, tokens
from qa.types import Passage, SearchFilters

log = logging.getLogger(__name__)

RRF_K = 60  # the constant from Cormack et al. (2009); flattens the head of each list
WINDOW_CANDIDATES = 10  # the best passages inside a question's date window always join the candidates
WINDOW_BONUS = 3.0  # logits added to evidence from inside the window when ranking (not when abstaining)
NEARNESS = 2.0  # logits taken from evidence a year or more away from the question's date (log-shaped, see below)


@dataclass
class Retrieval:
    """Ranked passages plus the scored sentences of the top ones (best first) and the date window used."""

    passages: list[Passage]
    evidence: list[Evidence] = field(default_factory=list)
    window: DateWindow | None = None


def reciprocal_rank_fusion(*rankings: list[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuses ranked ``(id, score)`` lists by summing ``1 / (k + rank)``; best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


class Retriever:
    """Finds the passages most likely to answer a question, as of the question's date.

    Articles dated after ``as_of`` are never retrieved. When the question's words point at a date window
    ("this week", "on Tuesday"), the best passages inside it join the candidates and their evidence
    ranks ahead; without such words, the nearer of two close candidates wins. ``scorer`` (the
    cross-encoder) reads up to ``sentence_budget`` sentences of the ``rerank_candidates`` best passages
    and of every pooled passage of the ``lead_articles`` best articles; passages are reordered by their
    best sentence. Without a scorer the fused order stands.
    """

    def __init__(self, collection: Collection, scorer: SentenceScorer | None = None,
                 candidates: int = 50, rerank_candidates: int = 20, per_article: int = 2,
                 sentence_budget: int = 16, lead_articles: int = 2) -> None:
        self.collection = collection
        self.scorer = scorer
        self.candidates = candidates
        self.rerank_candidates = rerank_candidates
        self.per_article = per_article
        self.sentence_budget = sentence_budget
        self.lead_articles = lead_articles

    def search(self, query: str, k: int = 10, filters: SearchFilters | None = None,
               as_of: str | None = None, rerank: bool = True) -> list[Passage]:
        """Top ``k`` passages for ``query`` among articles dated up to ``as_of`` (ISO date; None: any)."""
        return self.retrieve(query, k, filters, as_of, rerank).passages

    def retrieve(self, query: str, k: int = 10, filters: SearchFilters | None = None,
                 as_of: str | None = None, rerank: bool = True) -> Retrieval:
        """Like :meth:`search`, also returning the scored sentences behind the reranking."""
        day = parse_date(as_of)
        window = window_for(query, day) if day is not None else None
        snapshot = self.collection.snapshot()
        filters = self._up_to(filters, day, snapshot.facets)
        if not query.strip() or not len(snapshot.vectors):
            return Retrieval([], window=window)
        query_vector = self.collection.encoder.encode_query(query)
        fused = self._fused(query, query_vector, snapshot, filters)
        if window is not None:
            inside = self._fused(query, query_vector, snapshot, _within(filters, window))
            inside_ids = {vid for vid, _ in inside[:WINDOW_CANDIDATES]}
            fused = inside[:WINDOW_CANDIDATES] + [hit for hit in fused if hit[0] not in inside_ids]
        pool = self.collection.store.passages(fused[: max(self.candidates, k)])
        pool.sort(key=lambda p: (window is None or not window.contains(p.date), -round(p.score, 6),
                                 _days_apart(p.date, day)))
        pool = _diversify(_collapse_near_duplicates(pool), len(pool), self.per_article)
        if not rerank or self.scorer is None or not pool:
            return Retrieval(pool[:k], window=window)
        head = _with_rest_of_leaders(pool, self.rerank_candidates, self.lead_articles)
        weights = snapshot.keyword_index.idf(terms([query])[0])
        evidence = _timed(score_sentences(self.scorer, query, head, weights, self.sentence_budget), window, day)
        reranked = rerank_by_evidence(pool, evidence)
        evidence = with_sentence_before(evidence, self._article_text)
        return Retrieval(reranked[:k], evidence, window)

    def _article_text(self, article_id: str) -> str | None:
        article = self.collection.store.article(article_id)
        return article.text if article is not None else None

    @staticmethod
    def _up_to(filters: SearchFilters | None, day: date | None, facets: Facets) -> SearchFilters | None:
        """``filters`` plus the as-of cutoff, when the collection holds any article dated after it."""
        latest = facets.latest_day
        if day is None or latest is None or latest <= day_number(day.isoformat()):
            return filters
        return replace(filters or SearchFilters(), as_of=day.isoformat())

    def _fused(self, query: str, query_vector: np.ndarray, snapshot: Snapshot,
               filters: SearchFilters | None) -> list[tuple[int, float]]:
        """Dense and BM25 candidates among the articles that pass ``filters``, fused."""
        allowed = None
        if filters is not None and filters.active:
            allowed = snapshot.facets.allowed(filters)
            if not len(allowed):
                return []
        dense = snapshot.vectors.search(query_vector, self.candidates, allowed)
        sparse = snapshot.keyword_index.search(query, self.candidates, filters)
        return reciprocal_rank_fusion(dense, sparse)


def _within(filters: SearchFilters | None, window: DateWindow) -> SearchFilters:
    """``filters`` narrowed to the articles dated inside ``window``."""
    filters = filters or SearchFilters()
    since = max(filter(None, [filters.since, window.start.isoformat()]))
    until = min(filter(None, [filters.until, window.end.isoformat()]))
    return replace(filters, since=since, until=until)


def _timed(evidence: list[Evidence], window: DateWindow | None, day: date | None) -> list[Evidence]:
    """Evidence re-ranked for the question's date: with a window, its dated articles first, then undated
    ones, then the rest (each by score); without one, nearer first among close ones."""
    if day is None:
        return evidence
    timed = []
    for item in evidence:
        if window is not None:
            boost = WINDOW_BONUS if window.contains(item.passage.date) else 0.0
        else:
            boost = -_distance_penalty(_days_apart(item.passage.date, day))
        timed.append(replace(item, boost=boost))
    return sorted(timed, key=lambda e: (_tier(e.passage.date, window), -e.ranking, e.rank, len(e.spans)))


def _tier(article_date: str | None, window: DateWindow | None) -> int:
    """0 for an article inside the question's window (or any article when it has none), 1 undated, 2 outside."""
    if window is None or window.contains(article_date):
        return 0
    return 1 if parse_date(article_date) is None else 2


def _distance_penalty(days: int) -> float:
    """Logits taken from evidence ``days`` away from the question's date: growing fast over the first weeks
    (this week's report beats last month's on the same story) and reaching ``NEARNESS`` at a year."""
    return NEARNESS * min(1.0, math.log1p(days / 7) / math.log1p(365 / 7))


def _collapse_near_duplicates(passages: list[Passage], threshold: float = COPY_OVERLAP) -> list[Passage]:
    """Drops passages whose words mostly repeat a better-ranked one (syndicated copies, overlaps)."""
    kept: list[tuple[Passage, set[str]]] = []
    for passage in passages:
        words = set(tokens(passage.text))
        if any(overlap(words, seen) >= threshold for _, seen in kept):
            continue
        kept.append((passage, words))
    return [p for p, _ in kept]


def _with_rest_of_leaders(pool: list[Passage], size: int, leaders: int) -> list[Passage]:
    """The first ``size`` passages of ``pool``, each of the ``leaders`` best articles followed by the rest
    of its passages in the pool: a news question is mostly about one article, and the answering sentence
    often sits in a chunk of it that ranks far behind its lead."""
    head = pool[:size]
    leading = list(dict.fromkeys(p.article_id for p in head))[:leaders]
    rest = {a: [p for p in pool[size:] if p.article_id == a] for a in leading}
    last = {p.article_id: i for i, p in enumerate(head)}  # where each article's last passage in the head is
    out: list[Passage] = []
    for i, passage in enumerate(head):
        out.append(passage)
        if last[passage.article_id] == i:
            out += rest.get(passage.article_id, [])
    return out


def _diversify(ranked: list[Passage], k: int, per_article: int) -> list[Passage]:
    """At most ``per_article`` chunks of one article ahead of other articles' chunks."""
    head: list[Passage] = []
    tail: list[Passage] = []
    counts: dict[str, int] = {}
    for passage in ranked:
        counts[passage.article_id] = counts.get(passage.article_id, 0) + 1
        (head if counts[passage.article_id] <= per_article else tail).append(passage)
    return (head + tail)[:k]


def _days_apart(article_date: str | None, day: date | None) -> int:
    """Days between an article's date and the question's; undated articles count as a year away."""
    if day is None:
        return 0
    published = parse_date(article_date)
    return 365 if published is None else abs((published - day).days)
