"""Follow-up questions -> standalone search queries, using the previous turns' question and entities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.text.names import mentioned_names
from qa.text.questions import bound_question
from qa.text.words import QUESTION_STOP_WORDS, question_words

# Words that make a question lean on what was said before.
_ANAPHORA = {
    "he", "him", "his", "she", "her", "hers", "it", "its", "they", "them", "their", "theirs", "that",
    "this", "these", "those", "there", "then", "the two", "both", "such", "same", "former", "latter",
}
_OPENERS = ("and ", "also ", "but ", "so ", "what about", "how about", "and?", "why?", "when?", "where?", "who else")
_CITATION = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked, what was answered (plain text, citations allowed)."""

    question: str
    answer: str = ""
    query: str = ""  # the standalone query that turn was searched with, when it was itself rewritten


@dataclass(frozen=True)
class BoundedHistory:
    """The earlier turns to read, and a note for the user when some were left out or shortened."""

    turns: list[Turn]
    note: str | None = None


def bound_history(history: Sequence[Turn], max_turns: int, max_chars: int) -> BoundedHistory:
    """The latest ``max_turns`` of ``history``, each question bounded as a question is, each answer and
    search query cut to ``max_chars`` characters: what a client sends as history never costs more than this.

    Only the last turn feeds the query rewrite (and an LLM reads three), so the older turns left out change
    nothing and get no note (a long chat on the page would carry one on every answer); a shortened turn
    may, so the note says how many were shortened. A long answer still names its entities early.
    """
    kept = list(history[-max_turns:]) if max_turns > 0 else []
    bounded = [_bounded_turn(turn, max_chars) for turn in kept]
    shortened = sum(cut for _, cut in bounded)
    note = (f"For context, {shortened} long earlier exchange{'s were' if shortened > 1 else ' was'} shortened "
            f"to {max_chars:,} characters.") if shortened else None
    return BoundedHistory([turn for turn, _ in bounded], note)


def _bounded_turn(turn: Turn, max_chars: int) -> tuple[Turn, bool]:
    """``turn`` with its question bounded and its answer and query cut; True when anything was cut."""
    question = bound_question(turn.question)
    answer, query = _cut(turn.answer, max_chars), _cut(turn.query, max_chars)
    cut = question.note is not None or len(answer) < len(turn.answer) or len(query) < len(turn.query)
    return Turn(question.text, answer, query), cut


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when there is one."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def needs_context(question: str) -> bool:
    """True when ``question`` reads as a follow-up: a pronoun, an "and ..." opener, or very few words."""
    text = question.strip().lower()
    words = question_words(text)
    content = [w for w in words if w not in QUESTION_STOP_WORDS]
    if text.startswith(_OPENERS) or len(content) <= 1:
        return True
    padded = f" {' '.join(words)} "
    return any(f" {word} " in padded for word in _ANAPHORA)


def entities(text: str) -> list[str]:
    """Capitalised names in ``text`` (Koizumi, South Korea, Black Eagles), first mention first; citation
    markers ("[1]") are no part of them."""
    return mentioned_names(_CITATION.sub("", text))


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
