"""HTML articles (``.html``/``.htm``): main text and metadata via trafilatura, fully offline."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from qa.types import Article

from .common import (
    ArticleError,
    clean_line,
    decode_text,
    derive_title,
    normalise_date,
    paragraphs_to_blank_lines,
    path_id,
    source_path,
)

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HAS_DOCUMENT = re.compile(r"<\s*(?:html|body)\b", re.IGNORECASE)
# trafilatura keeps nav/footer text when it finds nothing better; we never want it as an article.
_PRUNE = ["//nav", "//footer", "//aside", "//script", "//style", "//noscript"]
# htmldate's "extensive search" guesses dates from copyright lines etc. ("2026-01-01" from
# "(c) 2026"); only trust dates the page states in its markup.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}


def decode_html(data: bytes) -> str:
    """Decodes HTML bytes: UTF-8, then the ``<meta charset>`` it declares, then cp1252/latin-1."""
    declared = _META_CHARSET.search(data[:4096])
    extra = (declared.group(1).decode("ascii", "replace"),) if declared else ()
    return decode_text(data, extra)


def read_html(path: Path, data: bytes) -> Article:
    """Extracts the main text of an HTML page into an Article; boilerplate, scripts and
    comments are dropped. Raises ArticleError when no main text is found."""
    html = decode_html(data)
    if not _HAS_DOCUMENT.search(html):
        # trafilatura returns nothing for bare fragments like "<p>...</p>" without a body.
        html = f"<html><body>{html}</body></html>"
    import trafilatura  # deferred: importing trafilatura takes ~0.5 s

    doc = trafilatura.bare_extraction(
        html,
        include_comments=False,
        include_tables=False,
        include_images=False,
        favor_precision=True,
        with_metadata=True,
        date_extraction_params=_DATE_PARAMS,
        prune_xpath=_PRUNE,
    )
    raw_text = getattr(doc, "text", None) if doc is not None else None
    if not raw_text or not raw_text.strip():
        raise ArticleError("no main text found in HTML")
    # trafilatura's txt output puts each block (paragraph, heading, list item) on its own line.
    text = paragraphs_to_blank_lines(raw_text)
    title = clean_line(getattr(doc, "title", None) or "")
    first, _, rest = text.partition("\n\n")
    if title and rest and clean_line(first).casefold() == title.casefold():
        text = rest  # the <h1> headline repeated at the top of the body
    if not title:
        title = derive_title(text)
    log.debug("%s: HTML main text %d chars, title %r", path, len(text), title)
    return Article(
        id=path_id(path),
        title=title,
        text=text,
        source_path=source_path(path),
        date=normalise_date(getattr(doc, "date", None)),
        source=_opt(getattr(doc, "sitename", None)),
        url=_opt(getattr(doc, "url", None)),
        author=_opt(getattr(doc, "author", None)),
        license=_opt(getattr(doc, "license", None)),
    )


def _opt(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return clean_line(value) or None
