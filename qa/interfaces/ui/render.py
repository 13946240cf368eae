"""HTML for the web app: chat messages, source cards, header, ingest reports, article list.

Article text is untrusted (it comes from whatever files were ingested), and so are file names and error
messages: every such value goes through :func:`esc` before it is placed in markup, and only http(s) URLs
ever become links. The output never contains a blank line, so the Chatbot's Markdown renderer treats each
message as one raw HTML block and never interprets article text as Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from qa.text.markup import esc, safe_url

if TYPE_CHECKING:
    from qa.answering.trace import Trace
    from qa.config import Config
    from qa.ingest.pipeline import IngestReport
    from qa.interfaces.ui.turns import ChatTurn
    from qa.storage.collection import Stats
    from qa.storage.store import StoredArticle
    from qa.types import Answer, Citation, Passage

_CITE = re.compile(r"\[(\d{1,3})\]")
_NEWLINES = re.compile(r"\s*\n\s*")
CONTEXT_CHARS = 260  # passage text kept on each side of the highlighted quote
RELATED_CHARS = 360
WHY_CANDIDATES = 5  # candidates shown under "Why this answer?"
WHY_FEATURES = 4  # ... each with the features that moved its score most
REPORT_ITEMS = 60  # items listed per outcome in an ingest report
ARTICLE_ROWS = 500  # rows shown in the article list


def _link(url: str | None, inner_html: str, cls: str) -> str:
    href = safe_url(url)
    if href is None:
        return f'<span class="{cls}">{inner_html}</span>'
    return f'<a class="{cls}" href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">{inner_html}</a>'


def _inline(text: str) -> str:
    """Escaped text with each run of line breaks as one ``<br>`` (never a blank line in the output)."""
    return "<br>".join(esc(line) for line in _NEWLINES.sub("\n", text).split("\n"))


def _text(text: str) -> str:
    """Like :func:`_inline`, without leading and trailing whitespace."""
    return _inline(text.strip())


def _meta(source: str | None, date: str | None) -> str:
    bits = [f'<span class="qa-source">{esc(source)}</span>' if source else "",
            f'<time>{esc(date)}</time>' if date else '<span class="qa-undated">undated</span>']
    return '<div class="qa-meta">' + '<span class="qa-dot">·</span>'.join(b for b in bits if b) + "</div>"


# --- chat messages ---------------------------------------------------------------------------------
def cite_links(text: str, turn: int, cited: Iterable[int] | None = None) -> str:
    """Escapes ``text`` and turns each ``[n]`` (of ``cited``, or every one when None) into a cite link."""
    allowed = None if cited is None else set(cited)
    out: list[str] = []
    pos = 0
    for match in _CITE.finditer(text):
        n = int(match.group(1))
        out.append(_inline(text[pos:match.start()]))
        if allowed is None or n in allowed:
            out.append(f'<a href="#src-{turn}-{n}" class="cite" data-turn="{turn}" data-n="{n}" '
                       f'title="Show source {n}">[{n}]</a>')
        else:
            out.append(esc(match.group(0)))
        pos = match.end()
    out.append(_inline(text[pos:]))
    return "".join(out)


def user_message(question: str) -> str:
    """A user's question as shown in the chat."""
    return f'<div class="qa-question">{_text(question)}</div>'


def status_message(text: str) -> str:
    """A status line shown while the answer is being prepared."""
    return (f'<div class="qa-status"><span class="qa-spinner" aria-hidden="true"></span>'
            f'<span>{esc(text)}</span></div>')


def partial_message(text: str, turn: int) -> str:
    """Answer text that is still arriving."""
    return f'<div class="qa-answer qa-streaming qa-t{turn}" data-turn="{turn}">{cite_links(text, turn)}</div>'


def answer_message(answer: Answer, turn: int) -> str:
    """A finished answer: escaped text, ``[n]`` links to this turn's source cards, notes."""
    cited = [c.n for c in answer.citations]
    cls = f"qa-answer qa-t{turn}" + (" qa-abstained" if answer.abstained else "")
    parts = [f'<div class="{cls}" data-turn="{turn}">',
             f'<div class="qa-answer-text">{_short_answer_first(answer, turn, cited)}</div>']
    if answer.abstained and answer.related:
        parts.append('<div class="qa-hint">See “Related passages” beside the chat — they may help, '
                     'but they do not answer the question.</div>')
    parts.extend(f'<div class="qa-note">{esc(note)}</div>' for note in answer.notes)
    if answer.abstained and answer.decision is not None:
        parts.append(f'<div class="qa-reason">Why: {esc(answer.decision.reason)}</div>')
    if answer.trace is not None:
        parts.append(why_details(answer.trace))
    if answer.citations:  # not shown; the copy button copies it with the answer (see cite.js)
        parts.append('<div class="qa-copy-only"><div></div><div>Sources:</div>' + "".join(
            f"<div>[{c.n}] {esc(c.title)} ({esc(', '.join(x for x in (c.source, c.date) if x))})"
            + (f" {esc(url)}" if (url := safe_url(c.url)) else "") + "</div>" for c in answer.citations) + "</div>")
    parts.append("</div>")
    return "".join(parts)


