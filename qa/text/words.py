"""What a word is, in one place: the tokenizers, the stop words and the word-overlap measure every stage uses.

The tokenizers differ only where a caller needs the difference, and each says why:

- :func:`words`: lower-cased runs of ASCII letters and digits, what the question and the evidence are compared
  on ("Jae-myung" is "jae", "myung"; "Japan's" is "japan", "s").
- :func:`tokens`: lower-cased runs of word characters of any script, what two passages or sentences are compared
  on to tell copies of one text (``\\w``: "São" stays one word, so another language's text is not mistaken for a
  copy).
- :func:`tokens_with_apostrophes`: as :func:`tokens`, keeping "O'Brien" and "don't" whole: how a short answer is
  looked for in another sentence, and how close two quoted sentences are.
- :func:`question_words`: an ASCII letter, then word characters, apostrophes and hyphens: the words a follow-up
  question is recognised by ("and what's next?").
- :data:`WRITTEN_WORD`: a word as written, case, hyphens and both apostrophes kept, located in its sentence: the
  words a short answer is cut from ("Jae-myung", "O’Brien").
- :func:`letters_and_digits`: as :func:`tokens` without the underscore: the content words an LLM's sentence is
  checked against its passage with.
- :func:`terms`: the keyword index's own terms (bm25s: English stop words dropped, Snowball-stemmed), as the index
  is queried with, so a sentence's share of the query's term weight is counted in the index's terms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import Stemmer

_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"\w+")
_TOKEN_WITH_APOSTROPHES = re.compile(r"[\w']+")
_LETTERS_AND_DIGITS = re.compile(r"[^\W_]+")
_QUESTION_WORD = re.compile(r"[A-Za-z][\w'-]*")
WRITTEN_WORD = re.compile(r"[\w'’-]+")
_STEMMER = Stemmer.Stemmer("english")

# Words that carry no content of their own: left out when an LLM's sentence is compared with its passage.
STOP_WORDS = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "but", "is", "are", "was", "were", "be",
    "been", "being", "has", "have", "had", "do", "does", "did", "not", "no", "it", "its", "this", "that", "these",
    "those", "he", "she", "they", "them", "his", "her", "their", "there", "then", "than", "as", "by", "with",
    "from", "about", "into", "after", "before", "over", "under", "what", "who", "whom", "when", "where", "why",
    "how", "which", "will", "would", "can", "could", "should", "may", "might", "also", "said", "says", "say",
    "according", "i", "we", "you", "our", "your", "so", "if", "up", "out", "don", "doesn", "didn", "isn", "wasn",
    "t", "s",
})

# The few words a follow-up question ("and what did he say?") is made of besides its topic. Kept apart from
# STOP_WORDS on purpose: a capitalised stop word opening a name is cut from it ("The Hague" -> "Hague"), and the
# larger list would cut "Will Smith" and "May" too, or take "he said" questions for ones that stand alone.
QUESTION_STOP_WORDS = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "is", "are", "was", "were", "did",
    "do", "does", "what", "who", "when", "where", "why", "how", "which", "with", "by", "from", "about",
    "that", "this", "it", "be", "as", "say", "said", "tell", "me", "there", "then",
})

# The numbers up to ten, spelled out: counted by relative time words ("three weeks ago") and found as numbers.
SPELLED_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                   "ten": 10}

COPY_OVERLAP = 0.9  # two passages sharing this share of their words (by :func:`overlap`) are copies of one text


def words(text: str) -> list[str]:
    """Lower-cased runs of ASCII letters and digits in ``text``, in order."""
    return _WORD.findall(text.lower())


def tokens(text: str) -> list[str]:
    """Lower-cased runs of word characters (letters of any script, digits, underscore) in ``text``, in order."""
    return _TOKEN.findall(text.lower())


def tokens_with_apostrophes(text: str) -> list[str]:
    """As :func:`tokens`, with apostrophes kept inside a word ("o'brien", "don't")."""
    return _TOKEN_WITH_APOSTROPHES.findall(text.lower())


def question_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that open with an ASCII letter, apostrophes and hyphens kept inside."""
    return _QUESTION_WORD.findall(text.lower())


def letters_and_digits(text: str) -> list[str]:
    """Lower-cased runs of letters (any script) and digits in ``text``; an underscore separates them."""
    return _LETTERS_AND_DIGITS.findall(text.lower())


def has_word(text: str) -> bool:
    """True when ``text`` holds a letter or a digit at all (an answer of only marks and citations does not)."""
    return _LETTERS_AND_DIGITS.search(text) is not None


def overlap(a: set[str], b: set[str]) -> float:
    """The share of the smaller word set that the other one holds (0 when either is empty)."""
    return len(a & b) / max(1, min(len(a), len(b)))


def terms(texts: Sequence[str]) -> list[set[str]]:
    """The distinct stemmed, stop-word-free terms of each text, as the keyword index is queried with."""
    if not texts:
        return []
    stemmed = bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)
    return [set(tokens) for tokens in stemmed]
