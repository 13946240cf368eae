"""Ingestion on Ray Data: files are read, chunked and embedded on a Ray cluster; this process commits.

The driver (this process) only decides which files changed (size, mtime, hash against the store) and
holds the collection's write lock. Ray tasks read and chunk those files, an actor pool of the encoder
embeds them (``map_batches``), and the results are written as Parquet shards — one row per file, with its
articles, chunks and vectors — to a staging folder under the data dir. The driver then streams the
shards back one batch of rows at a time and commits them in commits of bounded size through the same
code as a local ingest (duplicates, updates, removals, the report). Nothing holds the whole corpus in
one place. On a cluster, the files and the data dir must be on a filesystem every node sees.

Ray is an optional extra (``pip install -e '.[ray]'``); only this module imports it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from qa.articles import ArticleError, discover, read_file
from qa.ingest.chunking import Chunker, embedding_text
from qa.ingest.pipeline import Embedded, Ingestor, IngestReport, IngestRun, ProgressCallback
from qa.storage.store import FileRecord
from qa.types import Article, Chunk

log = logging.getLogger(__name__)


class RayUnavailable(RuntimeError):
    """Ray could not be started, or the cluster named could not be reached."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: ``address`` None starts a local Ray; ``actors`` encoders embed
    ``batch_files`` files per call, each on its node's cores shared among the actors there."""

    address: str | None = None
    actors: int = 1
    batch_files: int = 16


def chunk_file(row: dict, chunker: Chunker, max_bytes: int) -> dict:
    """Ray task body: one file -> one row with its articles and their chunks (or the reason it failed)."""
    try:
        read = read_file(Path(row["path"]), max_bytes=max_bytes)
    except ArticleError as error:
        return {**row, "articles": "[]", "problems": "[]", "error": str(error)}
    articles = [{"article": asdict(a), "chunks": [asdict(c) for c in chunker.chunk(a)]} for a in read.articles]
    return {**row, "articles": json.dumps(articles), "problems": json.dumps(read.problems), "error": ""}


class EmbedFiles:
    """Ray actor: embeds the chunks of a batch of file rows with one loaded encoder (up to ``max_chunks``
    per article, as the ingest keeps), adding each row's vectors as float32 bytes."""

    def __init__(self, model_name: str, batch_size: int, max_chunks: int, actors: int, backend: str) -> None:
        import torch

        from embeddings import Encoder

        # Ray schedules the actor on one CPU and pins torch to one thread; the encoder is the only heavy
        # work on the node, so it takes the node's cores (shared among the actors sent there).
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // actors))
        self.encoder = Encoder(model_name, batch_size, backend)  # the collection's backend: vectors never mix
        self.max_chunks = max_chunks

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts, counts = [], []
        for articles in batch["articles"]:
            pieces = [embedding_text(item["article"]["title"], Chunk(**chunk))
                      for item in json.loads(articles) for chunk in item["chunks"][: self.max_chunks]]
            texts += pieces
            counts.append(len(pieces))
        vectors = self.encoder.encode(texts)
        ends = np.cumsum(counts)
        batch["vectors"] = np.array([vectors[end - count : end].tobytes() for count, end in zip(counts, ends)],
                                    dtype=object)
        return batch


def ingest_on_ray(ingestor: Ingestor, paths: Iterable[Path], options: RayOptions, prune: bool = False,
                  progress: ProgressCallback | None = None) -> IngestReport:
    """Like :meth:`Ingestor.ingest`, with the reading, chunking and embedding done on Ray."""
    import ray

    paths = [Path(p) for p in paths]
    collection = ingestor.collection
    report = IngestReport()
    started = time.perf_counter()
    found = discover(paths, follow_symlinks=ingestor.follow_symlinks)
    report.skipped.extend((str(p), reason) for p, reason in found.skipped)
    run = IngestRun(ingestor, report, started, progress, len(found.files))
    staging = collection.root / "staging" / f"ingest-{os.getpid()}-{time.time_ns()}"
    with collection.writer("an ingest on Ray", ingestor.wait, run.report_waiting):
        # Under the write lock no other ingest is running: what is staged is left by one that died.
        shutil.rmtree(staging.parent, ignore_errors=True)
        if prune:
            run.prune(paths)
        changed = [record for record in map(run.changed, found.files) if record is not None]
        if changed:
            started_here = not ray.is_initialized()
            if started_here:
                _start_ray(options.address)
            try:
                _stage(changed, ingestor, options, staging)
                staged = _staged(staging, collection.dimension, ingestor.max_chunks)
                for done, (record, articles, problems, embedded, error) in enumerate(staged, 1):
                    if error:
                        report.failed.append((record.path, error))
                    else:
                        run.apply(record, articles, problems, embedded)
                    run.report_progress(done)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                if started_here:
                    ray.shutdown()
        run.flush(final=True)
    report.seconds = time.perf_counter() - started
    log.info("ingest on Ray: %s", report.summary())
    return report


def _start_ray(address: str | None) -> None:
    """Connects to the Ray cluster at ``address``, or starts a local Ray when None."""
    import ray

    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ValueError, ConnectionError) as error:  # "Invalid address format: ...", nothing listening there
        where = f"the Ray cluster at {address!r}" if address else "a local Ray"
        raise RayUnavailable(f"could not start or reach {where}: {error}") from error


def _stage(changed: list[FileRecord], ingestor: Ingestor, options: RayOptions, staging: Path) -> None:
    """Runs the Ray Data pipeline that writes the changed files' chunks and vectors to ``staging``."""
    import ray.data

    config = ingestor.collection.config
    rows = [{"record": json.dumps(asdict(r)), "path": r.path} for r in changed]
    dataset: ray.data.Dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 64)))
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    dataset = dataset.map(partial(chunk_file, chunker=chunker, max_bytes=config.max_file_bytes), num_cpus=0.5)
    dataset = dataset.map_batches(EmbedFiles, fn_constructor_args=(config.embedding_model,
                                                                   config.embedding_batch_size,
                                                                   config.max_chunks_per_article, options.actors,
                                                                   ingestor.collection.encoder.backend),
                                  batch_size=options.batch_files, num_cpus=1,
                                  compute=ray.data.ActorPoolStrategy(size=options.actors), batch_format="numpy")
    dataset.write_parquet(str(staging))


def _staged(staging: Path, dimension: int, max_chunks: int
            ) -> Iterator[tuple[FileRecord, list[Article], list[str], dict[str, Embedded], str]]:
    """The staged rows, shard by shard and a few rows at a time: each file's record, articles, problems,
    chunks with vectors (by article id; the first ``max_chunks`` of an article's chunks have vectors) and
    the error that stopped it (empty when none)."""
    import pyarrow.parquet as parquet

    for shard in sorted(staging.glob("*.parquet")):
        for batch in parquet.ParquetFile(shard).iter_batches(batch_size=16):
            for row in batch.to_pylist():
                record = FileRecord(**json.loads(row["record"]))
                vectors = np.frombuffer(row["vectors"] or b"", dtype=np.float32).reshape(-1, dimension)
                articles, embedded, offset = [], {}, 0
                for item in json.loads(row["articles"]):
                    article, chunks = Article(**item["article"]), [Chunk(**c) for c in item["chunks"]]
                    count = min(len(chunks), max_chunks)
                    articles.append(article)
                    embedded[article.id] = Embedded(chunks, vectors[offset : offset + count])
                    offset += count
                yield record, articles, json.loads(row["problems"]), embedded, row["error"]
