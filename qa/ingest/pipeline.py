"""Files -> Articles -> Chunks -> vectors: incremental, batched ingest that never loses data."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings import Encoder, IndexFileError, backend_for
from qa.articles import ArticleError, discover, read_file
from qa.config import Config
from qa.ingest.chunking import Chunker, DegenerateCheck, FirstChunks, embedding_text
from qa.ingest.encode_queue import EncodeQueue
from qa.ingest.held_writer import HeldWriter
from qa.storage.collection import Change, Collection, CollectionError, stored_precision
from qa.storage.store import FileRecord, file_hash, text_hash
from qa.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did, per outcome; each entry is a short human label (title or path)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path or "path line N", reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    truncated: list[str] = field(default_factory=list)  # "title: what was left out", indexed in part
    chunks_embedded: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: counts of every outcome."""
        truncated = f", indexed in part {len(self.truncated)}" if self.truncated else ""
        return (f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
                f"removed {len(self.removed)}, duplicate {len(self.duplicates)}, failed {len(self.failed)}, "
                f"skipped {len(self.skipped)}{truncated}; {self.chunks_embedded} chunks embedded in "
                f"{self.seconds:.1f} s")


@dataclass(frozen=True)
class IngestProgress:
    """Where a running ingest is, for progress bars."""

    files_done: int
    files_total: int
    chunks_embedded: int
    seconds: float
    chunks_pending: int = 0  # read, waiting to be embedded
    waiting: str = ""  # set while waiting for another process's write to finish


ProgressCallback = Callable[[IngestProgress], None]


class Ingestor:
    """Brings files into a :class:`Collection`, embedding only what is new or changed.

    New chunks pile up until ``commit_every`` (default ``commit_every_chunks``) and are then committed; they are
    embedded meanwhile, ``embed_batch_chunks`` at a time sorted by length, in a background thread while the next
    files are read (:class:`~qa.ingest.encode_queue.EncodeQueue`; waiting questions get the encoder between slices);
    after each commit the write lock is let go for ``handover_s`` seconds, so that another writer
    waiting for it goes first. An article longer than ``max_chunks_per_article`` chunks is indexed in part and
    reported; one that is no article (see :class:`~qa.ingest.chunking.DegenerateCheck`) is refused before it is
    embedded. With ``wait`` False, a write already under way in another process raises
    :class:`~qa.storage.collection.CollectionBusy`; otherwise it is waited for, and reported through the progress
    callback.
    """

    def __init__(self, collection: Collection, embed_batch_chunks: int = 256, follow_symlinks: bool = False,
                 wait: bool = True, commit_every: int | None = None, handover_s: float = 0.05) -> None:
        config = collection.config
        self.collection = collection
        self.chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
        self.degenerate = DegenerateCheck(config.degenerate_min_count, config.min_words_per_sentence,
                                          config.min_real_word_share)
        self.max_file_bytes = config.max_file_bytes
        self.commit_every = commit_every or config.commit_every_chunks
        self.max_chunks = config.max_chunks_per_article
        self.embed_batch_chunks = embed_batch_chunks
        self.follow_symlinks = follow_symlinks
        self.wait = wait
        self.handover_s = handover_s

    def ingest(self, paths: Iterable[Path], prune: bool = False,
               progress: ProgressCallback | None = None) -> IngestReport:
        """Ingests files and folders; with ``prune``, drops articles whose files under ``paths`` are gone."""
        paths = [Path(p) for p in paths]
        report = IngestReport()
        started = time.perf_counter()
        found = discover(paths, follow_symlinks=self.follow_symlinks)
        report.skipped.extend((str(p), reason) for p, reason in found.skipped)
        run = IngestRun(self, report, started, progress, len(found.files))
        with HeldWriter(self.collection, "an ingest", self.wait, run.report_waiting, self.handover_s) as writer:
            run.writer = writer
            try:
                if prune:  # first, so a moved file is re-added rather than called a duplicate of its old self
                    run.prune(paths)
                for done, path in enumerate(found.files, 1):
                    run.file(path)
                    run.report_progress(done)
                run.flush(final=True)
            finally:
                run.encoding.close()
        report.seconds = time.perf_counter() - started
        log.info("ingest: %s", report.summary())
        return report

    def removal(self, target: str, ids_only: bool = False) -> Removal:
        """What :meth:`remove` of ``target`` would take now: the article with that id, else (unless
        ``ids_only``) every article read from that file or folder. ValueError for an empty or blank
        target, which as a path would be the current folder."""
        if not target.strip():
            raise ValueError("no article id or path given (an empty one would mean the current folder)")
        store = self.collection.store
        article = store.article(target)
        if article is not None:
            # Forget its file too, so ingesting that file again brings the article back.
            return Removal({article.id: article.title}, [article.source_path], by_id=True)
        if ids_only:
            return Removal({}, [], by_id=True)
        root = str(Path(target).expanduser().resolve())
        files = [p for p in store.file_paths() if p == root or p.startswith(root + os.sep)]
        titles = {a: t.title for p in files for a in store.articles_from(p) if (t := store.article(a)) is not None}
        return Removal(titles, files, by_id=False)

    def remove(self, target: str, on_wait: Callable[[str], None] | None = None, ids_only: bool = False,
               most: int | None = None) -> list[str]:
        """Removes an article by id, or (unless ``ids_only``: clients name ids, never server paths) every
        article read from a file or folder (see :meth:`removal`); returns the removed titles. A removal of
        more than ``most`` articles raises :class:`RemovalTooLarge` and removes nothing. ``on_wait`` hears
        why, when the removal has to wait for another process's write."""
        with self.collection.writer("a removal", self.wait, on_wait):
            removal = self.removal(target, ids_only)
            if most is not None and len(removal.titles) > most:
                raise RemovalTooLarge(removal, most)
            self.collection.commit(Change(removed=list(removal.titles), forgotten_files=removal.files))
        return list(removal.titles.values())


