"""Plain-text and Markdown articles (``.txt``/``.md``), including the seed page format."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from qa.types import Article

from .common import (
    ArticleError,
    clean_body,
    clean_line,
    derive_title,
    mtime_date,
    normalise_date,
    path_id,
    source_path,
)
from .seed import is_seed, parse_seed

log = logging.getLogger(__name__)

# A first line longer than this is a paragraph, not a headline.
_MAX_TITLE_LINE = 200
# "Key: value" metadata lines allowed right after the title, mapped to Article fields.
_HEADER_KEYS = {
    "date": "date",
    "published": "date",
    "source": "source",
    "url": "url",
    "link": "url",
    "author": "author",
    "by": "author",
    "license": "license",
    "dateline": "dateline",
}
_HEADER_LINE = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$")
_FRONT_MATTER_FENCE = re.compile(r"^---\s*$")
_FRONT_MATTER_TITLE_KEYS = ("title", "headline")

# Markdown inline/block markup that we drop so the indexed text reads as prose.
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\](?:\([^)\n]*\)|\[[^\]\n]*\])")
_MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s+\S+.*$")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_MD_RULE = re.compile(r"^\s{0,3}(?:[-*_=]\s*){3,}$")
_MD_FENCE = re.compile(r"^\s{0,3}(?:```|~~~)")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_EM = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_MD_CODE = re.compile(r"`([^`\n]+)`")
_MD_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")


def _strip_markdown_line(line: str) -> str | None:
    """Returns the line without markup, or None when the whole line is markup (rule, fence...)."""
    if _MD_RULE.match(line) or _MD_FENCE.match(line) or _MD_REF_DEF.match(line):
        return None
    line = _MD_QUOTE.sub("", line)
    heading = _MD_HEADING.match(line)
    if heading:
        line = heading.group(1)
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_BOLD.sub(r"\2", line)
    line = _MD_EM.sub(lambda m: m.group(1) or m.group(2), line)
    line = _MD_CODE.sub(r"\1", line)
    line = _MD_BR.sub(" ", line)
    return _MD_ESCAPE.sub(r"\1", line)


def strip_markdown(text: str) -> str:
    """Drops simple Markdown markup (headings, emphasis, links, images, rules, fences)."""
    out = []
    for line in text.split("\n"):
        cleaned = _strip_markdown_line(line)
        if cleaned is not None:
            out.append(cleaned)
    return "\n".join(out)


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Reads a ``---`` delimited ``key: value`` block at the top of a Markdown file, if any."""
    lines = text.split("\n")
    if not lines or not _FRONT_MATTER_FENCE.match(lines[0]):
        return {}, text
    for end in range(1, min(len(lines), 60)):
        if _FRONT_MATTER_FENCE.match(lines[end]):
            break
    else:
        return {}, text
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        m = _HEADER_LINE.match(line)
        if m is None:
            return {}, text  # not simple key: value pairs -> probably a horizontal rule
        meta[m.group(1).lower()] = m.group(2).strip("'\"")
    return meta, "\n".join(lines[end + 1 :])


def _take_header_lines(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """Consumes ``Date:``/``Source:``/``URL:``/``Author:`` lines from ``start``; returns them and
    the index of the first body line."""
    meta: dict[str, str] = {}
    i = start
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        m = _HEADER_LINE.match(line)
        key = _HEADER_KEYS.get(m.group(1).lower()) if m else None
        if m is None or key is None or not m.group(2) or key in meta:
            break
        meta[key] = m.group(2)
        i += 1
    return meta, i


def read_plain(path: Path, text: str, markdown: bool) -> Article:
    """Builds one Article from decoded ``.txt``/``.md`` text (seed format detected automatically)."""
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if is_seed(first):
        return _read_seed(path, text)

    meta: dict[str, str] = {}
    if markdown:
        front, text = _split_front_matter(text)
        meta.update({_HEADER_KEYS[k]: v for k, v in front.items() if k in _HEADER_KEYS and v})
        front_title = next((front[k] for k in _FRONT_MATTER_TITLE_KEYS if front.get(k)), None)
        text = strip_markdown(text)
    else:
        front_title = None
    lines = text.split("\n")

    if front_title is not None:
        title, body_start = clean_line(front_title), 0
    else:
        idx = next((i for i, ln in enumerate(lines) if ln.strip()), None)
        if idx is not None:
            # Metadata lines may also come before the headline.
            leading, after = _take_header_lines(lines, idx)
            if leading:
                meta.update(leading)
                idx = next((i for i in range(after, len(lines)) if lines[i].strip()), None)
        if idx is None:
            raise ArticleError("no text besides metadata/markup lines")
        if len(lines[idx].strip()) > _MAX_TITLE_LINE:
            # No headline: the file opens with a paragraph, which stays in the body.
            title, body_start = derive_title(lines[idx]), idx
        else:
            title, body_start = clean_line(lines[idx]), idx + 1

    header, body_start = _take_header_lines(lines, body_start)
    meta.update({k: v for k, v in header.items() if k not in meta})
    body = clean_body("\n".join(lines[body_start:])) or title
    if not body:
        raise ArticleError("no text besides metadata/markup lines")

    date = normalise_date(meta.get("date")) or mtime_date(path)
    return Article(
        id=path_id(path),
        title=title or derive_title(body),
        text=body,
        source_path=source_path(path),
        date=date,
        source=_opt(meta.get("source")),
        url=_opt(meta.get("url")),
        author=_opt(meta.get("author")),
        dateline=_opt(meta.get("dateline")),
        license=_opt(meta.get("license")),
    )


def _opt(value: str | None) -> str | None:
    value = clean_line(value) if value else ""
    return value or None


def _read_seed(path: Path, text: str) -> Article:
    parts = parse_seed(text)
    if not parts.body:
        raise ArticleError("seed-format file has a date line but no headline or body")
    log.debug("%s: seed format, source %r, dateline %r", path, parts.source, parts.dateline)
    return Article(
        id=path_id(path),
        title=parts.title,
        text=parts.body,
        source_path=source_path(path),
        date=normalise_date(parts.date),
        source=parts.source or None,
        dateline=parts.dateline,
    )
