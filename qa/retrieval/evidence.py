"""Passages -> scored evidence: the cross-encoder reads each candidate sentence against the question.

One pass serves two steps: the best evidence score of a passage reranks it, and the evidence itself is
what an extractive answer quotes. Scoring sentences instead of whole chunks costs the same tokens and
points straight at the supporting sentence.

A sentence often leans on its neighbour ("The past record was held by John Elway." follows "He is the
oldest quarterback to play in a Super Bowl."), so the best sentences are also read together with the
sentence before and after them; such a pair competes with single sentences on the same score scale.
Only sentences close to the best one are paired: a pair built on a sentence far behind it never won
on the dev questions, and pairs are the longest texts the cross-encoder reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.text.sentences import ends_quotation, leans_back, split_sentences
from qa.text.words import terms
from qa.types import Passage, titled_text

SentenceScorer = Callable[[str, Sequence[str]], np.ndarray]

MIN_WORDS = 3  # shorter "sentences" (bylines, "Yes.") never answer anything on their own
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
PAIRED = 3  # how many of the best sentences are also scored with each neighbour
PAIR_WITHIN = 5.0  # ... if within this many logits of the best (dev: same figures, 41 % fewer pairs)
RANK_PRIOR = 0.5  # preselection: weight of the passage's rank against the sentence's share of query terms
LOOK_BACK_CHARS = 1500  # how much article text before a passage is split to find the sentence just before it
FIRST_SENTENCE_CHARS = 600  # ... and how much of the passage, to find its first sentence


@dataclass(frozen=True)
class Evidence:
    """One sentence, or two adjacent ones, of a retrieved passage, located in its article, with a score."""

    passage: Passage
    rank: int  # the passage's rank before sentence scoring
    spans: tuple[tuple[int, int], ...]  # each sentence's span in the article text, in reading order
    text: str  # the article text from the first sentence's start to the last one's end
    score: float = 0.0  # the cross-encoder's: how well it answers the question, whatever its date
    boost: float = 0.0  # added for ranking only: the question's date window or nearness

    @property
    def ranking(self) -> float:
        """What orders evidence: the score plus the date boost."""
        return self.score + self.boost

    @property
    def start(self) -> int:
        """Where the evidence starts in the article text."""
        return self.spans[0][0]

    @property
    def end(self) -> int:
        """Where the evidence ends in the article text."""
        return self.spans[-1][1]


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
            candidates.append(Evidence(passage, rank, ((start, start + len(sentence.text)),), sentence.text))
    return candidates


def paired_with_neighbours(evidence: Evidence) -> list[Evidence]:
    """``evidence`` (one sentence) joined with the sentence before it and with the one after it, if any."""
    passage = evidence.passage
    sentences = split_sentences(passage.text)
    starts = [passage.start + sentence.start for sentence in sentences]
    if evidence.start not in starts:
        return []
    at = starts.index(evidence.start)
    pairs = []
    for first, second in [(sentences[i], sentences[i + 1]) for i in (at - 1, at) if 0 <= i < len(sentences) - 1]:
        if not (_SENTENCE_END.search(first.text) and _SENTENCE_END.search(second.text)):
            continue  # never pair with a heading or a caption: they have no closing punctuation
        if ends_quotation(first.text):
            continue  # a pair never opens with the tail of someone's words ('…no casualties left."')
        spans = tuple((passage.start + s.start, passage.start + s.end) for s in (first, second))
        pairs.append(Evidence(passage, evidence.rank, spans, passage.text[first.start : second.end]))
    return pairs


def preselect(candidates: list[Evidence], query_weights: Mapping[str, float], limit: int) -> list[Evidence]:
    """The ``limit`` candidates most worth the cross-encoder's time, in their original order.

    A cheap first stage: the share of the query's term weight (BM25 idf) that a sentence holds, plus a
    prior for its passage's rank. Reading every sentence of 20 passages would cost ~1 s a question.
    """
    if limit <= 0 or len(candidates) <= limit:
        return candidates
    total = sum(query_weights.values()) or 1.0
    sentence_terms = terms([c.text for c in candidates])

    def promise(item: tuple[int, Evidence]) -> float:
        index, candidate = item
        held = sum(weight for term, weight in query_weights.items() if term in sentence_terms[index])
        return held / total + RANK_PRIOR / (1 + candidate.rank)

    chosen = sorted(enumerate(candidates), key=promise, reverse=True)[:limit]
    return [candidate for _, candidate in sorted(chosen, key=lambda item: item[0])]


def score_sentences(scorer: SentenceScorer, query: str, passages: Sequence[Passage],
                    query_weights: Mapping[str, float] | None = None, limit: int = 0) -> list[Evidence]:
    """Scores the sentences of ``passages`` (at most ``limit`` of them, chosen by :func:`preselect`; 0: all),
    and the best ones paired with a neighbour; best first."""
    singles = _scored(scorer, query, preselect(candidate_sentences(passages), query_weights or {}, limit))
    seen: set[tuple[str, tuple[tuple[int, int], ...]]] = set()
    pairs = []
    for best in [s for s in singles[:PAIRED] if s.score >= singles[0].score - PAIR_WITHIN]:
        for pair in paired_with_neighbours(best):
            if (pair.passage.article_id, pair.spans) not in seen:
                seen.add((pair.passage.article_id, pair.spans))
                pairs.append(pair)
    return sorted(singles + _scored(scorer, query, pairs), key=lambda c: (-c.score, c.rank, len(c.spans)))


def _scored(scorer: SentenceScorer, query: str, candidates: list[Evidence]) -> list[Evidence]:
    if not candidates:
        return []
    scores = scorer(query, [titled_text(c.passage.title, c.text) for c in candidates])
    scored = [replace(c, score=float(s)) for c, s in zip(candidates, scores)]
    return sorted(scored, key=lambda c: (-c.score, c.rank))


def rerank_by_evidence(passages: Sequence[Passage], evidence: Sequence[Evidence]) -> list[Passage]:
    """Passages with scored evidence first, in the order of their best evidence in ``evidence`` (ranked
    best first), scored with its ranking; the rest keep their order after."""
    first: dict[str, tuple[int, float]] = {}
    for position, item in enumerate(evidence):
        first.setdefault(item.passage.chunk_id, (position, item.ranking))
    scored = [replace(p, score=first[p.chunk_id][1]) for p in passages if p.chunk_id in first]
    scored.sort(key=lambda p: first[p.chunk_id][0])
    return scored + [p for p in passages if p.chunk_id not in first]


def with_sentence_before(evidence: Sequence[Evidence], article_text: Callable[[str], str | None]) -> list[Evidence]:
    """``evidence`` with each passage that opens on a sentence leaning on the one before ("It operates…",
    "But his passing…") grown back by that sentence, taken from its article (``article_text(article_id)``),
    so that a quote of it can bring the sentence it leans on instead of opening with a fragment."""
    grown: dict[str, Passage] = {}
    texts: dict[str, str | None] = {}
    seen: set[str] = set()
    for item in evidence:
        passage = item.passage
        if passage.chunk_id in seen or passage.start == 0:
            continue
        seen.add(passage.chunk_id)
        first = split_sentences(passage.text[:FIRST_SENTENCE_CHARS])[:1]
        if not first or first[0].start != 0 or not leans_back(first[0].text):
            continue
        if passage.article_id not in texts:
            texts[passage.article_id] = article_text(passage.article_id)
        text = texts[passage.article_id]
        if text is None or text[passage.start : passage.end] != passage.text:
            continue
        window = max(0, passage.start - LOOK_BACK_CHARS)
        before = split_sentences(text[window : passage.start])
        if before:
            start = window + before[-1].start
            grown[passage.chunk_id] = replace(passage, text=text[start : passage.end], start=start)
    return [replace(e, passage=grown.get(e.passage.chunk_id, e.passage)) for e in evidence]
