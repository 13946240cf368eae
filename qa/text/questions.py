"""A question as typed -> the text the pipeline reads: whitespace collapsed, length bounded."""

from __future__ import annotations

from dataclasses import dataclass

# A question's point comes early; past these, words only dilute the search and the cross-encoder, which
# scores the query by its first 64 word pieces anyway (embeddings.Reranker.max_query_tokens).
MAX_QUESTION_WORDS = 50
MAX_QUESTION_CHARS = 600


@dataclass(frozen=True)
class BoundedQuestion:
    """The question text to use, and a note for the user when it had to be shortened."""

    text: str
    note: str | None = None


def bound_question(raw: str) -> BoundedQuestion:
    """Collapses whitespace and keeps at most the first 50 words and 600 characters of ``raw``."""
    whole = " ".join(str(raw or "").split())
    text = " ".join(whole.split(" ")[:MAX_QUESTION_WORDS])
    if len(text) > MAX_QUESTION_CHARS:
        cut = text[:MAX_QUESTION_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut  # at a word boundary when there is one
    if text == whole:
        return BoundedQuestion(text)
    return BoundedQuestion(text, f"The question was long, so only its first {len(text):,} of {len(whole):,} "
                                 "characters were used.")
