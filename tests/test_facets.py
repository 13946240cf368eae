"""Filters as array operations over the chunks' dates and sources (no SQL id list per question)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import VectorIndex
from qa.storage.facets import Facets
from qa.types import SearchFilters

ROWS = [(3, "2024-05-02", "Daily Loaf"), (7, None, "Sky Weekly"), (8, "2025-11-20", "sky weekly"),
        (12, "2025-12-01", None), (40, "2026-01-30", "Japan Today")]


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(sources=("SKY WEEKLY",)), [7, 8]),
    (SearchFilters(since="2025-01-01"), [8, 12, 40]),  # undated never passes a date range
    (SearchFilters(until="2025-11-20"), [3, 8]),
    (SearchFilters(as_of="2025-11-30"), [3, 7, 8]),  # undated stays eligible as of any day
    (SearchFilters(sources=("Daily Loaf", "Japan Today"), since="2025-01-01", as_of="2026-02-01"), [40]),
    (SearchFilters(sources=("nobody",)), []),
])
def test_filters_select_the_same_chunks_as_their_definition(filters: SearchFilters, expected: list[int]) -> None:
    assert Facets.build(ROWS).allowed(filters).tolist() == expected


def test_a_broad_filter_over_a_million_chunks_is_fast() -> None:
    import time

    rng = np.random.default_rng(0)
    days = rng.integers(0, 4000, 1_000_000)
    facets = Facets(np.arange(1_000_000, dtype=np.int64), days.astype(np.int32),
                    rng.integers(0, 50, 1_000_000).astype(np.int32), tuple(f"s{i}" for i in range(50)))
    started = time.perf_counter()
    allowed = facets.allowed(SearchFilters(as_of="1975-06-01", sources=tuple(f"s{i}" for i in range(25))))
    assert time.perf_counter() - started < 0.5 and 0 < len(allowed) < 1_000_000


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_vector_search_keeps_to_allowed_ids_however_sparse(index_type: str) -> None:
    rng = np.random.default_rng(1)
    ids = np.arange(5, 30_000, 7, dtype=np.int64)
    vectors = rng.normal(size=(len(ids), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(16, index_type)
    index.add(ids, vectors)
    allowed = ids[::5]
    hits = index.search(vectors[10], 8, allowed)  # vectors[10] itself is allowed (10 % 5 == 0)
    assert len(hits) == 8 and set(h for h, _ in hits) <= set(allowed.tolist())
    assert hits[0][0] == ids[10]
