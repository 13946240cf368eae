"""Article -> Chunks: runs of whole sentences of about ``chunk_words`` words, overlapping a little."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text.sentences import CHARS_PER_WORD, Sentence, split_sentences
from qa.types import Article, Chunk, titled_text

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_REAL_WORD = re.compile(r"[^\W\d_]{2,}")  # two or more letters in a row


@dataclass(frozen=True)
class FirstChunks:
    """The first chunks of an article and how many it has in all (``exact`` False: estimated from the part
    that was chunked, because the rest could not be indexed anyway)."""

    chunks: list[Chunk]
    total: int
    exact: bool


class Chunker:
    """Cuts article bodies into sentence-aligned chunks the encoder sees in full.

    all-MiniLM-L6-v2 truncates at 256 word pieces (about 190 English words with the title),
    so ``max_words`` is a hard cap and ``target_words`` the size aimed for.
    """

    def __init__(self, target_words: int = 120, max_words: int = 170, overlap_sentences: int = 1) -> None:
        if not 0 < target_words <= max_words:
            raise ValueError("chunk sizes must satisfy 0 < target_words <= max_words")
        self.target_words = target_words
        self.max_words = max_words
        self.overlap_sentences = max(0, overlap_sentences)

    def span(self, limit: int) -> int:
        """Characters of sentence text that ``limit`` chunks can cover at most (a chunk holds at most
        ``max_words`` words, and a word counts at least one per ``CHARS_PER_WORD`` characters), plus two."""
        return (limit + 2) * self.max_words * CHARS_PER_WORD

    def first(self, article: Article, limit: int) -> FirstChunks:
        """The first ``limit`` chunks of ``article``, the same as ``chunk(article)[:limit]``, chunking only the
        opening of a huge text (a 20 MB text takes tens of seconds to split, while at most ``limit`` of its
        chunks are indexed). The opening is widened while it yields fewer than ``limit`` + 2 chunks, so that
        the cut never touches the chunks kept (whitespace between sentences counts in no chunk's words)."""
        text, span = article.text, self.span(limit)
        while span < len(text):
            chunks = self._chunks(article, text[:span])
            if len(chunks) >= limit + 2:
                return FirstChunks(chunks[:limit], max(len(chunks), round(len(chunks) * len(text) / span)), False)
            span *= 4
        chunks = self.chunk(article)
        return FirstChunks(chunks[:limit], len(chunks), True)

    def chunk(self, article: Article) -> list[Chunk]:
        """Returns the chunks of ``article``; each chunk's text is ``article.text[start:end]``."""
        return self._chunks(article, article.text)

    def _chunks(self, article: Article, text: str) -> list[Chunk]:
        """The chunks of ``text``, the whole of ``article.text`` or an opening of it."""
        sentences = split_sentences(text, max_words=self.max_words)
        groups: list[list[Sentence]] = []
        current: list[Sentence] = []
        words = 0
        i = 0
        while i < len(sentences):
            sentence = sentences[i]
            if current and words + sentence.words > self.max_words:
                groups.append(current)
                current, words = self._overlap(current, sentence)
                continue
            current.append(sentence)
            words += sentence.words
            i += 1
            if words >= self.target_words and i < len(sentences):
                groups.append(current)
                current, words = self._overlap(current, sentences[i])
        if current and (not groups or current[-1] is not groups[-1][-1]):
            groups.append(current)
        return [
            Chunk(article.id, position, group[0].start, group[-1].end,
                  article.text[group[0].start : group[-1].end])
            for position, group in enumerate(groups)
        ]

    def _overlap(self, previous: list[Sentence], following: Sentence) -> tuple[list[Sentence], int]:
        """The tail of ``previous`` to repeat at the start of the next chunk, if it leaves room."""
        tail = previous[-self.overlap_sentences :] if self.overlap_sentences else []
        # Overlap must never stop progress or push the next chunk over the cap.
        while tail and (len(tail) >= len(previous) or
                        sum(s.words for s in tail) + following.words > self.max_words):
            tail = tail[1:]
        return list(tail), sum(s.words for s in tail)


def embedding_text(title: str, chunk: Chunk) -> str:
    """The text the encoder sees: the title gives each chunk its topic; offsets still refer to the body."""
    return titled_text(title, chunk.text)


@dataclass(frozen=True)
class DegenerateCheck:
    """Tells texts that are no articles (tens of thousands of near-empty sentences, hardly a real word) from
    articles, before they are embedded: such a text fills every passage to the encoder's limit with nothing
    a question could find, and took minutes to index. Only texts of at least ``min_count`` sentences or words
    are judged, so short notes, lists and tables pass."""

    min_count: int
    min_words_per_sentence: float  # words of two or more letters, on average
    min_real_word_share: float

    def reason(self, text: str) -> str | None:
        """Why ``text`` (the part of an article that would be indexed) is refused; None when it is an article."""
        ends = len(_SENTENCE_END.findall(text))
        words = len(text.split())
        real = len(_REAL_WORD.findall(text))
        if ends >= self.min_count and real < self.min_words_per_sentence * ends:
            return (f"not indexed: it reads as {ends:,} near-empty sentences ({real / ends:.1f} words of two or "
                    f"more letters a sentence, where an article has {self.min_words_per_sentence:g} or more)")
        if words >= self.min_count and real < self.min_real_word_share * words:
            return (f"not indexed: only {real:,} of its {words:,} words have two or more letters (an article has "
                    f"{self.min_real_word_share:.0%} or more)")
        return None
