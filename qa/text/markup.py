"""Untrusted text -> safe markup: HTML escaping and the only URLs that may become links.

Article text, titles, sources, URLs and file names come from whatever was ingested; every page, export
and report passes them through :func:`esc` and :func:`safe_url`.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlsplit


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe inside attributes); None -> ''."""
    return "" if value is None else escape(str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL without whitespace or control characters, else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > 2048 or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
