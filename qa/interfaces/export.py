"""Answers -> what people take away: JSON (the REST API's and ``qa ask --json``'s shape), plain text,
Markdown, and one self-contained HTML file for a memo or a slide.

Article text is untrusted here as in the page: the HTML escapes it, the Markdown escapes HTML and
Markdown syntax alike (the answer line too: only the app's own ``[n]`` markers stay as they are), and
only http(s) URLs (:func:`qa.text.markup.safe_url`) are kept, in links and in JSON alike.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import quote

from qa.text.markup import esc, safe_url
from qa.types import Answer, Citation, Passage

_CITE = re.compile(r"\[(\d{1,3})\]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # the rest only matters at a line's start
_LINE_START = re.compile(r"^(\s*(?:\d+(?=[.)])|(?=[#>+=-])))")
_SCHEME_COLON = re.compile(r"(?<=[A-Za-z0-9]):(?=//)")  # "https://…" in text: GFM would make it a link
_LINK_AFTER_MARKER = re.compile(r"^[(:]")  # "[2](…)" is a link, "[2]: …" a link definition
_SPACES = re.compile(r"\s+")


@dataclass
class Exchange:
    """One question of a conversation and its answer (None when it could not be answered: see ``error``)."""

    question: str
    answer: Answer | None = None
    error: str = ""


def citation_json(citation: Citation) -> dict:
    """One citation as JSON: ``n``, ``doc_id``, title, date, source, url (http(s) only, else None), quote,
    its ``start``/``end`` in the article, the answer's span inside it, and ``corroborates`` for "also
    reported by" citations."""
    return {**asdict(citation), "doc_id": citation.article_id, "url": safe_url(citation.url)}


def passage_json(passage: Passage) -> dict:
    """A passage as JSON (a search hit, a related passage): its fields, ``doc_id``, and the url if http(s)."""
    return {**asdict(passage), "doc_id": passage.article_id, "url": safe_url(passage.url)}


def answer_json(answer: Answer) -> dict:
    """An answer as JSON, the one shape shared by the REST API and ``qa ask --json``."""
    return {
        "question": answer.question, "answer": answer.text, "short_answer": answer.short_answer,
        "abstained": answer.abstained,
        "citations": [citation_json(c) for c in answer.citations],
        "sources": [{"n": c.n, "title": c.title, "date": c.date, "source": c.source, "url": safe_url(c.url)}
                    for c in answer.citations],
        "related": [passage_json(p) for p in answer.related], "notes": answer.notes,
        "search_query": answer.search_query, "timings_ms": answer.timings_ms, "confidence": answer.confidence,
        "reason_code": answer.decision.code if answer.decision else None,
        "reason": answer.decision.reason if answer.decision else None,
        "trace": answer.trace.as_json() if answer.trace is not None else None,
    }


def answer_text(answer: Answer, width: int = 96) -> str:
    """An answer for a terminal: the text, notes, then the numbered sources with their quotes."""
    short, rest = _short_and_rest(answer)
    lines = [(f"**{short}**" if short else "") + rest, *(f"note: {note}" for note in answer.notes)]
    if answer.citations:
        lines += ["", "Sources:"]
    for c in answer.citations:
        url = safe_url(c.url)
        lines.append(f"[{c.n}] {c.title}")
        lines.append(f"    {c.date or 'undated'} · {c.source or 'unknown source'}" + (f" · {url}" if url else ""))
        lines.append(textwrap.indent(textwrap.fill(f"“{c.quote}”", width), "    "))
    if answer.abstained and answer.related:
        lines += ["", "Related passages (not an answer):"]
        lines += [f"  - {p.title} ({p.date or 'undated'}): {textwrap.shorten(p.text, 140)}" for p in answer.related]
    if answer.trace is not None:
        lines += ["", *answer.trace.lines()]
    elif answer.abstained and answer.decision is not None:
        lines.append(f"why: {answer.decision.reason}")
    return "\n".join(lines)


def _short_and_rest(answer: Answer) -> tuple[str, str]:
    """The short answer that opens the answer as shown ("" when none), and the rest: " — " and the quotes."""
    return (answer.short_answer, f" — {answer.text}") if answer.short_answer else ("", answer.text)


