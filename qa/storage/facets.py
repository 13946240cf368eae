"""Each chunk's date and source as arrays, so that filters are array operations, not SQL id lists.

Every question has an as-of date, and many have a source or date filter: selecting the allowed chunks with
a SQL query that returns every allowed id as a Python list costs seconds per question at a million chunks.
The facets are built once per committed generation (with the indexes they belong to) and a filter becomes
a few vectorised comparisons over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from qa.types import SearchFilters

UNDATED = np.iinfo(np.int32).min  # sorts before every date: "undated" never passes since/until


@dataclass(frozen=True)
class Facets:
    """Chunk vector ids (ascending) with their article's date (days since 1970, or UNDATED) and source code."""

    ids: np.ndarray  # int64
    days: np.ndarray  # int32
    sources: np.ndarray  # int32 index into source_names, -1 for none
    source_names: tuple[str, ...]  # lower-cased

    @classmethod
    def build(cls, rows: Sequence[tuple[int, str | None, str | None]]) -> Facets:
        """From ``(vector id, ISO date or None, source or None)`` rows in ascending id order."""
        names = sorted({source.lower() for _, _, source in rows if source})
        code = {name: i for i, name in enumerate(names)}
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        days = np.fromiter((day_number(r[1]) for r in rows), dtype=np.int32, count=len(rows))
        sources = np.fromiter((code[r[2].lower()] if r[2] else -1 for r in rows), dtype=np.int32, count=len(rows))
        return cls(ids, days, sources, tuple(names))

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def latest_day(self) -> int | None:
        """The day of the most recent dated chunk (None when none is dated)."""
        latest = int(self.days.max()) if len(self.days) else int(UNDATED)
        return None if latest == UNDATED else latest

    def updated(self, removed: np.ndarray, added: Sequence[tuple[int, str | None, str | None]]) -> Facets:
        """These facets without the ``removed`` ids and with the ``added`` rows (ids above every present id,
        as the store hands them out), without reading the other chunks again."""
        keep = ~np.isin(self.ids, removed) if len(removed) else np.ones(len(self.ids), dtype=bool)
        fresh = Facets.build(added)
        names = tuple(sorted(set(self.source_names) | set(fresh.source_names)))
        code = {name: i for i, name in enumerate(names)}
        old_codes = np.array([code[n] for n in self.source_names] + [-1], dtype=np.int32)
        new_codes = np.array([code[n] for n in fresh.source_names] + [-1], dtype=np.int32)
        return Facets(np.concatenate([self.ids[keep], fresh.ids]),
                      np.concatenate([self.days[keep], fresh.days]),
                      np.concatenate([old_codes[self.sources[keep]], new_codes[fresh.sources]]), names)

    def allowed(self, filters: SearchFilters) -> np.ndarray:
        """The ids (ascending) of the chunks whose article passes ``filters``."""
        keep = np.ones(len(self.ids), dtype=bool)
        if filters.sources:
            asked = {s.lower() for s in filters.sources}
            wanted = [i for i, name in enumerate(self.source_names) if name in asked]
            keep &= np.isin(self.sources, np.array(wanted, dtype=np.int32))
        if filters.since:
            keep &= self.days >= day_number(filters.since)
        if filters.until:
            keep &= (self.days <= day_number(filters.until)) & (self.days != UNDATED)
        if filters.as_of:
            keep &= self.days <= day_number(filters.as_of)  # undated chunks stay: UNDATED is below every day
        return self.ids[keep]


def day_number(iso: str | None) -> int:
    """Days from 1970-01-01 to an ISO date (UNDATED for None or a malformed date)."""
    if not iso:
        return int(UNDATED)
    try:
        return (date.fromisoformat(iso[:10]) - date(1970, 1, 1)).days
    except ValueError:
        return int(UNDATED)
