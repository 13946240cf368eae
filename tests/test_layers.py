"""Layered vectors: commits write only what they add, deletions are tombstones, compaction and IVF."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import qa.storage.collection
from embeddings import LayeredIndex, VectorIndex
from qa.ingest.pipeline import Ingestor
from qa.interfaces.cli import index_type_hint, main
from qa.retrieval.search import Retriever
from qa.storage.collection import Collection
from tests.conftest import SEED_TITLE, small_corpus


def _article(folder: Path, name: str, title: str, text: str) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"id": name, "title": title, "text": text, "date": "2025-01-01"}), encoding="utf-8")
    return path


def _compacted(config, tmp_path: Path) -> Collection:
    """The small corpus and 12 one-line notes, compacted into one base file."""
    collection = Collection(config)
    notes = tmp_path / "notes"
    notes.mkdir()
    for i in range(12):
        _article(notes, f"note{i}", f"Weather note {i}", f"Day {i} of the month was dry with a light wind.")
    Ingestor(collection).ingest([small_corpus(tmp_path / "corpus"), notes])
    with collection.writer():
        collection.compact()
    return collection


def test_a_commit_writes_only_what_it_adds_and_deletions_are_tombstones(config, tmp_path: Path) -> None:
    collection = _compacted(config, tmp_path)
    base_file = next(config.data_dir.glob("vectors.*.faiss"))
    base_bytes, base_chunks = base_file.stat().st_size, collection.layers[0]
    assert collection.layers == (base_chunks, 0, 0) and not list(config.data_dir.glob("*.npz"))

    Ingestor(collection).ingest([_article(tmp_path, "otters", "Otters return to the river Wend",
                                          "Otters were seen in the river Wend for the first time in fifty years.")])
    assert base_file.exists() and base_file.stat().st_size == base_bytes  # the base was not written again
    deltas = list(config.data_dir.glob("vectors.*.delta.npz"))
    assert len(deltas) == 1 and collection.layers == (base_chunks, 1, 0)
    assert Retriever(collection).search("otters in the river", k=1, rerank=False)[0].article_id == "otters"

    reopened = Collection(config)  # another process sees base + delta
    assert reopened.layers == (base_chunks, 1, 0) and reopened.check() == []

    Ingestor(collection).remove("bakery")  # one of ~18 base chunks: a tombstone, under the compaction share
    base, delta, dead = collection.layers
    assert (base, delta) == (base_chunks, 1) and dead >= 1
    found = {p.article_id for p in Retriever(collection).search("bakery bread prize sourdough", k=20, rerank=False)}
    assert "bakery" not in found and found
    reopened = Collection(config)
    assert reopened.layers == (base, delta, dead) and reopened.check() == []

    result = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), "compact"])
    assert result.exit_code == 0, result.output
    assert "-> " in result.output
    compacted = Collection(config)
    assert compacted.layers == (base_chunks - dead + 1, 0, 0) and compacted.check() == []
    assert sorted(p.name for p in config.data_dir.glob("vectors.*")) == [f"vectors.{compacted.generation}.faiss"]


def test_a_reader_whose_files_are_swept_while_it_reads_takes_the_newer_generation(config, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """The app refreshes while `qa ingest` in another process commits twice: the reader has read the
    manifest of the first commit when the second one compacts and sweeps that manifest's files away."""
    writer = _compacted(config, tmp_path)
    reader = Collection(config)
    Ingestor(writer).ingest([_article(tmp_path, "otters", "Otters return to the river Wend",
                                      "Otters were seen in the river Wend for the first time in fifty years.")])
    read_manifest = reader._manifest
    swept = []

    def manifest_then_another_commit(generation: int) -> tuple[int | None, list[int]]:
        manifest = read_manifest(generation)
        if not swept:  # the other process compacts between this read and the opening of the files
            swept.append(generation)
            with writer.writer():
                writer.compact()
        return manifest

    monkeypatch.setattr(reader, "_manifest", manifest_then_another_commit)
    assert reader.refresh()
    assert swept and reader.generation == writer.generation > swept[0]
    assert reader.layers == writer.layers and reader.check() == []
    assert Retriever(reader).search("otters in the river", k=1, rerank=False)[0].article_id == "otters"


