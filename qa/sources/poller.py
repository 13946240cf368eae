"""Polling feeds: each due feed fetched conditionally (ETag / Last-Modified), its new or changed entries'
pages fetched and ingested through the collection's single writer, unchanged ones never fetched again.
A failing feed backs off exponentially; one failure never stops the others, and each is reported with its URL
and reason. :class:`BackgroundPoller` does this on a thread while `python app.py` serves questions."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

from qa.storage.collection import Collection

from .feed_store import Feed, FeedStore, utc_now
from .feeds import FeedItem, NotAFeed, ParsedFeed, parse_feed
from .fetch import Fetcher, FetchError
from .links import ingest_links

log = logging.getLogger(__name__)


@dataclass
class FeedOutcome:
    """What one poll of one feed did."""

    url: str
    not_modified: bool = False
    fetched: int = 0  # pages fetched
    skipped: int = 0  # entries already fetched and unchanged
    added: int = 0
    updated: int = 0
    error: str | None = None  # the feed itself failed (its URL is ``url``)
    page_errors: list[tuple[str, str]] = field(default_factory=list)  # (page URL, reason)


@dataclass
class PollReport:
    """What a poll of every due feed did."""

    feeds: list[FeedOutcome] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[tuple[str, str]]:
        """Every failure, feeds and pages alike, as (URL, reason)."""
        return [(f.url, f.error) for f in self.feeds if f.error] + [e for f in self.feeds for e in f.page_errors]

    def summary(self) -> str:
        """One line of counts."""
        total = {name: sum(getattr(f, name) for f in self.feeds) for name in ("fetched", "skipped", "added",
                                                                               "updated")}
        unchanged = sum(f.not_modified for f in self.feeds)
        return (f"{len(self.feeds)} feed(s) polled ({unchanged} not modified): {total['fetched']} page(s) fetched, "
                f"{total['skipped']} unchanged entries skipped, {total['added']} article(s) added, "
                f"{total['updated']} updated, {len(self.errors)} error(s); {self.requests} requests in "
                f"{self.seconds:.1f} s")


class Poller:
    """Polls the due feeds of one collection."""

    def __init__(self, collection: Collection, store: FeedStore) -> None:
        self.collection = collection
        self.store = store
        self.config = collection.config

    def poll_due(self, now: dt.datetime | None = None) -> PollReport:
        """Polls every feed due at ``now`` (default: now) once."""
        started = time.perf_counter()
        report = PollReport()
        with Fetcher(self.config) as fetcher:
            for feed in self.store.due(now or utc_now()):
                report.feeds.append(self.poll(feed, fetcher))
            report.requests = fetcher.requests
        report.seconds = time.perf_counter() - started
        log.info("feeds: %s", report.summary())
        return report

    def poll(self, feed: Feed, fetcher: Fetcher) -> FeedOutcome:
        """Polls one feed; its failure is recorded (with back-off) and returned, never raised."""
        outcome = FeedOutcome(feed.url)
        try:
            self._poll(feed, fetcher, outcome)
        except (FetchError, NotAFeed) as error:
            outcome.error = getattr(error, "reason", None) or str(error)
        except Exception as error:  # an ingest that failed must not stop the other feeds
            log.exception("polling %s failed", feed.url)
            outcome.error = f"{type(error).__name__}: {error}"
        if outcome.error is not None:
            log.warning("feed %s failed: %s", feed.url, outcome.error)
            self.store.failed(feed, utc_now(), outcome.error, self.config.feed_max_backoff_s)
        return outcome

    def _poll(self, feed: Feed, fetcher: Fetcher, outcome: FeedOutcome) -> None:
        page = fetcher.get(feed.url, feed.etag, feed.last_modified)
        if page.not_modified:
            outcome.not_modified = True
            self.store.polled(feed, utc_now(), etag=page.etag or feed.etag,
                              last_modified=page.last_modified or feed.last_modified, title=None, new_articles=0)
            return
        parsed = parse_feed(page)
        items = self._items(parsed, fetcher, outcome)[: self.config.feed_max_items]
        known = self.store.fingerprints(feed.id)
        todo = [item for item in items if known.get(item.key) != item.fingerprint]
        outcome.skipped = len(items) - len(todo)
        links = ingest_links(self.collection, [item.link for item in todo], fetcher,
                             {item.link: item.date for item in todo if item.date})
        outcome.fetched = len(links.articles)
        outcome.added, outcome.updated = len(links.ingest.added), len(links.ingest.updated)
        outcome.page_errors.extend(links.failed)
        now = utc_now()
        self.store.seen(feed.id, [(item.key, item.fingerprint, links.articles[item.link]) for item in todo
                                  if item.link in links.articles], now)
        # After a page failed, no validators: the next poll reads the feed again and retries that page.
        retry = bool(outcome.page_errors)
        self.store.polled(feed, now, etag=None if retry else page.etag,
                          last_modified=None if retry else page.last_modified, title=parsed.title,
                          new_articles=outcome.added)

    def _items(self, parsed: ParsedFeed, fetcher: Fetcher, outcome: FeedOutcome) -> list[FeedItem]:
        """The feed's items; for a sitemap index, those of its newest sitemaps, until there are enough."""
        items = list(parsed.items)
        for url in parsed.sitemaps:
            if len(items) >= self.config.feed_max_items:
                break
            try:
                items.extend(parse_feed(fetcher.get(url)).items)
            except (FetchError, NotAFeed) as error:
                outcome.page_errors.append((url, getattr(error, "reason", None) or str(error)))
        return items


class BackgroundPoller:
    """Polls due feeds every ``poll_check_s`` on a daemon thread, through the collection's single writer."""

    def __init__(self, collection: Collection, store: FeedStore) -> None:
        self.poller = Poller(collection, store)
        self.interval = collection.config.poll_check_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)

    def start(self) -> None:
        """Starts polling (the first round at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Asks the thread to stop after the current round."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poller.poll_due()
            except Exception:  # the loop outlives any one round's surprise; it is logged with its traceback
                log.exception("a round of feed polling failed")
            self._stop.wait(self.interval)
