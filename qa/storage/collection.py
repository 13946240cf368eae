"""The collection on disk: SQLite metadata + FAISS vectors + BM25, committed together.

Vectors live in layers (``embeddings.LayeredIndex``): a base file written rarely, one small delta file
per commit that added chunks, and deletions as tombstones (ids in the files that SQLite no longer
holds). Each commit writes its new files tagged with the next generation number, then flips the
generation and the manifest (``vector_base``, ``vector_deltas``) in the same SQLite transaction that
changes the metadata. A crash before the flip leaves the previous generation (and its files) in force;
stray files are swept later.
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
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings import BACKENDS, PRECISIONS, Encoder, IndexFileError, LayeredIndex, backend_for, write_delta
from qa.config import Config
from qa.storage.facets import Facets
from qa.storage.keyword_index import KeywordDoc, KeywordIndex, KeywordIndexStale
from qa.storage.store import SCHEMA_VERSION, FileRecord, MetadataStore
from qa.types import Article, Chunk, titled_text

log = logging.getLogger(__name__)

REFRESH_ATTEMPTS = 3  # commits that may land while another process reads one before it gives up

MAX_DELTA_FILES = 32  # past this many, a commit writes the whole delta as one file (opening reads them all)


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

    vectors: LayeredIndex
    keywords: KeywordIndex | None  # None only while `qa rebuild` has not committed yet
    facets: Facets

    @property
    def keyword_index(self) -> KeywordIndex:
        """The keyword index, for a search; CollectionError while `qa rebuild` has not committed one yet."""
        if self.keywords is None:
            raise CollectionError("the keyword index is being rebuilt: search again once `qa rebuild` is done")
        return self.keywords


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
        self._swap = threading.Lock()
        self._lock_holder: int | None = None  # the thread holding the data dir's write lock, if this object does
        try:
            self.store = MetadataStore(self.root / "metadata.sqlite")
        except sqlite3.DatabaseError as error:
            raise CollectionError(f"{error}. Move the data dir aside and ingest again.") from error
        # Rebuilding embeds every article again (or keeps the vectors, see qa.ingest.pipeline), so ``auto``
        # then picks the fastest backend; otherwise the fastest that makes the stored vectors.
        backend = backend_for(config.embedding_backend, None if rebuilding else existing_precision(self.store))
        try:
            self.encoder = Encoder(config.embedding_model, config.embedding_batch_size, backend)
        except ValueError as error:  # an unknown backend name: the user's setting, not a bug
            self.store.close()
            raise CollectionError(f"QA_EMBEDDING_BACKEND: {error}") from error
        self.generation = int(self.store.get_meta("generation") or 0)
        if rebuilding:
            self._current = Snapshot(LayeredIndex.empty(self.encoder.dimension, self.config.index_type), None,
                                     Facets.build([]))
            return
        self._check_settings()
        self._current = self._load_indexes(self.generation, at_open=True)

    # --- opening ------------------------------------------------------------------------------
    def _check_settings(self) -> None:
        stored_model = self.store.get_meta("embedding_model")
        if stored_model is None:
            with self.store.transaction() as batch:
                batch.set_meta("schema_version", SCHEMA_VERSION)
                batch.set_meta("embedding_model", self.config.embedding_model)
                batch.set_meta("embedding_precision", self.encoder.precision)
                batch.set_meta("dimension", str(self.encoder.dimension))
                batch.set_meta("index_type", self.config.index_type)
            return
        dimension = self.store.get_meta("dimension")
        if stored_model != self.config.embedding_model:
            raise CollectionError(
                f"the index in {self.root} was built with embedding model {stored_model!r} ({dimension}-d), "
                f"but {self.config.embedding_model!r} is configured. Use QA_EMBEDDING_MODEL={stored_model}, "
                "or another --data-dir, or `qa rebuild --embedding-model ...` to re-embed.")
        self._check_precision()
        if self.store.get_meta("index_type") != self.config.index_type:
            raise CollectionError(
                f"the index in {self.root} is of type {self.store.get_meta('index_type')!r}, "
                f"but {self.config.index_type!r} is configured; use `qa rebuild` to change it.")

    def _check_precision(self) -> None:
        """Refuses to add or search vectors of another precision than the stored ones: INT8 and fp32 vectors
        of the same model are close but not equal, and mixed they rank each other slightly wrong."""
        stored = stored_precision(self.store)
        if stored == self.encoder.precision:
            return
        backends = [name for name, precision in BACKENDS.items() if PRECISIONS[precision] == stored]
        use = f"QA_EMBEDDING_BACKEND={backends[0]}" if backends else "the backend that made them"
        raise CollectionError(
            f"the vectors in {self.root} are {stored} vectors, but the {self.encoder.backend!r} embedding backend "
            f"makes {self.encoder.precision} vectors; the two must not be mixed. Use {use}, or run "
            f"`qa rebuild --re-embed` with QA_EMBEDDING_BACKEND={self.encoder.backend} to embed every article "
            "again.")

    @property
    def dimension(self) -> int:
        """Vector size recorded with the index."""
        return int(self.store.get_meta("dimension") or self.encoder.dimension)

    def _vector_path(self, generation: int) -> Path:
        return self.root / f"vectors.{generation}.faiss"

    def _delta_path(self, generation: int) -> Path:
        return self.root / f"vectors.{generation}.delta.npz"

    def _manifest(self, generation: int) -> tuple[int | None, list[int]]:
        """The generation of the base vector file (None: no base yet) and those of the delta files, as of
        committed ``generation``."""
        base = self.store.get_meta("vector_base")
        if base is None:  # written before vectors were layered: one file of the generation
            return (generation or None), []
        deltas = self.store.get_meta("vector_deltas") or ""
        return (int(base) or None), [int(g) for g in deltas.split(",") if g]

    @property
    def _keyword_folder(self) -> Path:
        return self.root / "keywords"

    def _load_indexes(self, generation: int, at_open: bool = False) -> Snapshot:
        """The indexes of ``generation``. At open, a keyword index that does not match it (missing, damaged,
        or left by a crash) is rebuilt from the stored chunks; on a later refresh it is taken as it is, since
        the process that committed stamps it a moment after its metadata."""
        facets = Facets.build(self.store.facet_rows())
        base, deltas = self._manifest(generation)
        try:
            vectors = LayeredIndex.open(self._vector_path(base) if base else None,
                                        [self._delta_path(g) for g in deltas], facets.ids, self.dimension,
                                        self.config.index_type)
        except IndexFileError as error:
            raise IndexFileError(f"{error}; run `qa rebuild` to re-embed from the stored article texts") from error
        try:
            keywords = KeywordIndex.open(self._keyword_folder, generation if at_open else None)
            if at_open and len(keywords) != len(facets):
                raise KeywordIndexStale(f"it holds {len(keywords)} chunks, the metadata {len(facets)}")
        except KeywordIndexStale as why:
            keywords = self._repair_keywords(str(why))
        return Snapshot(vectors, keywords, facets)

    def _repair_keywords(self, why: str) -> KeywordIndex:
        """Rebuilds the keyword index from the stored chunks, holding the write lock."""
        with self._write_lock("a keyword index repair"):
            generation = int(self.store.get_meta("generation") or 0)
            try:  # another process may have repaired it while this one waited for the lock
                return KeywordIndex.open(self._keyword_folder, generation)
            except KeywordIndexStale:
                log.log(logging.WARNING if generation else logging.DEBUG,
                        "rebuilding the keyword index from the stored chunks: %s", why)
                return KeywordIndex.rebuild(self._keyword_folder, self.store.keyword_docs(), generation)

    def refresh(self) -> bool:
        """Picks up a commit made by another process; returns True if anything changed."""
        attempts = 0
        while True:
            generation = int(self.store.get_meta("generation") or 0)
            if generation == self.generation:
                return False
            try:
                current = self._load_indexes(generation)
            except IndexFileError:
                # Another process committed again while these files were read, and its sweep removed the
                # ones this generation listed: read the newer generation instead.
                attempts += 1
                if attempts == REFRESH_ATTEMPTS or int(self.store.get_meta("generation") or 0) == generation:
                    raise
                log.info("generation %d was replaced while it was read; reading the newer one", generation)
                continue
            with self._swap:
                self._current, self.generation = current, generation
            return True

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def writer(self, purpose: str = "a write", wait: bool = True,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Holds the data dir's write lock, so two ingests never interleave their commits, and picks up
        what another process committed before.

        The holder writes ``purpose`` and its pid into the lock file, so that a second writer can say
        what it waits for: to ``on_wait`` (and the log) when ``wait``, else in :class:`CollectionBusy`.
        """
        with self._write_lock(purpose, wait, on_wait):
            self.refresh()
            yield

    @contextmanager
    def _write_lock(self, purpose: str, wait: bool = True,
                    on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        if self._lock_holder == threading.get_ident():  # this thread holds it already (a repair inside a write)
            yield
            return
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
            self._lock_holder = threading.get_ident()
            try:
                yield
            finally:
                self._lock_holder = None
                lock.truncate(0)

    def commit(self, change: Change, fresh: bool = False, compact: bool = False) -> None:
        """Applies ``change`` to all three stores atomically (call inside :meth:`writer`).

        With ``fresh``, the vectors start empty and the configured model and index type become the
        collection's settings (a rebuild). The vectors get a new base file when ``compact`` is asked, when
        ``fresh``, or when the delta or the tombstones have outgrown their share of the base; otherwise the
        commit writes only the vectors it adds.
        """
        if not change and not compact:
            return
        next_id = self.store.next_vector_id()
        current = self.snapshot()
        removed = np.array(self.store.vector_ids_of(change.removed), dtype=np.int64)
        assigned: list[list[int]] = []
        added_docs: list[KeywordDoc] = []
        for article, chunks, _ in change.added:
            ids = list(range(next_id, next_id + len(chunks)))
            next_id += len(chunks)
            assigned.append(ids)
            added_docs += [KeywordDoc(i, titled_text(article.title, c.text), article.date, article.source)
                           for i, c in zip(ids, chunks)]
        added_ids = np.array([i for ids in assigned for i in ids], dtype=np.int64)
        added = (np.vstack([embedded for _, _, embedded in change.added]) if change.added
                 else np.zeros((0, self.dimension), dtype=np.float32))
        added_facets = [(doc.id, doc.date, doc.source) for doc in added_docs]

        generation = self.generation + 1
        layers = (LayeredIndex.empty(self.encoder.dimension, self.config.index_type) if fresh
                  else replace(current.vectors, index_type=self.config.index_type))
        vectors = layers.changed(added_ids, added, removed)
        base, deltas = self._manifest(self.generation)
        if fresh or compact or vectors.needs_compaction:
            vectors = vectors.compacted()
            vectors.base.save(self._vector_path(generation))
            base, deltas = generation, []
        elif len(added_ids):
            if len(deltas) < MAX_DELTA_FILES:
                write_delta(self._delta_path(generation), added_ids, added)
                deltas = [*deltas, generation]
            else:  # many small files: this commit's file holds the whole delta instead
                write_delta(self._delta_path(generation), *vectors.delta.vectors())
                deltas = [generation]
        # The keyword index is changed in place before the metadata, marked as not yet matching it; it is
        # stamped once the metadata has flipped (a crash in between makes the next open rebuild it).
        if fresh or current.keywords is None:
            keywords = KeywordIndex.rebuild(self._keyword_folder, added_docs)
            facets = Facets.build(added_facets)
        else:
            keywords = current.keywords.updated(added_docs, removed)
            facets = current.facets.updated(removed, added_facets)
        with self.store.transaction() as batch:
            for article_id in change.removed:
                batch.delete_article(article_id)
            for (article, chunks, _), ids in zip(change.added, assigned):
                batch.put_article(article, chunks, ids)
            for path in change.forgotten_files:
                batch.delete_file(path)
            for record in change.files:
                batch.put_file(record)
            batch.set_meta("next_vector_id", str(next_id))
            if fresh:
                batch.set_meta("embedding_model", self.config.embedding_model)
                batch.set_meta("embedding_precision", self.encoder.precision)
                batch.set_meta("dimension", str(self.encoder.dimension))
            batch.set_meta("index_type", self.config.index_type)
            batch.set_meta("vector_base", str(base or 0))
            batch.set_meta("vector_deltas", ",".join(map(str, deltas)))
            batch.set_meta("generation", str(generation))
        keywords.stamp(generation)
        with self._swap:
            self._current, self.generation = Snapshot(vectors, keywords, facets), generation
        self._sweep()

    def compact(self, index_type: str | None = None) -> None:
        """Writes one new base vector file without tombstones or delta, of ``index_type`` if given (the
        collection's type changes; the vectors are kept), and the index type already set otherwise (call
        inside :meth:`writer`)."""
        if index_type is not None:
            self.config = replace(self.config, index_type=index_type)
        self.commit(Change(), compact=True)

    @property
    def layers(self) -> tuple[int, int, int]:
        """Vectors in the base file, in the delta, and deleted from the base but not yet compacted away."""
        vectors = self.snapshot().vectors
        return len(vectors.base), len(vectors.delta), len(vectors.dead)

    def _sweep(self) -> None:
        """Deletes vector files the manifest does not list (left by earlier commits or crashes), and the BM25
        folders of earlier versions."""
        base, deltas = self._manifest(self.generation)
        keep = {self._delta_path(g).name for g in deltas} | ({self._vector_path(base).name} if base else set())
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
        keyword_ids = np.zeros(0, dtype=np.int64)
        try:
            if current.keywords is not None:
                keyword_ids = current.keywords.ids()
        except ValueError as error:  # a damaged segment reads at search time, not at open
            problems.append(f"the keyword index cannot be read ({error}); `qa rebuild` rebuilds it")
        for name, ids in (("FAISS", set(current.vectors.ids().tolist())), ("BM25", set(keyword_ids.tolist()))):
            if missing := stored - ids:
                problems.append(f"{len(missing)} chunks in SQLite are missing from {name}")
            if extra := ids - stored:
                problems.append(f"{len(extra)} ids in {name} have no chunk in SQLite")
        return problems

    def close(self) -> None:
        """Closes the database."""
        self.store.close()


def existing_precision(store: MetadataStore) -> str | None:
    """The precision of the collection's vectors; None for a new collection."""
    return stored_precision(store) if store.get_meta("embedding_model") is not None else None


def stored_precision(store: MetadataStore) -> str:
    """The precision of the collection's vectors; one made before it was recorded holds torch fp32 ones."""
    return store.get_meta("embedding_precision") or PRECISIONS["fp32"]


def data_dir_size(root: Path) -> int:
    """Bytes used by the collection's files."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not os.path.islink(p))
