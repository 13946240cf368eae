"""Damaged index files are detected and named on open; `qa rebuild` re-embeds from stored texts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from embeddings import IndexFileError
from qa.ingest.pipeline import Ingestor, rebuild
from qa.interfaces.cli import main
from qa.retrieval.search import Retriever
from qa.storage.collection import Collection, CollectionError
from tests.conftest import ROOT, SEED_TITLE, small_corpus


def _built(config, tmp_path: Path) -> Collection:
    collection = Collection(config)
    Ingestor(collection).ingest([small_corpus(tmp_path / "corpus")])
    collection.close()
    return collection


def _top_title(config) -> str:
    collection = Collection(config)
    try:
        return Retriever(collection).search("Japan South Korea defense exchanges Yokosuka", k=1)[0].title
    finally:
        collection.close()


@pytest.mark.parametrize("layer", ["delta", "base"])
@pytest.mark.parametrize("damage", ["truncate-vectors", "garbage-vectors"])
def test_damaged_vectors_are_named_and_rebuild_repairs_them(config, tmp_path: Path, damage: str, layer: str) -> None:
    _built(config, tmp_path)
    if layer == "base":  # a small collection keeps its vectors in delta files until compacted
        collection = Collection(config)
        with collection.writer():
            collection.compact()
        collection.close()
    vectors = next(config.data_dir.glob("vectors.*.faiss" if layer == "base" else "vectors.*.delta.npz"))
    if damage == "truncate-vectors":
        vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    else:
        vectors.write_bytes(os.urandom(4096))
    with pytest.raises(IndexFileError, match=vectors.name) as error:
        Collection(config)
    assert "qa rebuild" in str(error.value)
    rebuilt = rebuild(config)
    assert rebuilt.embedded and rebuilt.chunks > 0
    repaired = Collection(config)
    assert repaired.check() == [] and repaired.stats().articles == 4
    assert _top_title(config) == SEED_TITLE


@pytest.mark.parametrize("damage", ["delete-keyword-index", "delete-keyword-meta", "stale-marker"])
def test_a_damaged_or_stale_keyword_index_is_rebuilt_from_the_metadata(config, tmp_path: Path, damage: str,
                                                                       caplog) -> None:
    """The keyword index is derived data: at open, one that does not match the metadata is rebuilt from it."""
    _built(config, tmp_path)
    folder = config.data_dir / "keywords"
    if damage == "delete-keyword-index":
        shutil.rmtree(folder)
    elif damage == "delete-keyword-meta":
        (folder / "meta.json").unlink()
    else:  # as a crash between the keyword commit and the metadata's leaves it
        (folder / "GENERATION").write_text("dirty")
    repaired = Collection(config)
    assert repaired.check() == [] and repaired.stats().articles == 4
    assert "rebuilding the keyword index" in caplog.text
    repaired.close()
    assert _top_title(config) == SEED_TITLE
    assert Retriever(Collection(config)).search("Yokosuka", k=1, rerank=False)[0].title == SEED_TITLE


def test_corrupt_sqlite_is_a_clear_error(config, tmp_path: Path) -> None:
    _built(config, tmp_path)
    database = config.data_dir / "metadata.sqlite"
    for extra in ("-wal", "-shm"):
        Path(str(database) + extra).unlink(missing_ok=True)
    database.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    with pytest.raises(CollectionError, match=r"metadata\.sqlite"):
        Collection(config)


def test_rebuild_can_switch_index_type(config, tmp_path: Path) -> None:
    _built(config, tmp_path)
    hnsw = replace(config, index_type="hnsw")
    with pytest.raises(CollectionError, match="qa rebuild"):
        Collection(hnsw)
    result = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), "--index-type", "hnsw", "rebuild"])
    assert result.exit_code == 0, result.output
    assert _top_title(hnsw) == SEED_TITLE
    checked = CliRunner().invoke(main, ["--data-dir", str(config.data_dir), "--index-type", "hnsw", "check"])
    assert checked.exit_code == 0


def _generation(config) -> int:
    """The data dir's committed generation, read as another process would."""
    import sqlite3

    with sqlite3.connect(config.data_dir / "metadata.sqlite", timeout=30) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def test_repeated_kills_at_random_points_never_corrupt(config, tmp_path: Path) -> None:
    """SIGKILL an ingest subprocess at staggered moments; each time the index opens, agrees and answers."""
    _built(config, tmp_path)
    big = tmp_path / "big"
    big.mkdir()
    for i in range(24):
        (big / f"story{i}.txt").write_text(f"Story {i}\n\n" + f"Town {i} reported sunny weather today. " * 40)
    env = {**os.environ, "QA_DATA_DIR": str(config.data_dir), "QA_COMMIT_EVERY_CHUNKS": "4"}
    # Each kill comes a little later after the run's first commit (so wherever the model takes to load):
    # at once, in the next embedding, and in the writing and committing after it.
    for delay in (0.0, 0.4, 1.2):
        before = _generation(config)
        process = subprocess.Popen([sys.executable, "-m", "qa", "ingest", str(big)], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _generation(config) == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        reopened = Collection(config)
        assert reopened.check() == []
        reopened.close()
        assert _top_title(config) == SEED_TITLE
    collection = Collection(config)
    Ingestor(collection).ingest([big])
    assert collection.stats().articles == 4 + 24 and collection.check() == []
    assert [p.name for p in config.data_dir.iterdir() if p.name.endswith(".tmp")] == []  # swept
