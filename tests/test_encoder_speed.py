"""Keeping the encoder busy: embedding in the background while an ingest reads on (qa.ingest.encode_queue), in
length-sorted slices whose order is restored, with commits and crash safety exactly as before.

Real model, FAISS and SQLite; a failing encoder is the real one with an error injected into one call.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import Encoder
from qa.config import Config
from qa.ingest.encode_queue import EncodeQueue
from qa.ingest.pipeline import Ingestor
from qa.storage.collection import Collection
from tests.conftest import ROOT, small_corpus

SEED_RECORDS = ROOT / "seeds" / "wikinews_gum.jsonl"
SLICE = 4  # chunks per embedding slice: several slices per commit
COMMIT_EVERY = 10  # chunks per commit: several commits per ingest


def _corpus(folder: Path, records: int = 6) -> Path:
    """The small corpus plus the first ``records`` seed articles, one file each (so reading goes on
    between slices)."""
    small_corpus(folder)
    for number, line in enumerate(SEED_RECORDS.read_text(encoding="utf-8").splitlines()[:records]):
        (folder / f"seed-{number:02d}.jsonl").write_text(line + "\n", encoding="utf-8")
    return folder


def _ingest(config: Config, corpus: Path, ahead: int) -> Collection:
    collection = Collection(replace(config, encode_ahead_slices=ahead))
    Ingestor(collection, embed_batch_chunks=SLICE, commit_every=COMMIT_EVERY).ingest([corpus])
    return collection


def _state(collection: Collection) -> tuple[list[tuple[str, list[str], list[int]]], np.ndarray, np.ndarray]:
    """Every stored article with its chunk texts and vector ids, and the stored vectors by id."""
    store = collection.store
    articles = sorted((s.article.id, [c.text for c in store.chunks_of(s.article.id)],
                       sorted(store.vector_ids_of([s.article.id]))) for s in store.articles())
    ids, vectors = collection.snapshot().vectors.vectors()
    order = np.argsort(ids)
    return articles, ids[order], vectors[order]


def test_ingest_embedding_ahead_stores_what_one_after_the_other_stores(config: Config, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    sequential = _ingest(replace(config, data_dir=tmp_path / "sequential"), corpus, ahead=0)
    ahead = _ingest(replace(config, data_dir=tmp_path / "ahead"), corpus, ahead=2)
    (articles, ids, vectors), (articles_ahead, ids_ahead, vectors_ahead) = _state(sequential), _state(ahead)
    assert len(ids) > 3 * COMMIT_EVERY and articles_ahead == articles and np.array_equal(ids_ahead, ids)
    assert np.allclose(vectors_ahead, vectors, atol=1e-6)
    assert ahead.check() == [] and ahead.generation == sequential.generation  # as many commits


def test_encoding_runs_while_the_next_files_are_read(config: Config, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.ingest import pipeline as ingest_module

    events: list[tuple[str, str]] = []
    read_file, encode = ingest_module.read_file, Encoder.encode

    def reading(*args: Any, **kwargs: Any) -> Any:
        events.append(("read", threading.current_thread().name))
        return read_file(*args, **kwargs)

    def encoding(self: Encoder, *args: Any, **kwargs: Any) -> np.ndarray:
        events.append(("encode start", threading.current_thread().name))
        try:
            return encode(self, *args, **kwargs)
        finally:
            events.append(("encode end", threading.current_thread().name))

    monkeypatch.setattr(ingest_module, "read_file", reading)
    monkeypatch.setattr(Encoder, "encode", encoding)
    _ingest(config, _corpus(tmp_path / "corpus"), ahead=2)
    assert {thread for kind, thread in events if kind.startswith("encode")} == {"ingest-encode_0"}
    # Some file was read while a slice was being embedded.
    running, overlapped = 0, False
    for kind, _ in events:
        running += {"encode start": 1, "encode end": -1}.get(kind, 0)
        overlapped |= kind == "read" and running > 0
    assert overlapped


def _ingest_failing_at_slice(collection: Collection, corpus: Path, failing: int,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingests ``corpus`` with the encoder raising on its ``failing``-th slice; the error must come out."""
    calls, encode = [], Encoder.encode

    def failing_once(self: Encoder, *args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(1)
        if len(calls) == failing:
            raise RuntimeError("the encoder ran out of memory")
        return encode(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Encoder, "encode", failing_once)
        with pytest.raises(RuntimeError, match="ran out of memory"):
            Ingestor(collection, embed_batch_chunks=SLICE, commit_every=COMMIT_EVERY).ingest([corpus])


def test_an_encoder_error_leaves_the_committed_state_as_one_after_the_other_does(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, earlier = _corpus(tmp_path / "corpus"), tmp_path / "earlier.jsonl"
    earlier.write_text("".join(SEED_RECORDS.read_text(encoding="utf-8").splitlines(keepends=True)[20:22]))
    states = {}
    for ahead in (0, 2):
        collection = _ingest(replace(config, data_dir=tmp_path / f"data-{ahead}"), earlier, ahead)
        before = _state(collection)
        _ingest_failing_at_slice(collection, corpus, 5, monkeypatch)
        states[ahead] = after = _state(collection)
        # Slices 1-4 held more than one commit's chunks: those commits stay, the failed one and later never came.
        assert collection.check() == [] and {a[0] for a in before[0]} < {a[0] for a in after[0]}
        assert len(before[1]) + COMMIT_EVERY <= len(after[1]) < len(before[1]) + 5 * SLICE
        report = Ingestor(collection, embed_batch_chunks=SLICE, commit_every=COMMIT_EVERY).ingest([corpus])
        assert not report.failed and collection.check() == [] and len(_state(collection)[1]) > len(after[1])
    assert states[2][0] == states[0][0] and np.array_equal(states[2][1], states[0][1])


def test_queue_returns_vectors_in_the_order_added_whatever_the_slices(tmp_path: Path) -> None:
    encoder = Encoder("all-MiniLM-L6-v2")
    records = [json.loads(line) for line in SEED_RECORDS.read_text(encoding="utf-8").splitlines()[:3]]
    # Lengths from one word to a few hundred, unsorted, handed in pieces of uneven size.
    texts = [" ".join(r["text"].split()[: size]) for r in records for size in (1, 150, 12, 60, 3)]
    queue = EncodeQueue(encoder, slice_size=4, ahead=2)
    seen: list[int] = []
    try:
        for start, end in ((0, 1), (1, 8), (8, 9), (9, 15)):
            queue.add(texts[start:end])
        together = queue.take(progress=seen.append)
    finally:
        queue.close()
    alone = np.vstack([encoder.encode([text]) for text in texts])
    assert together.shape == (15, encoder.dimension) and np.allclose(together, alone, atol=1e-5)
    assert seen[-1] == 15 and seen == sorted(seen)
    assert queue.take().shape == (0, encoder.dimension)  # taken: the queue is empty


def test_queue_refuses_a_slice_of_nothing() -> None:
    with pytest.raises(ValueError, match="slice size must be >= 1"):
        EncodeQueue(Encoder("all-MiniLM-L6-v2"), slice_size=0, ahead=2)
