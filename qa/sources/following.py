"""Following and unfollowing feeds, as `qa feeds` and ``/api/feeds`` both do it: the URL checked, fetched
once to see that it is a feed (or a home page naming one), and the polling interval bounded."""

from __future__ import annotations

import re

from qa.config import Config

from .feed_store import Feed, FeedLimit, FeedStore
from .feeds import NotAFeed, parse_feed
from .fetch import Fetcher, FetchError, checked_url

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class FeedError(ValueError):
    """A feed that cannot be followed or found; the message says why."""


def parse_every(text: str | float | None, config: Config) -> float:
    """A polling interval ("90s", "15m", "2h", "1d", or seconds) in seconds, at least ``feed_min_every_s``;
    the default interval for None. FeedError for anything else."""
    if text is None or text == "":
        return config.feed_every_s
    found = _EVERY.match(str(text))
    if not found:
        raise FeedError(f"{text!r} is no interval: write it like 90s, 15m, 2h or 1d")
    seconds = float(found.group(1)) * _UNIT_S[found.group(2).lower()]
    if seconds < config.feed_min_every_s:
        raise FeedError(f"{text!r} is too often: a feed is polled at most every {config.feed_min_every_s:g} s "
                        "(QA_FEED_MIN_EVERY_S)")
    return seconds


def follow(store: FeedStore, config: Config, url: str, every_s: float) -> tuple[Feed, bool]:
    """Follows the feed at ``url``, or the first feed a home page there names; the feed and whether it is new.
    FeedError when the URL is refused, cannot be fetched, or is no feed and names none."""
    try:
        url = checked_url(url, config.allow_private_urls)
        with Fetcher(config) as fetcher:
            page = fetcher.get(url)
            try:
                parsed = parse_feed(page)
            except NotAFeed as error:
                if not error.alternates:
                    raise
                page = fetcher.get(error.alternates[0])
                parsed = parse_feed(page)
    except FetchError as error:
        raise FeedError(f"cannot follow {error.url}: {error.reason}") from error
    except NotAFeed as error:
        raise FeedError(str(error)) from error
    try:
        return store.add(page.url, every_s, config.max_feeds, parsed.title)
    except FeedLimit as error:
        raise FeedError(str(error)) from error


def find(store: FeedStore, key: str) -> Feed:
    """The feed with this id or URL; FeedError when none is followed."""
    feed = store.feed(key.strip()) or store.feed(_normalised(key))
    if feed is None:
        raise FeedError(f"no followed feed has the id or URL {key!r} (`qa feeds list` shows them)")
    return feed


def _normalised(url: str) -> str:
    try:
        return checked_url(url, allow_private=True)
    except FetchError:
        return url
