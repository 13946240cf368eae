"""The collection on disk: SQLite metadata + FAISS vectors + BM25, committed together.

Each commit writes the vector and keyword indexes as new files tagged with the next generation
number, then flips the generation in the same SQLite transaction that changes the metadata. A crash
before the flip leaves the previous generation (and its files) in force; stray files are swept later.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings import Encoder, IndexFileError, VectorIndex
from qa.config import Config
from qa.facets import Facets
from qa.keyword_index import KeywordIndex
from qa.store import SCHEMA_VERSION, FileRecord, MetadataStore
from qa.types import Article, Chunk

log = logging.getLogger(__name__)


class CollectionError(RuntimeError):
    """The collection cannot be opened as configured (wrong model, damaged files, ...)."""


class CollectionBusy(CollectionError):
    """Another process is writing to the collection, and the caller chose not to wait."""


@dataclass
class Change:
    """One batch of edits, committed atomically by :meth:`Collection.commit`."""

    removed: list[str] = field(default_factory=list)  # article ids
    added: list[tuple[Article, list[Chunk], np.ndarray]] = field(default_factory=list)
    files: list[FileRecord] = field(default_factory=list)
    forgotten_files: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.removed or self.added or self.files or self.forgotten_files)


@dataclass(frozen=True)
class Snapshot:
    """The indexes of one committed generation: vectors, keywords and the chunks' dates and sources."""

    vectors: VectorIndex
    keywords: KeywordIndex
    facets: Facets


@dataclass(frozen=True)
class Stats:
    """Size of the collection, for the CLI and the app's header."""

    articles: int
    chunks: int
    first_date: str | None
    last_date: str | None
    sources: list[str]
    embedding_model: str
    index_type: str


