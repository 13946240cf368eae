"""The typed records that flow through the pipeline: Article -> Chunk -> Passage -> Answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.answering.trace import Decision, Trace


@dataclass(frozen=True)
class Article:
    """One article as read from a file: clean body text plus its metadata.

    ``text`` is the article body only (no captions, comment counters or reader comments);
    every character offset elsewhere in the system refers to it.
    """

    id: str
    title: str
    text: str
    source_path: str
    date: str | None = None  # ISO date, YYYY-MM-DD
    source: str | None = None
    url: str | None = None
    author: str | None = None
    dateline: str | None = None
    license: str | None = None

    @property
    def content_hash(self) -> str:
        """A hash of everything that changes what is indexed or shown for this article."""
        parts = [self.title, self.text, self.date or "", self.source or "", self.url or "",
                 self.author or "", self.dateline or "", self.license or ""]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def titled_text(title: str | None, text: str) -> str:
    """``"title. text"``: what the encoder, BM25 and the cross-encoder read for a chunk or sentence (the title
    gives it its topic). One function, so that the three inputs cannot drift apart."""
    return f"{title}. {text}" if title else text


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences from one article, with its character span in ``Article.text``."""

    article_id: str
    position: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        """Stable, human-readable chunk id: ``<article id>#<position>``."""
        return f"{self.article_id}#{self.position}"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the metadata needed to show and cite it."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    date: str | None = None
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class SearchFilters:
    """Restricts retrieval to some sources and/or a date range (inclusive, ISO dates).

    ``since``/``until`` keep only dated articles in the range; ``as_of`` only drops articles dated after
    it (a question asked on that day cannot be answered by later news), so undated articles stay.
    """

    sources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    as_of: str | None = None

    @property
    def active(self) -> bool:
        """True when any restriction is set."""
        return bool(self.sources or self.since or self.until or self.as_of)


@dataclass(frozen=True)
class Citation:
    """What ``[n]`` in an answer points at: the exact supporting sentence(s) and where they are."""

    n: int
    article_id: str
    chunk_id: str
    quote: str
    start: int  # span of ``quote`` in the article text
    end: int
    title: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    passage: str = ""  # the chunk text the quote sits in, for context in the UI
    passage_start: int = 0
    answer_start: int | None = None  # span (article offsets) of what answers the question inside the quote
    answer_end: int | None = None
    corroborates: int | None = None  # for "also reported by": the n of the citation whose statement it repeats


@dataclass
class Answer:
    """A reply to one question: text with ``[n]`` markers and what each marker cites."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    related: list[Passage] = field(default_factory=list)  # shown when abstaining, never cited
    retrieved: list[Passage] = field(default_factory=list)  # the final ranked passage list
    abstained: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. "LLM unreachable, answered extractively"
    search_query: str = ""  # the query actually used (after follow-up rewriting)
    confidence: float | None = None  # the scorer's score of the best evidence that could answer (None: none could)
    timings_ms: dict[str, float] = field(default_factory=dict)
    short_answer: str | None = None  # what answers the question in a few words (a name, a number, a date), if any
    decision: Decision | None = None  # answered or abstained, with a reason code and the reason in words
    trace: Trace | None = None  # the facts, candidates and verdicts behind the answer; only when asked to explain
