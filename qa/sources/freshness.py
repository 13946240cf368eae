"""How current the collection is, in one line for the page's header and `GET /api/feeds`."""

from __future__ import annotations

import datetime as dt

from .feed_store import Feed, parse_stamp


def ago(moment: dt.datetime, now: dt.datetime) -> str:
    """``moment`` as "just now", "4 min ago", "2 h ago" or "3 d ago"."""
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def freshness(newest_date: str | None, feeds: list[Feed], now: dt.datetime) -> str:
    """"newest article 2026-12-01 · 3 feeds, last polled 4 min ago (1 failing)"; empty parts are left out."""
    parts = [f"newest article {newest_date}"] if newest_date else []
    if feeds:
        polled = [moment for f in feeds if (moment := parse_stamp(f.last_poll)) is not None]
        when = f"last polled {ago(max(polled), now)}" if polled else "not polled yet"
        failing = sum(1 for f in feeds if f.failures)
        parts.append(f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}, {when}"
                     f"{f' ({failing} failing)' if failing else ''}")
    return " · ".join(parts)


def interval_text(seconds: float) -> str:
    """A polling interval as "15m", "2h", "1d" or "90s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