class Collection:
    """Opens (or creates) the collection under ``config.data_dir`` and keeps its three parts in step."""

    def __init__(self, config: Config, rebuilding: bool = False) -> None:
        """Opens the collection; with ``rebuilding``, stored settings and index files are not checked,
        because :meth:`commit` with ``fresh=True`` is about to replace them."""
        self.config = config
        self.root = config.data_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self.encoder = Encoder(config.embedding_model, config.embedding_batch_size)
        self._swap = threading.Lock()
        try:
            self.store = MetadataStore(self.root / "metadata.sqlite")
        except sqlite3.DatabaseError as error:
            raise CollectionError(f"{error}. Move the data dir aside and ingest again.") from error
        self.generation = int(self.store.get_meta("generation") or 0)
        if rebuilding:
            self._current = self._empty_indexes(self.encoder.dimension)
            return
        self._check_settings()
        self._current = self._load_indexes(self.generation)

    # --- opening ------------------------------------------------------------------------------
    def _check_settings(self) -> None:
        stored_model = self.store.get_meta("embedding_model")
        if stored_model is None:
            with self.store.transaction() as batch:
                batch.set_meta("schema_version", SCHEMA_VERSION)
                batch.set_meta("embedding_model", self.config.embedding_model)
                batch.set_meta("dimension", str(self.encoder.dimension))
                batch.set_meta("index_type", self.config.index_type)
            return
        dimension = self.store.get_meta("dimension")
        if stored_model != self.config.embedding_model:
            raise CollectionError(
                f"the index in {self.root} was built with embedding model {stored_model!r} ({dimension}-d), "
                f"but {self.config.embedding_model!r} is configured. Use QA_EMBEDDING_MODEL={stored_model}, "
                "or another --data-dir, or `qa rebuild --embedding-model ...` to re-embed.")
        if self.store.get_meta("index_type") != self.config.index_type:
            raise CollectionError(
                f"the index in {self.root} is of type {self.store.get_meta('index_type')!r}, "
                f"but {self.config.index_type!r} is configured; use `qa rebuild` to change it.")

    @property
    def dimension(self) -> int:
        """Vector size recorded with the index."""
        return int(self.store.get_meta("dimension") or self.encoder.dimension)

    def _paths(self, generation: int) -> tuple[Path, Path]:
        return self.root / f"vectors.{generation}.faiss", self.root / f"bm25.{generation}"

    def _empty_indexes(self, dimension: int) -> Snapshot:
        return Snapshot(VectorIndex(dimension, self.config.index_type), KeywordIndex.build([], []), Facets.build([]))

    def _load_indexes(self, generation: int) -> Snapshot:
        if generation == 0:
            return self._empty_indexes(self.dimension)
        vector_path, keyword_path = self._paths(generation)
        hint = "; run `qa rebuild` to re-embed from the stored article texts"
        try:
            vectors = VectorIndex.load(vector_path, self.dimension, self.config.index_type)
        except IndexFileError as error:
            raise IndexFileError(f"{error}{hint}") from error
        try:
            keywords = KeywordIndex.load(keyword_path)
        except (OSError, ValueError, KeyError) as error:
            raise IndexFileError(f"{keyword_path}: cannot read keyword index ({error}){hint}") from error
        facets = Facets.build(self.store.facet_rows())
        for path, size in ((vector_path, len(vectors)), (keyword_path, len(keywords))):
            if size != len(facets):
                raise IndexFileError(f"{path}: holds {size} chunks but the metadata has {len(facets)}{hint}")
        return Snapshot(vectors, keywords, facets)

    def refresh(self) -> bool:
        """Picks up a commit made by another process; returns True if anything changed."""
        generation = int(self.store.get_meta("generation") or 0)
        if generation == self.generation:
            return False
        current = self._load_indexes(generation)
        with self._swap:
            self._current, self.generation = current, generation
        return True

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def writer(self, purpose: str = "a write", wait: bool = True,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Holds the data dir's write lock, so two ingests never interleave their commits.

        The holder writes ``purpose`` and its pid into the lock file, so that a second writer can say
        what it waits for: to ``on_wait`` (and the log) when ``wait``, else in :class:`CollectionBusy`.
        """
        with open(self.root / "write.lock", "a+", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read(200).strip() or "another process"
                if not wait:
                    raise CollectionBusy(f"{self.root} is busy: {holder} is writing to it. Try again when it "
                                         "has finished (or let the command wait for it).") from None
                message = f"waiting for {holder} to finish…"
                log.warning("%s: %s", self.root, message)
                if on_wait is not None:
                    on_wait(message)
                fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0)
            lock.truncate()
            lock.write(f"{purpose} (process {os.getpid()})")
            lock.flush()
            try:
                self.refresh()
                yield
            finally:
                lock.truncate(0)

    def commit(self, change: Change, fresh: bool = False) -> None:
        """Applies ``change`` to all three stores atomically (call inside :meth:`writer`).

        With ``fresh``, the vector index starts empty and the configured model and index type become
        the collection's settings (a rebuild).
        """
        if not change:
            return
        next_id = self.store.next_vector_id()
        if fresh:
            vectors = VectorIndex(self.encoder.dimension, self.config.index_type)
        else:
            vectors = self.snapshot().vectors.copy()
            vectors.remove(np.array(self.store.vector_ids_of(change.removed), dtype=np.int64))
        assigned: list[list[int]] = []
        for _, chunks, embedded in change.added:
            ids = list(range(next_id, next_id + len(chunks)))
            next_id += len(chunks)
            vectors.add(np.array(ids, dtype=np.int64), embedded)
            assigned.append(ids)

        generation = self.generation + 1
        vector_path, keyword_path = self._paths(generation)
        vectors.save(vector_path)
        with self.store.transaction() as batch:
            for article_id in change.removed:
                batch.delete_article(article_id)
            for (article, chunks, _), ids in zip(change.added, assigned):
                batch.put_article(article, chunks, ids)
            for path in change.forgotten_files:
                batch.delete_file(path)
            for record in change.files:
                batch.put_file(record)
            # BM25 and the facets are rebuilt from the rows as they will be after this transaction.
            keywords = KeywordIndex.build(*batch.keyword_rows())
            keywords.save(keyword_path)
            facets = Facets.build(batch.facet_rows())
            batch.set_meta("next_vector_id", str(next_id))
            if fresh:
                batch.set_meta("embedding_model", self.config.embedding_model)
                batch.set_meta("dimension", str(self.encoder.dimension))
                batch.set_meta("index_type", self.config.index_type)
            batch.set_meta("generation", str(generation))
        with self._swap:
            self._current, self.generation = Snapshot(vectors, keywords, facets), generation
        self._sweep()

    def _sweep(self) -> None:
        """Deletes index files of other generations (left by earlier commits or crashes)."""
        keep = {p.name for p in self._paths(self.generation)}
        for path in self.root.iterdir():
            if path.name.startswith(("vectors.", "bm25.")) and path.name not in keep:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    # --- reading ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The current indexes; a commit swaps in new objects, so a snapshot stays consistent."""
        with self._swap:
            return self._current

    def stats(self) -> Stats:
        """Counts, date range and sources."""
        articles, chunks, first, last, sources = self.store.counts()
        return Stats(articles, chunks, first, last, sources, self.config.embedding_model, self.config.index_type)

    def check(self) -> list[str]:
        """Problems found in SQLite itself and comparing SQLite, FAISS and BM25 (empty when all agree)."""
        problems = self.store.integrity_problems()
        stored = set(self.store.all_vector_ids())
        current = self.snapshot()
        for name, ids in (("FAISS", set(current.vectors.ids().tolist())),
                          ("BM25", set(current.keywords.ids().tolist()))):
            if missing := stored - ids:
                problems.append(f"{len(missing)} chunks in SQLite are missing from {name}")
            if extra := ids - stored:
                problems.append(f"{len(extra)} ids in {name} have no chunk in SQLite")
        return problems

    def close(self) -> None:
        """Closes the database."""
        self.store.close()


def data_dir_size(root: Path) -> int:
    """Bytes used by the collection's files."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not os.path.islink(p))
