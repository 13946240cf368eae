"""BM25 keyword index over chunk texts (tantivy), updated in place: a commit costs what it changes.

Each chunk is a document: its vector id, its ``"title. text"`` (English stemming), its article's day and
source, so that date and source filters are native range and term-set queries. The index lives in one
folder beside the metadata and is kept in step with SQLite by a generation marker: it is marked dirty
before its own commit and stamped with the generation once SQLite has flipped to it. An index whose marker
does not match the metadata (a crash between the two) is rebuilt from the stored chunk texts on open.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import tantivy

from qa.storage.facets import UNDATED, day_number
from qa.text.words import terms
from qa.types import SearchFilters

log = logging.getLogger(__name__)

_MARKER = "GENERATION"
_DIRTY = "dirty"
_WRITER_HEAP = 64_000_000


class KeywordIndexStale(RuntimeError):
    """The keyword index does not match the metadata (missing, damaged, or a crash came between them)."""


@dataclass(frozen=True)
class KeywordDoc:
    """One chunk as the keyword index stores it."""

    id: int
    text: str  # "title. chunk text"
    date: str | None
    source: str | None


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
    builder.add_integer_field("day", indexed=True, fast=True)
    builder.add_text_field("source", stored=False, tokenizer_name="raw")
    return builder.build()


class KeywordIndex:
    """A point-in-time view of the keyword index (searches see one committed state); :meth:`updated` writes."""

    def __init__(self, folder: Path, index: tantivy.Index) -> None:
        self.folder = folder
        self._index = index
        self._schema = index.schema
        index.reload()
        self._searcher = index.searcher()

    # --- opening and writing --------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, generation: int | None = None) -> KeywordIndex:
        """The index in ``folder``; with ``generation``, only if it was stamped with it. Raises
        :class:`KeywordIndexStale` when it is missing, damaged, or left behind by a crash (then a writer
        rebuilds it with :meth:`rebuild`)."""
        marker = _read_marker(folder)
        if marker is None:
            raise KeywordIndexStale(f"{folder} is missing")
        if generation is not None and marker != str(generation):
            raise KeywordIndexStale(f"{folder} is at {marker!r}, not at generation {generation}")
        try:
            return cls(folder, tantivy.Index.open(str(folder)))
        except (ValueError, OSError) as error:
            raise KeywordIndexStale(f"{folder} cannot be opened ({error})") from error

    @classmethod
    def rebuild(cls, folder: Path, rows: Iterable[KeywordDoc], generation: int | None = None) -> KeywordIndex:
        """A fresh index of ``rows`` in ``folder``, stamped with ``generation`` (None: not yet matching any;
        :meth:`stamp` it once the metadata has committed)."""
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        index = tantivy.Index(_schema(), path=str(folder))
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for doc in rows:
            writer.add_document(_document(doc))
        writer.commit()
        writer.wait_merging_threads()
        _write_marker(folder, _DIRTY if generation is None else str(generation))
        return cls(folder, index)

    def updated(self, added: Sequence[KeywordDoc], removed: Iterable[int]) -> KeywordIndex:
        """Applies the change and commits it (the folder is marked dirty first: see :meth:`stamp`); returns
        a view of the new state, this view still seeing the old one."""
        _write_marker(self.folder, _DIRTY)
        writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        for vector_id in removed:
            writer.delete_documents_by_term("id", int(vector_id))
        for doc in added:
            writer.add_document(_document(doc))
        writer.commit()
        writer.wait_merging_threads()
        return KeywordIndex(self.folder, self._index)

    def stamp(self, generation: int) -> None:
        """Records that the index matches the metadata's ``generation`` (after SQLite committed it)."""
        _write_marker(self.folder, str(generation))

    # --- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def ids(self) -> np.ndarray:
        """All ids in the index."""
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        hits = self._searcher.search(tantivy.Query.all_query(), limit=len(self), count=False).hits
        return np.array(self._searcher.fast_field_values("id", [address for _, address in hits]), dtype=np.int64)

    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (id, score) pairs among the chunks whose article passes ``filters``."""
        words = sorted(terms([query])[0]) if query.strip() else []
        if not words or k <= 0 or not len(self):
            return []
        text = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "text", word)) for word in words])
        clauses = [(tantivy.Occur.Must, text)]
        clauses += [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in self._filters(filters)]
        hits = self._searcher.search(tantivy.Query.boolean_query(clauses), limit=k, count=False).hits
        ids = self._searcher.fast_field_values("id", [address for _, address in hits])  # every chunk has an id
        return [(int(cast(int, i)), float(score)) for (score, _), i in zip(hits, ids) if score > 0]

    def idf(self, words: set[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term (from :func:`terms`); unseen terms weigh the most."""
        documents = len(self)
        weights = {}
        for word in words:
            frequency = int(self._searcher.doc_freq("text", word)) if documents else 0
            weights[word] = math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))
        return weights

    def _filters(self, filters: SearchFilters | None) -> list[tantivy.Query]:
        if filters is None or not filters.active:
            return []
        queries = []
        integer = tantivy.FieldType.Integer
        if filters.sources:
            queries.append(tantivy.Query.term_set_query(self._schema, "source", [s.lower() for s in filters.sources]))
        if filters.since or filters.until:  # an undated article is in no date range
            low = day_number(filters.since) if filters.since else int(UNDATED) + 1
            high = day_number(filters.until) if filters.until else None
            queries.append(tantivy.Query.range_query(self._schema, "day", integer, low, high))
        if filters.as_of:  # undated articles stay: UNDATED is below every day
            queries.append(tantivy.Query.range_query(self._schema, "day", integer, None, day_number(filters.as_of)))
        return queries


def _document(doc: KeywordDoc) -> tantivy.Document:
    return tantivy.Document(id=int(doc.id), text=doc.text, day=day_number(doc.date),
                            source=(doc.source or "").lower())


def _read_marker(folder: Path) -> str | None:
    try:
        return (folder / _MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _write_marker(folder: Path, value: str) -> None:
    tmp = folder / (_MARKER + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / _MARKER)
