"""One chat session: its turns, the history passed to the assistant, and the streamed ask.

No gradio here: :func:`ask_stream` yields plain values (chat messages, sources HTML, turns) that the app
hands to its components, so the session logic is testable without a browser.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator, Sequence

from qa.answering.followup import Turn
from qa.assistant import Assistant
from qa.interfaces.ui import render
from qa.interfaces.ui.startup import Startup
from qa.interfaces.ui.turns import ChatTurn
from qa.text.timeframe import today
from qa.types import Answer, SearchFilters

log = logging.getLogger(__name__)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STREAM_EVERY_S = 0.04  # at most this often a partial answer is sent to the page


Message = dict[str, str]
Update = tuple[list[Message], str | None, list[ChatTurn]]  # chat, sources HTML (None: unchanged), turns


def history(turns: Sequence[ChatTurn]) -> list[Turn]:
    """The earlier answered turns, as the assistant wants them for follow-up questions."""
    return [Turn(t.question, t.answer.text, t.answer.search_query) for t in turns if t.answer is not None]


def messages(turns: Sequence[ChatTurn], pending: tuple[str, str] | None = None) -> list[Message]:
    """Chat messages for ``turns``, plus an unfinished ``(question, assistant HTML)`` exchange."""
    out: list[Message] = []
    for number, turn in enumerate(turns, 1):
        out.append({"role": "user", "content": render.user_message(turn.question)})
        body = (render.answer_message(turn.answer, number) if turn.answer is not None
                else render.error_message(turn.error))
        out.append({"role": "assistant", "content": body})
    if pending is not None:
        out.append({"role": "user", "content": render.user_message(pending[0])})
        out.append({"role": "assistant", "content": pending[1]})
    return out


def parse_date(value: str | None, label: str) -> str | None:
    """A ``YYYY-MM-DD`` filter value (None when blank); ValueError with a message a person can act on."""
    value = (value or "").strip()
    if not value:
        return None
    if not _DATE.match(value):
        raise ValueError(f"“{label}” must be a date like 2025-01-31 (YYYY-MM-DD), not “{value[:40]}”.")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"“{label}” is not a real date: “{value}” (use YYYY-MM-DD).") from None
    return value


def parse_filters(sources: Sequence[str] | None, since: str | None, until: str | None) -> SearchFilters | None:
    """Filters from the form (None when nothing is restricted); ValueError with a clear message."""
    since_value, until_value = parse_date(since, "Since"), parse_date(until, "Until")
    if since_value and until_value and since_value > until_value:
        raise ValueError(f"“Since” ({since_value}) is after “Until” ({until_value}).")
    filters = SearchFilters(sources=tuple(s for s in (sources or []) if s), since=since_value, until=until_value)
    return filters if filters.active else None


def friendly_error(error: BaseException) -> str:
    """What the user sees when answering fails: a short reason, never a traceback."""
    reason = " ".join(str(error).split())[:240]
    reason = f" ({reason})" if reason else ""
    return f"Sorry, something went wrong while answering{reason}. Please try again, or rephrase the question."


def parse_as_of(value: str | None) -> str:
    """The question's date from the form: a ``YYYY-MM-DD`` value, or today when blank; ValueError if bad."""
    return parse_date(value, "As of") or today()


def ask_stream(assistant: Assistant, question: str, turns: Sequence[ChatTurn],
               filters: SearchFilters | None = None, use_llm: bool | None = None,
               licence_of: Callable[[str], str | None] | None = None,
               clock: Callable[[], float] | None = None, as_of: str | None = None) -> Iterator[Update]:
    """Streams one question asked on ``as_of``: status lines, the answer as it arrives, then the final
    chat + source cards."""
    import time

    clock = clock or time.monotonic
    question = question.strip()
    turns = list(turns)
    if not question:
        yield messages(turns), None, turns
        return
    number = len(turns) + 1
    status = "Searching the articles…"
    yield messages(turns, (question, render.status_message(status))), None, turns
    text, last_sent = "", clock()
    answer: Answer | None = None
    try:
        for event in assistant.stream(question, history(turns), filters, as_of=as_of, use_llm=use_llm,
                                      explain=True):
            if event.kind == "status" and event.text != status:  # each page update costs the server
                status = event.text
                yield messages(turns, (question, render.status_message(status))), None, turns
                last_sent = clock()
            elif event.kind == "delta":
                text += event.text
                if clock() - last_sent >= STREAM_EVERY_S:
                    yield messages(turns, (question, render.partial_message(text, number))), None, turns
                    last_sent = clock()
            elif event.answer is not None:
                answer = event.answer
        if answer is None:
            raise RuntimeError("the assistant returned no answer")
    except Exception as error:  # the page shows a friendly line; the log keeps the traceback
        log.exception("answering %r failed", question)
        turns.append(ChatTurn(question, error=friendly_error(error)))
        yield messages(turns), None, turns
        return
    licences: dict[str, str] = {}
    if licence_of is not None:
        for citation in answer.citations:
            if citation.article_id not in licences:
                try:
                    licence = licence_of(citation.article_id)
                except Exception:  # a licence line is a nicety; never fail the answer for it
                    log.exception("licence lookup failed for %s", citation.article_id)
                    licence = None
                if licence:
                    licences[citation.article_id] = licence
    turns.append(ChatTurn(question, answer, licences=licences))
    yield messages(turns), render.sources_panel(turns), turns


def wait_for_index(startup: Startup, question: str, turns: Sequence[ChatTurn],
                   timeout_s: float = 900.0, every_s: float = 0.5) -> Iterator[Update]:
    """While the index is being built, shows the question with the build's progress, until it is ready or
    ``timeout_s`` passes; the caller then asks, or (still building) refuses."""
    waited = 0.0
    while not startup.ready and waited < timeout_s:
        status = (f"Building the index ({startup.message()}); your question will be answered as soon as it is "
                  "ready…")
        yield messages(turns, (question.strip() or "…", render.status_message(status))), None, list(turns)
        startup.wait(every_s)
        waited += every_s


def refuse(question: str, turns: Sequence[ChatTurn], reason: str) -> Update:
    """Adds a turn that explains why the question was not asked (bad filter, index still building)."""
    turns = [*turns, ChatTurn(question.strip() or "…", error=reason)]
    return messages(turns), None, turns
