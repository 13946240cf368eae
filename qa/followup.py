"""Follow-up questions -> standalone search queries, using the previous turns' question and entities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Words that make a question lean on what was said before.
_ANAPHORA = {
    "he", "him", "his", "she", "her", "hers", "it", "its", "they", "them", "their", "theirs", "that",
    "this", "these", "those", "there", "then", "the two", "both", "such", "same", "former", "latter",
}
_OPENERS = ("and ", "also ", "but ", "so ", "what about", "how about", "and?", "why?", "when?", "where?", "who else")
_STOP = {
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "is", "are", "was", "were", "did",
    "do", "does", "what", "who", "when", "where", "why", "how", "which", "with", "by", "from", "about",
    "that", "this", "it", "be", "as", "say", "said", "tell", "me", "there", "then",
}
_WORD = re.compile(r"[A-Za-z][\w'-]*")
_NAME = re.compile(r"\b(?:[A-Z][\w'-]+)(?:\s+(?:[A-Z][\w'-]+|of|de|bin|al))*\b")
_CITATION = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked, what was answered (plain text, citations allowed)."""

    question: str
    answer: str = ""
    query: str = ""  # the standalone query that turn was searched with, when it was itself rewritten


def needs_context(question: str) -> bool:
    """True when ``question`` reads as a follow-up: a pronoun, an "and ..." opener, or very few words."""
    text = question.strip().lower()
    words = _WORD.findall(text)
    content = [w for w in words if w not in _STOP]
    if text.startswith(_OPENERS) or len(content) <= 1:
        return True
    padded = f" {' '.join(words)} "
    return any(f" {word} " in padded for word in _ANAPHORA)


def entities(text: str) -> list[str]:
    """Capitalised names in ``text`` (Koizumi, South Korea, Black Eagles), first mention first."""
    seen: dict[str, None] = {}
    for sentence in re.split(r"(?<=[.!?])\s+", _CITATION.sub("", text)):
        for match in _NAME.finditer(sentence):
            name = match.group(0)
            first = name.split()[0]
            if match.start() == 0 and first.lower() in _STOP and len(name.split()) == 1:
                continue  # a capitalised question word, not a name
            if first.lower() in _STOP:
                name = " ".join(name.split()[1:])
            if name and name.lower() not in _STOP:
                seen.setdefault(name, None)
    return list(seen)


def rewrite(question: str, history: Sequence[Turn], max_entities: int = 6) -> str:
    """A standalone query for ``question``: unchanged if it stands alone, else enriched with context.

    The previous question carries the topic; names from the previous answer carry who and what
    ("he", "that") refer to. Both are appended, so the user's own words still lead the query.
    """
    question = question.strip()
    if not history or not needs_context(question):
        return question
    previous = history[-1]
    topic = (previous.query or previous.question).strip()
    names = [n for n in entities(previous.question) + entities(previous.answer)
             if n.lower() not in question.lower() and n.lower() not in topic.lower()]
    context = " ".join(dict.fromkeys(names[:max_entities]))
    return f"{question} {topic} {context}".strip()
