"""Article -> Chunks: runs of whole sentences of about ``chunk_words`` words, overlapping a little."""

from __future__ import annotations

from qa.sentences import Sentence, split_sentences
from qa.types import Article, Chunk, titled_text


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

    def chunk(self, article: Article) -> list[Chunk]:
        """Returns the chunks of ``article``; each chunk's text is ``article.text[start:end]``."""
        sentences = split_sentences(article.text, max_words=self.max_words)
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