def _short_answer_first(answer: Answer, turn: int, cited: list[int]) -> str:
    """The answer text, escaped, opened by the short answer (if any) in bold."""
    text = cite_links(answer.text, turn, cited)
    short = answer.short_answer
    return f'<strong class="qa-short-answer">{esc(short)}</strong> — {text}' if short else text


def why_details(trace: Trace, limit: int = WHY_CANDIDATES) -> str:
    """"Why this answer?": a collapsed block with the decision, the question's facts and the best candidates,
    each with its score and every check's verdict (article text escaped)."""
    items = []
    for candidate in trace.candidates[:limit]:
        score = ("outside the date window" if candidate.final_score is None
                 else f"{candidate.final_score:.0%} likely to answer")
        mark = " · chosen" if candidate.chosen else " · also reported" if candidate.corroborates else ""
        checks = "".join(f'<li class="qa-check qa-{esc(v.outcome)}">{esc(v.check)}: {esc(v.outcome)} '
                         f'({esc(v.reason)})</li>' for v in candidate.checks)
        weighed = candidate.weighed(WHY_FEATURES)
        weights = ("<div class=\"qa-why-weights\">weighed: " + ", ".join(f"{esc(n)} {p:+.2f}" for n, p in weighed)
                   + "</div>") if weighed else ""
        items.append(f'<li><div class="qa-why-head">{esc(score)} (model {candidate.model_score:.2f}){esc(mark)}'
                     f' — {esc(candidate.title)} ({esc(candidate.date or "undated")})</div>'
                     f'<div class="qa-why-text">“{_text(candidate.text)}”</div>{weights}<ul>{checks}</ul></li>')
    facts = trace.facts
    asked = f'<div>Asks for: {esc(facts.kind)}</div>' if facts is not None else ""
    summary = "Why this answer?" if trace.decision.answered else "Why no answer?"
    return (f'<details class="qa-why"><summary>{summary}</summary>'
            f'<div class="qa-why-decision">{esc(trace.decision.reason)} ({esc(trace.decision.code)})</div>{asked}'
            + (f"<ol>{''.join(items)}</ol>" if items else "") + "</details>")


def error_message(text: str) -> str:
    """A friendly error or validation message in the chat."""
    return f'<div class="qa-error" role="alert">{esc(text)}</div>'


