"""Reading a fetched feed into its items: RSS and Atom (feedparser), JSON Feed, sitemaps and news sitemaps;
and finding the feeds a home page names (``<link rel="alternate">``)."""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser
from lxml import etree, html

from qa.articles.common import normalise_date

from .extract import decoded
from .fetch import Fetched

_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json",
                         "application/json", "application/rdf+xml", "application/xml", "text/xml"})
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


class NotAFeed(ValueError):
    """The page is no feed or sitemap; ``alternates`` lists the feeds it names, if it is a home page."""

    def __init__(self, url: str, alternates: list[str]) -> None:
        found = f"; it names these feeds: {', '.join(alternates)}" if alternates else ""
        super().__init__(f"{url}: not an RSS, Atom or JSON feed or a sitemap{found}")
        self.alternates = alternates


@dataclass(frozen=True)
class FeedItem:
    """One entry: the page it links to, the key it is remembered by (guid, else link), its date, and a
    fingerprint of the entry (a changed fingerprint means the page is fetched again)."""

    link: str
    key: str
    title: str | None
    date: str | None
    fingerprint: str


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's kind, title and items (newest first); for a sitemap index, the sitemaps it lists."""

    kind: str  # rss | atom | json | sitemap | sitemap index
    title: str | None
    items: list[FeedItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def fingerprint(*parts: object) -> str:
    """A short hash of an entry's parts."""
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8")).hexdigest()[:32]


def parse_feed(page: Fetched) -> ParsedFeed:
    """The feed in ``page``; NotAFeed (with the feeds a home page names) when it is none."""
    head = page.body[:512].lstrip().lower()
    if head.startswith(b"{"):
        return _json_feed(page)
    if b"<urlset" in page.body[:4096] or b"<sitemapindex" in page.body[:4096]:
        return _sitemap(page)
    parsed = feedparser.parse(io.BytesIO(page.body), response_headers={"content-location": page.url,
                                                                        "content-type": "application/xml"})
    if parsed.get("version") and (parsed.entries or not head.startswith((b"<!doctype html", b"<html"))):
        kind = "atom" if str(parsed.version).startswith("atom") else "rss"
        return ParsedFeed(kind, parsed.feed.get("title"), _feedparser_items(page.url, parsed.entries))
    raise NotAFeed(page.url, discover_feeds(page))


def _feedparser_items(base: str, entries: list[dict]) -> list[FeedItem]:
    items = []
    for entry in entries:
        link = entry.get("link")
        if not link:
            continue
        link = urljoin(base, link)
        # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning
        moment = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        date = time.strftime("%Y-%m-%d", moment) if moment else None
        items.append(FeedItem(link, entry.get("id") or link, entry.get("title"), date,
                              fingerprint(entry.get("title"), dict.get(entry, "updated"), dict.get(entry, "published"),
                                          entry.get("summary"))))
    return _newest_first(items)


def _json_feed(page: Fetched) -> ParsedFeed:
    try:
        document = json.loads(decoded(page))
    except ValueError as error:
        raise NotAFeed(page.url, []) from error
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("https://jsonfeed.org/"):
        raise NotAFeed(page.url, [])
    items = []
    for entry in document.get("items") or []:
        if not isinstance(entry, dict):
            continue
        link = entry.get("url") or entry.get("external_url")
        if not isinstance(link, str) or not link:
            continue
        link = urljoin(page.url, link)
        items.append(FeedItem(link, str(entry.get("id") or link), entry.get("title"),
                              normalise_date(entry.get("date_published") or entry.get("date_modified")),
                              fingerprint(entry.get("title"), entry.get("date_modified"),
                                          entry.get("date_published"), entry.get("summary"))))
    title = document.get("title")
    return ParsedFeed("json", title if isinstance(title, str) else None, _newest_first(items))


def _sitemap(page: Fetched) -> ParsedFeed:
    try:
        root = etree.fromstring(page.body, _XML)
    except etree.XMLSyntaxError as error:
        raise NotAFeed(page.url, []) from error
    if root.tag == f"{_SITEMAP_NS}sitemapindex":
        listed = [(_text(s, "lastmod") or "", urljoin(page.url, _text(s, "loc") or ""))
                  for s in root.iter(f"{_SITEMAP_NS}sitemap") if _text(s, "loc")]
        return ParsedFeed("sitemap index", None, sitemaps=[url for _, url in sorted(listed, reverse=True)])
    items = []
    for node in root.iter(f"{_SITEMAP_NS}url"):
        loc = _text(node, "loc")
        if not loc:
            continue
        news = node.find(f"{_NEWS_NS}news")
        title = news.findtext(f"{_NEWS_NS}title") if news is not None else None
        published = news.findtext(f"{_NEWS_NS}publication_date") if news is not None else None
        lastmod = _text(node, "lastmod")
        link = urljoin(page.url, loc)
        items.append(FeedItem(link, link, title, normalise_date(published or lastmod),
                              fingerprint(title, published, lastmod)))
    return ParsedFeed("sitemap", None, _newest_first(items))


def _text(node: etree._Element, name: str) -> str | None:
    value = node.findtext(f"{_SITEMAP_NS}{name}")
    return value.strip() if value and value.strip() else None


def _newest_first(items: list[FeedItem]) -> list[FeedItem]:
    """Dated items newest first (a stable sort keeps the feed's own order among equals), undated after."""
    return sorted(items, key=lambda item: item.date or "", reverse=True)


def discover_feeds(page: Fetched) -> list[str]:
    """The feeds an HTML page names with ``<link rel="alternate" type="application/rss+xml" href=…>``."""
    if not page.body.strip():
        return []
    try:
        document = html.fromstring(decoded(page))
    except (etree.ParserError, ValueError):
        return []
    found: list[str] = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            url = urljoin(page.url, href)
            if url not in found:
                found.append(url)
    return found
