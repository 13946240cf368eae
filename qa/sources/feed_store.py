"""Followed feeds and their state, in two tables of the collection's own ``metadata.sqlite`` (so a restart
loses nothing and `qa feeds poll` polls only what is due). Its own connection: the feed tables are written
between ingests, never inside one."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, title TEXT, every_s REAL NOT NULL,
    added_at TEXT NOT NULL, last_poll TEXT, next_poll TEXT NOT NULL, etag TEXT, last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, items_seen INTEGER NOT NULL DEFAULT 0,
    new_articles INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS feed_items (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE, item_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL, article_id TEXT, fetched_at TEXT NOT NULL, PRIMARY KEY (feed_id, item_key));
"""
_FEED_COLUMNS = ("id, url, title, every_s, added_at, last_poll, next_poll, etag, last_modified, failures, "
                 "last_error, items_seen, new_articles")


def utc_now() -> dt.datetime:
    """Now, in UTC, to the second (how every time in the feed tables is kept)."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str | None) -> dt.datetime | None:
    """A stored time back as an aware datetime (None for None)."""
    return None if text is None else dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Feed:
    """One followed feed and where its polling stands."""

    id: int
    url: str
    title: str | None
    every_s: float
    added_at: str
    last_poll: str | None
    next_poll: str
    etag: str | None
    last_modified: str | None
    failures: int
    last_error: str | None
    items_seen: int
    new_articles: int

    def as_json(self) -> dict[str, object]:
        """The feed for ``qa feeds list --json`` and ``GET /api/feeds``."""
        return {"id": self.id, "url": self.url, "title": self.title, "every_s": self.every_s,
                "added_at": self.added_at, "last_poll": self.last_poll, "next_poll": self.next_poll,
                "failures": self.failures, "last_error": self.last_error, "items_seen": self.items_seen,
                "new_articles": self.new_articles}


class FeedLimit(ValueError):
    """The collection already follows as many feeds as it may."""


class FeedStore:
    """The feed tables of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "metadata.sqlite", check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- feeds ----------------------------------------------------------------------------------
    def feeds(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        return [Feed(*row) for row in self._query(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id")]

    def feed(self, key: str | int) -> Feed | None:
        """The feed with this id or URL."""
        column = "id" if isinstance(key, int) or str(key).isdigit() else "url"
        rows = self._query(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE {column} = ?", (key,))
        return Feed(*rows[0]) if rows else None

    def due(self, now: dt.datetime) -> list[Feed]:
        """The feeds whose next poll is due at ``now``, the longest waiting first."""
        rows = self._query(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE next_poll <= ? ORDER BY next_poll, id",
                           (_stamp(now),))
        return [Feed(*row) for row in rows]

    def add(self, url: str, every_s: float, most: int, title: str | None = None) -> tuple[Feed, bool]:
        """Follows ``url`` (due at once); the feed and True, or the feed already followed and False.
        FeedLimit past ``most`` feeds."""
        with self._transaction() as db:
            known = db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
            if known is not None:
                return Feed(*known), False
            if db.execute("SELECT COUNT(*) FROM feeds").fetchone()[0] >= most:
                raise FeedLimit(f"already following {most} feeds (QA_MAX_FEEDS); remove one first")
            now = _stamp(utc_now())
            db.execute("INSERT INTO feeds (url, title, every_s, added_at, next_poll) VALUES (?, ?, ?, ?, ?)",
                       (url, title, every_s, now, now))
            row = db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        return Feed(*row), True

    def remove(self, feed_id: int) -> None:
        """Stops following a feed and forgets its items (their articles stay)."""
        with self._transaction() as db:
            db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))

    def polled(self, feed: Feed, now: dt.datetime, *, etag: str | None, last_modified: str | None,
               title: str | None, new_articles: int) -> None:
        """Records a successful poll: validators for the next conditional request, next poll one interval on."""
        with self._transaction() as db:
            db.execute("UPDATE feeds SET last_poll = ?, next_poll = ?, etag = ?, last_modified = ?, failures = 0,"
                       " last_error = NULL, title = COALESCE(?, title), new_articles = new_articles + ?,"
                       " items_seen = (SELECT COUNT(*) FROM feed_items WHERE feed_id = ?) WHERE id = ?",
                       (_stamp(now), _stamp(now + dt.timedelta(seconds=feed.every_s)), etag, last_modified,
                        title, new_articles, feed.id, feed.id))

    def failed(self, feed: Feed, now: dt.datetime, error: str, max_backoff_s: float) -> None:
        """Records a failed poll; the next one waits ``every * 2^failures``, at most ``max_backoff_s``."""
        wait = min(feed.every_s * 2 ** (feed.failures + 1), max_backoff_s)
        with self._transaction() as db:
            db.execute("UPDATE feeds SET last_poll = ?, next_poll = ?, failures = failures + 1, last_error = ?"
                       " WHERE id = ?", (_stamp(now), _stamp(now + dt.timedelta(seconds=wait)), error, feed.id))

    # --- items ----------------------------------------------------------------------------------
    def fingerprints(self, feed_id: int) -> dict[str, str]:
        """The items seen in a feed: item key -> fingerprint of its entry when it was fetched."""
        return dict(self._query("SELECT item_key, fingerprint FROM feed_items WHERE feed_id = ?", (feed_id,)))

    def seen(self, feed_id: int, items: Sequence[tuple[str, str, str | None]], now: dt.datetime) -> None:
        """Remembers fetched items: (item key, fingerprint, article id or None when it gave no article)."""
        with self._transaction() as db:
            db.executemany("INSERT INTO feed_items (feed_id, item_key, fingerprint, article_id, fetched_at)"
                           " VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed_id, item_key) DO UPDATE SET"
                           " fingerprint = excluded.fingerprint, article_id = excluded.article_id,"
                           " fetched_at = excluded.fetched_at",
                           [(feed_id, key, print_, article, _stamp(now)) for key, print_, article in items])