@dataclass(frozen=True)
class Removal:
    """What removing one target takes: ``titles`` by article id, the source ``files`` forgotten with them,
    and whether the target was an article id (one article) rather than a path."""

    titles: dict[str, str]
    files: list[str]
    by_id: bool


class RemovalTooLarge(ValueError):
    """A removal would take more articles than the caller allowed (``removal`` says which); nothing was
    removed."""

    def __init__(self, removal: Removal, most: int) -> None:
        super().__init__(f"it would remove {len(removal.titles)} articles, more than {most}")
        self.removal = removal


@dataclass(frozen=True)
class Embedded:
    """An article's chunks and their vectors, computed outside this process (by Ray workers)."""

    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class Rebuilt:
    """What :func:`rebuild` did: how many chunks, and whether they were embedded again."""

    chunks: int
    embedded: bool


def rebuild(config: Config, progress: ProgressCallback | None = None, wait: bool = True,
            re_embed: bool = False) -> Rebuilt:
    """Fresh indexes for every stored article, needing no source files; the configured embedding model and
    index type win.

    When only the index type changes and the stored vectors read cleanly, they are re-indexed as they are
    (minutes, where embedding a large collection again takes days); otherwise, or with ``re_embed``, every
    article is chunked and embedded again.
    """
    if not re_embed:
        reindexed = _reindexed(config, wait)
        if reindexed is not None:
            return reindexed
    collection = Collection(config, rebuilding=True)
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    started = time.perf_counter()

    def waiting(message: str) -> None:
        if progress is not None:
            progress(IngestProgress(0, 0, 0, time.perf_counter() - started, waiting=message))

    try:
        with collection.writer("a rebuild", wait, waiting):
            stored = [s.article for s in collection.store.articles()]
            chunked = [(article, chunker.first(article, config.max_chunks_per_article).chunks) for article in stored]
            texts = [embedding_text(a.title, c) for a, chunks in chunked for c in chunks]

            def embedded(done: int) -> None:
                if progress is not None:
                    progress(IngestProgress(0, len(stored), done, time.perf_counter() - started))

            vectors = collection.encoder.encode(texts, progress=embedded)
            change, offset = Change(removed=[a.id for a in stored]), 0
            for article, chunks in chunked:
                change.added.append((article, chunks, vectors[offset : offset + len(chunks)]))
                offset += len(chunks)
            collection.commit(change, fresh=True)
            return Rebuilt(len(texts), embedded=True)
    finally:
        collection.close()


