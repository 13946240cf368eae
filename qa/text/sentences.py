"""Sentence boundaries with character offsets, from the nupunkt Punkt splitter."""

from __future__ import annotations

import re
from dataclasses import dataclass

import nupunkt

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A sentence that leans on the one before it: a closing mark, a lower-case start, a connective, a pronoun.
_LEANS_BACK = re.compile(r"^\s*([”’»)\]]|[a-z]|(?i:but|and|or|so|yet|however|also|still|instead|then|thus|"
                         r"therefore|meanwhile|moreover|furthermore|nevertheless|it|its|they|their|them|this|these|those|that|"
                         r"he|she|his|her|him|such|both)\b)")
_CLOSING_QUOTE = re.compile(r"[\"”][.,!?]?$")
_WORD = re.compile(r"\S+")
# Text without spaces (a pasted blob, a long URL list, a non-spaced script) counts one word per this many
# characters, so that caps in words also bound characters: no chunk or quote grows to megabytes.
CHARS_PER_WORD = 12


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text == source[start:end]``."""

    start: int
    end: int
    text: str

    @property
    def words(self) -> int:
        """Length in words: whitespace-separated words, or one per ``CHARS_PER_WORD`` characters if more."""
        return max(len(self.text.split()), -(-len(self.text) // CHARS_PER_WORD))


def split_sentences(text: str, max_words: int = 0) -> list[Sentence]:
    """Splits ``text`` into sentences whose spans index into ``text``.

    Paragraph breaks always end a sentence (headlines and quotes often have no final period).
    With ``max_words`` > 0, a longer "sentence" (a list, a run-on line) is cut at word boundaries.
    """
    sentences: list[Sentence] = []
    offset = 0
    for paragraph in [*_PARAGRAPH_BREAK.split(text), ""]:
        pos = text.find(paragraph, offset) if paragraph else -1
        if pos < 0:
            continue
        for start, end in nupunkt.sent_spans(paragraph):
            piece = paragraph[start:end]
            stripped = piece.strip()
            if not stripped:
                continue
            begin = pos + start + (len(piece) - len(piece.lstrip()))
            sentences.extend(_cap(Sentence(begin, begin + len(stripped), stripped), max_words))
        offset = pos + len(paragraph)
    return sentences


def leans_back(text: str) -> bool:
    """True when ``text`` cannot stand alone: it opens with a connective, a pronoun, a lower-case word or a
    closing mark, or it ends a quotation opened before it. (A quotation that opens with "It…" names its speaker
    in the same sentence often enough not to count.)"""
    return bool(_LEANS_BACK.match(text)) or ends_quotation(text)


def ends_quotation(text: str) -> bool:
    """True when ``text`` closes a quotation opened in an earlier sentence ('There are no casualties left."').
    """
    stripped = text.strip()
    # Counted together: sources mix curly and straight marks ('that “I have made it clear."').
    marks = sum(stripped.count(mark) for mark in '"“”')
    return bool(_CLOSING_QUOTE.search(stripped)) and marks % 2 == 1


def _cap(sentence: Sentence, max_words: int) -> list[Sentence]:
    """``sentence`` cut at word boundaries into pieces of at most ``max_words`` words (see
    :attr:`Sentence.words`); a piece with too little space in it is cut by characters."""
    if max_words <= 0 or sentence.words <= max_words:
        return [sentence]
    max_chars = max_words * CHARS_PER_WORD
    words = list(_WORD.finditer(sentence.text))
    pieces = []
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        start, end = group[0].start(), group[-1].end()
        for cut in range(start, end, max_chars):
            stop = min(end, cut + max_chars)
            pieces.append(Sentence(sentence.start + cut, sentence.start + stop, sentence.text[cut:stop]))
    return pieces