# --- sources panel ---------------------------------------------------------------------------------
def _excerpt_before(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "… " + (cut[space + 1:] if 0 <= space < 40 else cut)


def _excerpt_after(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + " …"


def quote_span(citation: Citation) -> tuple[int, int] | None:
    """Where the quote sits in ``citation.passage``: its recorded offsets, else the first exact match."""
    passage, quote = citation.passage or "", citation.quote or ""
    start, end = citation.start - citation.passage_start, citation.end - citation.passage_start
    if quote and 0 <= start <= end <= len(passage) and passage[start:end] == quote:
        return start, end
    found = passage.find(quote) if quote else -1
    return (found, found + len(quote)) if found >= 0 else None


def highlighted_passage(citation: Citation, context: int = CONTEXT_CHARS) -> str:
    """The passage around the cited sentence, escaped, with the sentence in ``<mark>``."""
    passage = citation.passage or ""
    span = quote_span(citation)
    if span is None:
        return f"<mark>{_text(citation.quote)}</mark>" if citation.quote else _text(passage)
    start, end = span
    before = _excerpt_before(_NEWLINES.sub("\n", passage[:start]).lstrip(), context)
    after = _excerpt_after(_NEWLINES.sub("\n", passage[end:]).rstrip(), context)
    return f"{_inline(before)}<mark>{_marked_quote(citation, passage[start:end])}</mark>{_inline(after)}"


def _marked_quote(citation: Citation, quote: str) -> str:
    """The quote, escaped, with what answers the question (``answer_start``/``answer_end``) in bold."""
    if citation.answer_start is None or citation.answer_end is None:
        return _text(quote)
    start, end = citation.answer_start - citation.start, citation.answer_end - citation.start
    if not 0 <= start < end <= len(quote):
        return _text(quote)
    # The pieces keep their spaces ("for <b>36</b> hours"); only the quote's own ends are trimmed.
    before, answer, after = quote[:start], quote[start:end], quote[end:]
    return (f'{_inline(before.lstrip())}<b class="qa-answer-span">{_inline(answer)}</b>'
            f'{_inline(after.rstrip())}')


def source_card(citation: Citation, turn: int, licence: str | None = None) -> str:
    """Card ``n`` of answer ``turn``: title (linked when http(s)), source, date, highlighted passage, licence."""
    n = citation.n
    foot = []
    if safe_url(citation.url):
        foot.append(_link(citation.url, "Open original ↗", "qa-open"))
    if licence:
        foot.append(f'<span class="qa-licence">Licence: {esc(licence)}</span>')
    return (f'<li class="qa-card" id="src-{turn}-{n}" data-turn="{turn}" data-n="{n}">'
            f'<div class="qa-card-head"><span class="qa-num">{n}</span><div class="qa-card-heading">'
            f'{_link(citation.url, esc(citation.title or "Untitled"), "qa-title")}'
            f"{_meta(citation.source, citation.date)}</div></div>"
            f'<blockquote class="qa-passage">{highlighted_passage(citation)}</blockquote>'
            + (f'<div class="qa-card-foot">{"".join(foot)}</div>' if foot else "") + "</li>")


def related_item(passage: Passage) -> str:
    """A related (not cited) passage: no number, no highlight."""
    text = _excerpt_after(_NEWLINES.sub("\n", passage.text.strip()), RELATED_CHARS)
    return (f'<li class="qa-related-item"><div class="qa-card-heading">'
            f'{_link(passage.url, esc(passage.title or "Untitled"), "qa-title")}{_meta(passage.source, passage.date)}'
            f'</div><p class="qa-passage">{_text(text)}</p></li>')


def _turn_group(turn_no: int, turn: ChatTurn, is_open: bool) -> str:
    answer = turn.answer
    assert answer is not None
    if answer.citations:
        count = f"{len(answer.citations)} source{'s' if len(answer.citations) != 1 else ''}"
        body = ('<ol class="qa-cards">'
                + "".join(source_card(c, turn_no, turn.licences.get(c.article_id)) for c in answer.citations)
                + "</ol>")
    elif answer.related:
        count = "no answer"
        body = ('<div class="qa-related-head">Related passages</div><ul class="qa-related">'
                + "".join(related_item(p) for p in answer.related) + "</ul>")
    else:
        count = "no sources"
        body = '<p class="qa-empty">No sources for this answer.</p>'
    return (f'<details class="qa-turn" id="qa-turn-{turn_no}" data-turn="{turn_no}"{" open" if is_open else ""}>'
            f'<summary><span class="qa-turn-no">Answer {turn_no}</span>'
            f'<span class="qa-turn-q">{esc(turn.question)}</span><span class="qa-turn-count">{count}</span></summary>'
            f"{body}</details>")


EMPTY_SOURCES = ('<div class="qa-sources-empty">Ask a question: the sources cited in the answer appear here, '
                 "with the supporting sentence highlighted. Click a <b>[n]</b> in any answer to jump to its source."
                 "</div>")


def sources_panel(turns: Sequence[ChatTurn]) -> str:
    """Source cards of every answered turn, newest first; only the newest group starts open."""
    answered = [(i, t) for i, t in enumerate(turns, 1) if t.answer is not None]
    groups = [_turn_group(i, t, is_open=(k == 0)) for k, (i, t) in enumerate(reversed(answered))]
    body = "".join(groups) if groups else EMPTY_SOURCES
    return f'<div class="qa-sources"><div class="qa-sources-title">Sources</div>{body}</div>'


# --- header, banner --------------------------------------------------------------------------------
def model_line(config: Config) -> str:
    """What answers: the embedding model, the reranker, and extractive answers or the LLM."""
    parts = [config.embedding_model]
    if config.reranker_model and config.reranker_model.lower() != "none":
        parts.append(f"{config.reranker_model} reranker")
    parts.append(f"LLM {config.llm_model}" if config.llm_enabled else "extractive answers")
    return " · ".join(parts)


def _model_chip(config: Config) -> str:
    short = "LLM " + config.llm_model if config.llm_enabled else "extractive"
    return f"{config.embedding_model} · {short}"


def header(stats: Stats, config: Config, freshness: str = "") -> str:
    """The slim header: app name, collection size and date range, model in use, and how current the
    collection is (``freshness``: newest article, feeds and their last poll)."""
    dates = (f"{esc(stats.first_date)} – {esc(stats.last_date)}" if stats.first_date else "no dates")
    return ('<div class="qa-header"><div class="qa-brand"><span class="qa-logo" aria-hidden="true">❝</span>'
            '<div><div class="qa-name">News Q&amp;A</div>'
            '<div class="qa-tagline">Cited answers from your articles · offline &amp; private</div>'
            '</div></div><div class="qa-stats">'
            f'<span class="qa-stat"><b>{stats.articles:,}</b> articles</span>'
            f'<span class="qa-stat"><b>{stats.chunks:,}</b> chunks</span>'
            f'<span class="qa-stat">{dates}</span>'
            f'<span class="qa-stat qa-model" title="{esc(model_line(config))}">{esc(_model_chip(config))}</span>'
            + (f'<span class="qa-stat qa-fresh" id="qa-freshness">{esc(freshness)}</span>' if freshness else "")
            + "</div></div>")


def building_banner(message: str) -> str:
    """The notice shown while the demo index is being built on first start."""
    return (f'<div class="qa-banner" role="status"><span class="qa-spinner" aria-hidden="true"></span>'
            f"<b>Building the demo index…</b> <span>{esc(message)}</span></div>")


def notice(text: str, kind: str = "info") -> str:
    """A short message box (``info``, ``ok`` or ``error``)."""
    kind = kind if kind in ("info", "ok", "error") else "info"
    return f'<div class="qa-notice qa-{kind}">{esc(text)}</div>'


# --- library: ingest reports, article list -----------------------------------------------------------
def _items(items: Sequence[str]) -> str:
    shown = "".join(f"<li>{esc(item)}</li>" for item in items[:REPORT_ITEMS])
    more = f'<li class="qa-more">… and {len(items) - REPORT_ITEMS} more</li>' if len(items) > REPORT_ITEMS else ""
    return f"<ul>{shown}{more}</ul>"


def ingest_report(report: IngestReport | None, rejected: Sequence[tuple[str, str]] = (),
                  shorten: Callable[[str], str] = lambda s: s) -> str:
    """The outcome of an upload: what was added, updated, unchanged, failed (with reasons), all escaped.

    ``rejected`` are files refused before ingest (type, size); ``shorten`` trims server paths for display.
    """
    sections: list[tuple[str, str, list[str]]] = []
    if report is not None:
        sections += [("added", "Added", list(report.added)), ("updated", "Updated", list(report.updated)),
                     ("unchanged", "Unchanged", list(report.unchanged)),
                     ("duplicate", "Duplicates (not added)", list(report.duplicates)),
                     ("removed", "Removed", list(report.removed)),
                     ("failed", "Failed", [f"{shorten(p)}: {shorten(r)}" for p, r in report.failed]),
                     ("failed", "Skipped", [f"{shorten(p)}: {shorten(r)}" for p, r in report.skipped])]
    sections.append(("failed", "Not accepted", [f"{name}: {reason}" for name, reason in rejected]))
    failures = (len(report.failed) + len(report.skipped) if report else 0) + len(rejected)
    ok = report is not None and (report.added or report.updated or report.unchanged)
    kind = "error" if failures and not ok else ("warn" if failures else "ok")
    summary = esc(shorten(report.summary())) if report is not None else "nothing was ingested"
    body = "".join(f'<div class="qa-report-{cls}"><b>{esc(label)} ({len(items)})</b>{_items(items)}</div>'
                   for cls, label, items in sections if items)
    return f'<div class="qa-report qa-report-{kind}"><div class="qa-report-summary">{summary}</div>{body}</div>'


def articles_table(stored: Sequence[StoredArticle], limit: int = ARTICLE_ROWS) -> str:
    """The articles in the collection (newest first): title, date, source, chunks, id."""
    if not stored:
        return '<div class="qa-articles qa-empty">The collection is empty.</div>'
    rows = "".join(
        f"<tr><td>{_link(s.article.url, esc(s.article.title), 'qa-title')}</td>"
        f"<td>{esc(s.article.date or '')}</td><td>{esc(s.article.source or '')}</td>"
        f'<td class="qa-num-col">{s.chunks}</td><td><code>{esc(s.article.id)}</code></td></tr>'
        for s in stored[:limit])
    more = (f'<div class="qa-more">Showing the newest {limit} of {len(stored):,} articles.</div>'
            if len(stored) > limit else "")
    return (f'<div class="qa-articles"><table><thead><tr><th>Title</th><th>Date</th><th>Source</th>'
            f'<th class="qa-num-col">Chunks</th><th>ID</th></tr></thead><tbody>{rows}</tbody></table>{more}</div>')


def remove_choices(stored: Sequence[StoredArticle], limit: int = 2000) -> list[tuple[str, str]]:
    """``(label, article id)`` pairs for the remove dropdown (labels are shown as plain text)."""
    return [(f"{s.article.title[:90]} · {s.article.date or 'undated'} · {s.article.id}", s.article.id)
            for s in stored[:limit]]
