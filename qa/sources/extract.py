"""A fetched page -> one article record: trafilatura for HTML (main text without menus, related links or
reader comments, plus title, date, site name, author and canonical URL); PDFs and plain text through the same
readers as files (:mod:`qa.articles`)."""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

from qa.articles import ArticleError, read_file

from .fetch import Fetched, FetchError, normalise_url

log = logging.getLogger(__name__)

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
_FILE_SUFFIXES = {"application/pdf": ".pdf", "text/plain": ".txt", "text/markdown": ".md"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_ID_HEX = 20  # hex digits of the URL hash in an article id: collisions need ~10^12 pages


@dataclass(frozen=True)
class WebArticle:
    """An article read from a URL; its id follows the canonical URL, so a page fetched again updates it."""

    url: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    author: str | None = None

    @property
    def id(self) -> str:
        """``web-<hash of the canonical URL>``."""
        return url_id(self.url)

    def record(self) -> dict[str, str]:
        """The JSON record stored under the data dir and read back like any ``.json`` article file."""
        fields = {"id": self.id, "title": self.title, "text": self.text, "date": self.date, "source": self.source,
                  "url": self.url, "author": self.author}
        return {k: v for k, v in fields.items() if v}


def url_id(url: str) -> str:
    """The article id of a canonical URL."""
    return "web-" + hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()[:_ID_HEX]


def decoded(page: Fetched) -> str:
    """The page's text: UTF-8 when it is valid UTF-8 (a wrong declared charset is common; valid UTF-8 by
    accident is not), else the charset the server or a ``<meta>`` declares, else Windows-1252."""
    try:
        return page.body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(page.body[:4096])
    for charset in (page.charset, meta.group(1).decode("ascii") if meta else None):
        if charset and charset.lower().replace("_", "-") not in {"utf-8", "utf8"}:
            try:
                return page.body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return page.body.decode("cp1252", "replace")


def extract(page: Fetched, scratch: Path, max_bytes: int) -> WebArticle:
    """The article in ``page``; ``scratch`` is a folder for the temporary copy a PDF or text file is read from.
    FetchError (naming the URL) when the page holds no article text or is of a kind that is not read."""
    if page.content_type in _FILE_SUFFIXES:
        return _from_file(page, scratch, _FILE_SUFFIXES[page.content_type], max_bytes)
    if page.content_type not in _HTML_TYPES:
        raise FetchError(page.url, f"a {page.content_type} page is not an article (HTML, PDF or plain text)")
    return _from_html(page)


def _from_html(page: Fetched) -> WebArticle:
    document = trafilatura.bare_extraction(decoded(page), url=page.url, include_comments=False,
                                           include_tables=True, with_metadata=True, favor_precision=True)
    found = document if isinstance(document, dict) else document.as_dict() if document is not None else {}
    text = (found.get("text") or "").strip()
    title = " ".join((found.get("title") or "").split())
    if text.split("\n", 1)[0].strip() == title:  # the headline repeated as the first line of the body
        text = text.split("\n", 1)[1].strip() if "\n" in text else ""
    if not any(ch.isalnum() for ch in text):
        raise FetchError(page.url, "no article text found on the page")
    return WebArticle(url=canonical(page.url, found.get("url")), title=title or _title_from(text),
                      text=text, date=found.get("date") or None, source=found.get("sitename") or None,
                      author=found.get("author") or None)


def canonical(fetched_url: str, claimed: str | None) -> str:
    """The page's own canonical URL when it names one on the same host; otherwise the URL it was fetched from.
    (A page claiming another site's URL would otherwise replace that site's article.)"""
    if claimed:
        mine, theirs = urlsplit(fetched_url), urlsplit(claimed)
        if theirs.scheme in {"http", "https"} and _bare_host(theirs.netloc) == _bare_host(mine.netloc):
            return normalise_url(claimed)
    return normalise_url(fetched_url)


def _bare_host(netloc: str) -> str:
    host = netloc.lower()
    return host[4:] if host.startswith("www.") else host


def _title_from(text: str) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "…"


def _from_file(page: Fetched, scratch: Path, suffix: str, max_bytes: int) -> WebArticle:
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".fetch-") as folder:
        name = Path(urlsplit(page.url).path).stem[:60] or "page"
        path = Path(folder) / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}{suffix}"
        path.write_bytes(page.body)
        try:
            read = read_file(path, max_bytes=max_bytes)
        except ArticleError as error:
            raise FetchError(page.url, str(error).replace(str(path), "the file")) from error
    first = read.articles[0]
    return WebArticle(url=normalise_url(page.url), title=first.title, text=first.text, date=first.date,
                      source=first.source, author=first.author)