def _reindexed(config: Config, wait: bool) -> Rebuilt | None:
    """The stored vectors in an index of the configured type, when the configured model made them at the
    configured backend's precision and they can be read; None when they must be embedded again."""
    probe = Collection(config, rebuilding=True)
    try:
        stored_model, stored_type = probe.store.get_meta("embedding_model"), probe.store.get_meta("index_type")
        stored = stored_precision(probe.store)
        # ``auto`` keeps whatever vectors a backend still makes; a named backend keeps only its own.
        same_precision = stored == Encoder(config.embedding_model,
                                           backend=backend_for(config.embedding_backend, stored)).precision
    finally:
        probe.close()
    if stored_model != config.embedding_model or stored_type is None or not same_precision:
        return None
    try:
        collection = Collection(replace(config, index_type=stored_type))
    except (CollectionError, IndexFileError) as error:
        log.warning("re-embedding every article: the stored vectors cannot be reused (%s)", error)
        return None
    try:
        with collection.writer("a rebuild", wait):
            collection.compact(config.index_type)
            return Rebuilt(len(collection.snapshot().vectors), embedded=False)
    finally:
        collection.close()


class IngestRun:
    """State of one ingest: pending articles, the change being built, and the report."""

    def __init__(self, ingestor: Ingestor, report: IngestReport, started: float,
                 progress: ProgressCallback | None, total: int) -> None:
        self.ingestor = ingestor
        self.store = ingestor.collection.store
        self.report = report
        self.started = started
        self.progress = progress
        self.total = total
        self.change = Change()
        self.pending: list[tuple[Article, list[Chunk], np.ndarray | None]] = []  # vectors when embedded elsewhere
        self.pending_chunks = 0
        # Chunk texts are embedded in the background as they are cut, while the next files are read.
        self.encoding = EncodeQueue(ingestor.collection.encoder, ingestor.embed_batch_chunks,
                                    ingestor.collection.config.encode_ahead_slices)
        self.seen_text: dict[str, list[tuple[str, str | None]]] = {}  # text hash -> (id, link) read in this run
        self.files_done = 0
        self.writer: HeldWriter | None = None  # handed over between commits, when set

    def report_progress(self, done: int, pending: int = 0) -> None:
        """Tells the progress callback how far the run is (after each file and each embedded slice)."""
        self.files_done = done
        if self.progress is not None:
            self.progress(IngestProgress(done, self.total, self.report.chunks_embedded,
                                         time.perf_counter() - self.started, pending))

    def report_waiting(self, message: str) -> None:
        """Tells the progress callback that the run waits for another process's write."""
        if self.progress is not None:
            self.progress(IngestProgress(0, self.total, 0, time.perf_counter() - self.started, waiting=message))

    def file(self, path: Path) -> None:
        """Handles one file: skip if unchanged, else read it and diff its articles against the store."""
        record = self.changed(path)
        if record is None:
            return
        try:
            read = read_file(path, max_bytes=self.ingestor.max_file_bytes)
        except ArticleError as error:
            self.report.failed.append((record.path, str(error)))
            return
        self.apply(record, read.articles, read.problems)

    def changed(self, path: Path) -> FileRecord | None:
        """The file's new record when its content may have changed; None (reported) when it has not."""
        key = str(path.resolve())
        try:
            stat = path.stat()
            known = self.store.file_record(key)
            if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                self.report.unchanged.extend(self.store.titles_from(key))
                return None
            digest = file_hash(path)
        except OSError as error:
            self.report.failed.append((key, f"cannot read file: {error.strerror or error}"))
            return None
        record = FileRecord(key, stat.st_size, stat.st_mtime_ns, digest)
        if known and known.sha256 == digest:  # touched but identical: just remember the new mtime
            self.report.unchanged.extend(self.store.titles_from(key))
            self.change.files.append(record)
            return None
        return record

    def apply(self, record: FileRecord, articles: Sequence[Article], problems: Sequence[str],
              embedded: Mapping[str, Embedded] | None = None) -> None:
        """Diffs a changed file's ``articles`` against the store; ``embedded`` holds chunks and vectors
        already computed elsewhere (by article id), the rest are chunked and embedded here."""
        self.report.failed.extend((record.path, problem) for problem in problems)  # each names its line
        before = self.store.articles_from(record.path)
        current = {a.id for a in articles}
        for old_id in before.keys() - current:
            self._remove(old_id)
        for article in articles:
            self._article(article, before.get(article.id), (embedded or {}).get(article.id))
        self.change.files.append(record)

    def _copy_of(self, article: Article, hashed: str) -> str | None:
        """The id of an article (stored, or read earlier in this run) that ``article`` is a copy of: the same
        text under the same link, or where either has none (one file under two paths). The same text at
        another outlet's link is a syndicated story, kept once per link: reading collapses near-identical
        passages, and corroboration counts such copies once."""
        leaving = set(self.change.removed)
        stored = [(i, self.store.article(i)) for i in self.store.article_ids_with_text(hashed)
                  if i != article.id and i not in leaving]
        twins = [(i, a.url if a is not None else None) for i, a in stored] + self.seen_text.get(hashed, [])
        return next((i for i, url in twins if i != article.id and not (article.url and url and url != article.url)),
                    None)

    def _article(self, article: Article, old_hash: str | None, embedded: Embedded | None = None) -> None:
        if old_hash == article.content_hash:
            self.report.unchanged.append(article.title)
            return
        # Judged on the part that could be indexed, before it is split (seconds, for a huge text of "A. ").
        indexable = article.text[: self.ingestor.chunker.span(self.ingestor.max_chunks)]
        degenerate = self.ingestor.degenerate.reason(indexable)
        if degenerate is not None:
            self.report.failed.append((article.source_path, f"{article.title}: {degenerate}"))
            return
        first = (FirstChunks(embedded.chunks, len(embedded.chunks), True) if embedded is not None
                 else self.ingestor.chunker.first(article, self.ingestor.max_chunks))
        hashed = text_hash(article.text)
        twin = self._copy_of(article, hashed)
        if twin is not None:
            self.report.duplicates.append(f"{article.title} (same text as {twin})")
            return
        self.seen_text.setdefault(hashed, []).append((article.id, article.url))
        stored = self.store.article(article.id)
        if stored is not None:
            self.change.removed.append(article.id)
            self.report.updated.append(article.title)
        else:
            self.report.added.append(article.title)
        chunks = first.chunks
        if first.total > self.ingestor.max_chunks:
            kept = chunks[self.ingestor.max_chunks - 1].end
            about = "" if first.exact else "about "
            self.report.truncated.append(
                f"{article.title}: only its first {kept:,} of {len(article.text):,} characters "
                f"({self.ingestor.max_chunks} of {about}{first.total:,} passages) were indexed "
                "(QA_MAX_CHUNKS_PER_ARTICLE sets the limit)")
            chunks = chunks[: self.ingestor.max_chunks]
        self.pending.append((article, chunks, None if embedded is None else embedded.vectors[: len(chunks)]))
        if embedded is None:
            self.encoding.add([embedding_text(article.title, c) for c in chunks])
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= self.ingestor.commit_every:
            self.flush()

    def _remove(self, article_id: str) -> None:
        stored = self.store.article(article_id)
        self.change.removed.append(article_id)
        self.report.removed.append(stored.title if stored else article_id)

    def prune(self, roots: list[Path]) -> None:
        """Removes articles whose source file under one of ``roots`` no longer exists."""
        prefixes = [str(r.expanduser().resolve()) for r in roots]
        for path in self.store.file_paths():
            under = any(path == p or path.startswith(p + os.sep) for p in prefixes)
            if under and not os.path.exists(path):
                for article_id in self.store.articles_from(path):
                    self._remove(article_id)
                self.change.forgotten_files.append(path)

    def flush(self, final: bool = False) -> None:
        """Takes the pending chunks' vectors (embedded in the background, see :class:`EncodeQueue`), then
        commits them (or at the end)."""
        if self.pending:
            here = sum(len(chunks) for _, chunks, given in self.pending if given is None)
            already = self.report.chunks_embedded + sum(len(g) for _, _, g in self.pending if g is not None)

            def embedded(done: int) -> None:
                self.report.chunks_embedded = already + done
                self.report_progress(self.files_done, here - done)

            vectors = self.encoding.take(embedded)
            offset = 0
            for article, chunks, given in self.pending:
                if given is None:
                    given, offset = vectors[offset : offset + len(chunks)], offset + len(chunks)
                self.change.added.append((article, chunks, given))
            self.pending, self.pending_chunks = [], 0
        added = sum(len(chunks) for _, chunks, _ in self.change.added)
        if final or added >= self.ingestor.commit_every:
            self.ingestor.collection.commit(self.change)
            self.change = Change()
            if not final and self.writer is not None:
                self.writer.hand_over()