# --- Markdown ---------------------------------------------------------------------------------------
def md_escape(text: str | None) -> str:
    """``text`` as literal Markdown: HTML characters as entities, Markdown syntax backslash-escaped, and
    the colon of a bare "scheme://" too (shown the same, never turned into a link)."""
    flat = _SPACES.sub(" ", str(text or "")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _LINE_START.sub(r"\1\\", _MARKDOWN_SPECIAL.sub(r"\\\1", flat))
    return _SCHEME_COLON.sub(r"\\:", escaped)


def _md_answer(text: str, cited: set[int]) -> str:
    """Answer text escaped, the ``[n]`` markers of its ``cited`` numbers kept as they are (there is no link
    definition: they show literally). Quoted text may hold "[2](https://…)": a kept marker is never followed
    by a raw "(" or ":" that would make it a link or a link definition."""
    out: list[str] = []
    for i, piece in enumerate(_CITE.split(text)):
        if i % 2:
            out.append(f"[{piece}]" if int(piece) in cited else md_escape(f"[{piece}]"))
        else:
            escaped = md_escape(piece)
            out.append(_LINK_AFTER_MARKER.sub(r"\\\g<0>", escaped) if out and out[-1].startswith("[") else escaped)
    return "".join(out)


def trace_markdown(answer: Answer) -> str:
    """The answer's trace (``qa ask --explain``) as a Markdown code block ("" without one); article text in it
    stays literal (a code block renders no Markdown or HTML, and no backtick in it can close the block)."""
    if answer.trace is None:
        return ""
    return "\n".join(["", "```text", *(line.replace("`", "'") for line in answer.trace.lines()), "```", ""])


def _md_url(url: str) -> str:
    return quote(url, safe=":/?#@!$&'*+,;=%~-._[]")  # parentheses, brackets of Markdown: percent-encoded


def _md_source(c: Citation) -> list[str]:
    title = md_escape(c.title or "Untitled")
    url = safe_url(c.url)
    heading = f"[{title}]({_md_url(url)})" if url else title
    meta = " · ".join(md_escape(x) for x in (c.source, c.date) if x)
    also = f" (also reported, see [{c.corroborates}])" if c.corroborates else ""
    return [f"{c.n}. {heading}" + (f" — {meta}" if meta else "") + also, f"   > “{md_escape(c.quote)}”"]


def conversation_markdown(exchanges: Sequence[Exchange], title: str = "Questions and answers",
                          subtitle: str = "") -> str:
    """The conversation as Markdown: each question, its answer with ``[n]`` markers, then its sources."""
    lines = [f"# {md_escape(title)}", ""]
    if subtitle:
        lines += [md_escape(subtitle), ""]
    for number, exchange in enumerate(exchanges, 1):
        lines += [f"## {number}. {md_escape(exchange.question)}", ""]
        answer = exchange.answer
        if answer is None:
            lines += [f"*{md_escape(exchange.error or 'No answer.')}*", ""]
            continue
        cited = {c.n for c in answer.citations}
        short, rest = _short_and_rest(answer)
        lines += [(f"**{md_escape(short)}**" if short else "") + _md_answer(rest, cited), ""]
        lines += [f"*Note: {md_escape(note)}*" for note in answer.notes]
        if answer.notes:
            lines.append("")
        if answer.citations:
            lines += ["**Sources**", ""]
            for citation in answer.citations:
                lines += _md_source(citation)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- HTML -------------------------------------------------------------------------------------------
_STYLE = """
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1e293b;max-width:46rem;
margin:2rem auto;padding:0 1rem}h1{font-size:1.5rem;margin-bottom:.2rem}.sub{color:#64748b;margin-top:0}
section{border-top:1px solid #e2e8f0;padding-top:1rem;margin-top:1.4rem}h2{font-size:1.1rem}
.answer{font-size:1.05rem}.cite{color:#4338ca;text-decoration:none;font-weight:600}.note{color:#64748b;
font-style:italic}.error{color:#b91c1c}ol{padding-left:1.4rem}li{margin:.6rem 0}.meta{color:#64748b;
font-size:.9rem}blockquote{margin:.3rem 0 0;padding:.3rem .8rem;border-left:3px solid #a5b4fc;
background:#f8fafc}b.answer-span{background:#e0e7ff}a{color:#4338ca}
"""


def _html_answer(text: str, turn: int, cited: set[int]) -> str:
    """Answer text escaped, each ``[n]`` of its ``cited`` numbers a link to source ``n`` below."""
    pieces = _CITE.split(text)
    return "".join(f'<a class="cite" href="#s{turn}-{piece}">[{piece}]</a>' if i % 2 and int(piece) in cited
                   else esc(f"[{piece}]" if i % 2 else piece) for i, piece in enumerate(pieces))


def _html_quote(c: Citation) -> str:
    quote_text = c.quote or ""
    if c.answer_start is not None and c.answer_end is not None:
        start, end = c.answer_start - c.start, c.answer_end - c.start
        if 0 <= start < end <= len(quote_text):
            return (f"{esc(quote_text[:start])}<b class=\"answer-span\">{esc(quote_text[start:end])}</b>"
                    f"{esc(quote_text[end:])}")
    return esc(quote_text)


def _html_source(c: Citation, turn: int) -> str:
    url = safe_url(c.url)
    title = esc(c.title or "Untitled")
    heading = f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{title}</a>' if url else title
    meta = " · ".join(esc(x) for x in (c.source, c.date) if x)
    also = f" · also reported, see [{c.corroborates}]" if c.corroborates else ""
    link = f'<div class="meta">{esc(url)}</div>' if url else ""
    return (f'<li id="s{turn}-{c.n}" value="{c.n}"><div>{heading}</div><div class="meta">{meta}{also}</div>{link}'
            f"<blockquote>“{_html_quote(c)}”</blockquote></li>")


def conversation_html(exchanges: Sequence[Exchange], title: str = "Questions and answers",
                      subtitle: str = "") -> str:
    """The conversation as one HTML file with its style inline: no script, no outside asset."""
    sections = []
    for turn, exchange in enumerate(exchanges, 1):
        answer = exchange.answer
        parts = [f"<section><h2>{turn}. {esc(exchange.question)}</h2>"]
        if answer is None:
            parts.append(f'<p class="error">{esc(exchange.error or "No answer.")}</p>')
        else:
            cited = {c.n for c in answer.citations}
            short, rest = _short_and_rest(answer)
            bold = f'<strong class="short-answer">{esc(short)}</strong>' if short else ""
            parts.append(f'<p class="answer">{bold}{_html_answer(rest, turn, cited)}</p>')
            parts += [f'<p class="note">{esc(note)}</p>' for note in answer.notes]
            if answer.citations:
                parts.append("<h3>Sources</h3><ol>" + "".join(_html_source(c, turn) for c in answer.citations)
                             + "</ol>")
        parts.append("</section>")
        sections.append("".join(parts))
    sub = f'<p class="sub">{esc(subtitle)}</p>' if subtitle else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>{sub}"
            + "".join(sections) + "</body></html>\n")
