"""The "seed" plain-text format: a news page saved as text, with page furniture around the body.

Layout (every part after line 1 may be missing)::

     date 2026-01-30  Japan Today          <- line 1: date and source
    <caption ... Image: AP/...>            <- photo caption
    politics                               <- section word
    <headline>                             <- title
    1 Comment                              <- comment counter
    YOKOSUKA, Japan                        <- dateline
    <body paragraphs>
    1 Comment                              <- reader comments start here ...
    <comment text>
    -1 ( +0 / -1 )                         <- ... with vote lines
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .common import clean_body, clean_line, derive_title

SEED_FIRST_LINE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+(.+?)\s*$")
_COUNTER = re.compile(r"^\d[\d,]*\s+comments?$", re.IGNORECASE)
_VOTE = re.compile(r"^[-+]?\d+\s*\(\s*\+\s*\d+\s*/\s*-\s*\d+\s*\)$")
_CAPTION = re.compile(r"\b(?:Image|Photo|Picture)s?:\s")
# Section labels on these pages are single lowercase words ("politics", "national", "crime").
_SECTION = re.compile(r"^[a-z][a-z&/\- ]{0,29}$")
# Page trailers that end the body even when no comment counter follows.
_TRAILER = re.compile(r"^(?:log ?in|sign ?up) to (?:leave a )?comment\b", re.IGNORECASE)
# The counter that separates the headline block from the body sits within the first few lines.
_HEADER_WINDOW = 6


@dataclass(frozen=True)
class SeedParts:
    """The pieces of a seed-format page."""

    title: str
    date: str
    source: str
    dateline: str | None
    body: str


def is_seed(first_line: str) -> bool:
    """True when ``first_line`` is a seed-format header (`` date YYYY-MM-DD  SOURCE``)."""
    return SEED_FIRST_LINE.match(first_line) is not None


def _is_caption(line: str) -> bool:
    return _CAPTION.search(line) is not None


def _is_section(line: str) -> bool:
    return _SECTION.match(line) is not None


def is_dateline(line: str) -> bool:
    """A short line whose place name before the first comma is upper case: ``YOKOSUKA, Japan``."""
    if len(line) > 60 or len(line.split()) > 6:
        return False
    head = line.split(",", 1)[0].strip()
    letters = re.sub(r"[^A-Za-z]", "", head)
    return len(letters) >= 2 and letters.isupper()


def parse_seed(text: str) -> SeedParts:
    """Splits seed-format text (already decoded, ``\\n`` line ends) into title, metadata and body."""
    lines = text.split("\n")
    first = next(i for i, ln in enumerate(lines) if ln.strip())
    m = SEED_FIRST_LINE.match(lines[first])
    if m is None:
        raise ValueError("not a seed-format text")
    date, source = m.group(1), clean_line(m.group(2))
    # (line index, stripped text) of every non-empty line after the header line.
    items = [(i, ln.strip()) for i, ln in enumerate(lines) if i > first and ln.strip()]

    title: str | None = None
    counter = next((k for k, (_, ln) in enumerate(items[:_HEADER_WINDOW]) if _COUNTER.match(ln)), None)
    head: list[str] = []
    if counter is not None:
        head = [ln for _, ln in items[:counter] if not _is_caption(ln) and not _is_section(ln)]
        if len(head) > 2 or (head and head[-1].endswith(".")):
            # Body sentences before it: a short article whose reader-comment counter falls
            # inside the header window, not the counter under the headline.
            counter = None
    if counter is not None:
        # The headline is the last line before the counter that is not caption or section.
        title = head[-1] if head else None
        start = counter + 1
    else:
        start = 0
        while start < len(items) and start < _HEADER_WINDOW:
            ln = items[start][1]
            start += 1
            if not (_is_caption(ln) or _is_section(ln)):
                title = ln
                break
        else:
            start = 0  # nothing looked like a headline: treat everything as body

    dateline: str | None = None
    if start < len(items) and is_dateline(items[start][1]):
        dateline = clean_line(items[start][1])
        start += 1

    end = next(
        (k for k in range(start, len(items)) if _COUNTER.match(items[k][1]) or _TRAILER.match(items[k][1])),
        len(items),
    )
    body_lines = lines[items[start][0] : items[end - 1][0] + 1] if start < end else []
    body_lines = [ln for ln in body_lines if not _VOTE.match(ln.strip())]
    body = clean_body("\n".join(body_lines))
    if title is None:
        title = derive_title(body)
    title = clean_line(title)
    if not body:
        body = title
    return SeedParts(title=title, date=date, source=source, dateline=dateline, body=body)