def test_deletions_past_their_share_compact_on_their_own(config, tmp_path: Path) -> None:
    collection = _compacted(config, tmp_path)
    before = collection.layers[0]
    for name in ("bakery", "comet"):  # 2 of 18: over 10 % of the base deleted
        Ingestor(collection).remove(name)
    base, delta, dead = collection.layers
    assert dead == 0 and delta == 0 and base < before
    assert collection.check() == [] and Collection(config).check() == []


def test_many_small_commits_merge_their_delta_files(config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(qa.storage.collection, "MAX_DELTA_FILES", 3)
    collection = Collection(config)
    for i in range(5):
        Ingestor(collection).ingest([_article(tmp_path, f"note{i}", f"Harbour note {i}",
                                              f"The harbour master logged {i + 2} ferries on the day of note {i}.")])
    assert len(list(config.data_dir.glob("vectors.*.delta.npz"))) <= 3
    reopened = Collection(config)
    assert reopened.layers == (0, 5, 0) and reopened.check() == []


def test_rebuild_switches_to_ivf_keeping_the_vectors(config, tmp_path: Path) -> None:
    collection = Collection(config)
    Ingestor(collection).ingest([small_corpus(tmp_path / "corpus")])
    collection.close()
    result = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), "--index-type", "ivf", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "re-indexed, vectors kept (ivf index)" in result.output
    ivf = replace(config, index_type="ivf")
    assert Retriever(Collection(ivf)).search("Japan South Korea defense exchanges", k=1)[0].title == SEED_TITLE
    stats = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), "--index-type", "ivf", "stats"])
    assert "a flat index is exact and fast at this size" in stats.output


def test_index_type_hints() -> None:
    assert "IVF" in index_type_hint("flat", 1_000_000)
    assert index_type_hint("flat", 10_000) is None and index_type_hint("ivf", 1_000_000) is None


def _clustered(count: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, dimension))
    vectors = centres[rng.integers(0, 200, count)] + 0.35 * rng.normal(size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_finds_what_exact_search_finds(tmp_path: Path) -> None:
    drawn = _clustered(30_300)
    vectors, queries = drawn[:30_000], drawn[30_000:]  # the queries are held back: not in the index
    ids = np.arange(100, 30_100, dtype=np.int64)
    ivf = VectorIndex.build(32, "ivf", ids, vectors)
    assert ivf.index_type == "ivf" and 1 <= ivf.probes < 4 * int(np.sqrt(30_000))
    exact = VectorIndex.build(32, "flat", ids, vectors)
    found = [len({i for i, _ in ivf.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) for q in queries]
    assert sum(found) / (10 * len(queries)) >= 0.95
    ivf.save(tmp_path / "ivf.faiss")
    mapped = VectorIndex.load(tmp_path / "ivf.faiss", 32, mmap=True)
    assert mapped.index_type == "ivf" and mapped.probes == ivf.probes
    top = mapped.search(vectors[0], 1)[0][0]
    assert top == 100 and mapped.search(vectors[0], 1, excluded=np.array([100]))[0][0] != 100
    assert {i for i, _ in mapped.search(vectors[0], 5, allowed=np.array([101, 102]))} == {101, 102}


def test_a_small_ivf_collection_stays_exact() -> None:
    layers = LayeredIndex.empty(32, "ivf").changed(np.arange(50), _clustered(50), np.zeros(0, np.int64))
    compacted = layers.compacted()
    assert compacted.base.index_type == "flat" and len(compacted) == 50


def test_layers_never_return_deleted_or_lose_added_vectors() -> None:
    vectors = _clustered(400)
    layers = LayeredIndex.empty(32, "flat").changed(np.arange(300), vectors[:300], np.zeros(0, np.int64))
    layers = layers.compacted().changed(np.arange(300, 400), vectors[300:], np.arange(0, 300, 2))
    assert len(layers) == 250 and len(layers.dead) == 150
    for i in (0, 2, 1, 301):
        hits = [vid for vid, _ in layers.search(vectors[i], 5)]
        assert (hits[0] == i) == (i % 2 == 1 or i >= 300) and not any(h < 300 and h % 2 == 0 for h in hits)
    with pytest.raises(ValueError, match="trained"):
        VectorIndex(32, "ivf")
