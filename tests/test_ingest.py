"""Incremental ingest, crash safety and bad input, with the real model, FAISS and SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings import Encoder, IndexFileError
from embeddings.turns import TurnLock
from qa.ingest.pipeline import Ingestor
from qa.storage.collection import Collection, CollectionError
from tests.conftest import ROOT, SEED, SEED_TITLE, small_corpus


def _search_titles(collection: Collection, query: str, k: int = 3) -> list[str]:
    from qa.retrieval.search import Retriever

    return [p.title for p in Retriever(collection).search(query, k=k, rerank=False)]


def test_ingest_then_unchanged_changed_removed_duplicate(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    first = Ingestor(collection).ingest([corpus])
    assert len(first.added) == 4 and not first.failed and first.chunks_embedded >= 4
    assert collection.check() == []

    again = Ingestor(collection).ingest([corpus])
    assert len(again.unchanged) == 4 and again.chunks_embedded == 0 and not again.added

    # touched but identical: still unchanged, nothing embedded
    os.utime(corpus / "extra.jsonl", None)
    assert Ingestor(collection).ingest([corpus]).chunks_embedded == 0

    # change one record and drop another from the JSONL
    records = [json.loads(line) for line in (corpus / "extra.jsonl").read_text().splitlines()]
    records[0]["text"] += " The prize comes with a trophy shaped like a loaf."
    (corpus / "extra.jsonl").write_text("\n".join(json.dumps(r) for r in records[:2]) + "\n")
    changed = Ingestor(collection).ingest([corpus])
    assert changed.updated == ["Village bakery wins national bread prize"]
    assert changed.removed == ["City opens cable-stayed bridge over river"]
    assert "trophy" in collection.store.article("bakery").text
    assert collection.store.article("bridge") is None

    # the same text under another path is stored once
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "seed-copy.txt").write_bytes(SEED.read_bytes())
    duplicate = Ingestor(collection).ingest([tmp_path / "copy"])
    assert len(duplicate.duplicates) == 1 and not duplicate.added
    assert collection.stats().articles == 3
    assert collection.check() == []


def test_prune_and_remove(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    (corpus / SEED.name).unlink()
    report = Ingestor(collection).ingest([corpus], prune=True)
    assert report.removed == [SEED_TITLE]
    assert Ingestor(collection).remove("comet") == ["Amateur astronomer spots new comet"]
    assert set(Ingestor(collection).remove(str(corpus / "extra.jsonl"))) == {
        "Village bakery wins national bread prize", "City opens cable-stayed bridge over river"}
    assert collection.stats().articles == 0 and collection.check() == []
    assert Ingestor(collection).remove("no-such-article") == []


def test_reopen_loads_without_embedding(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    chunks = collection.stats().chunks
    collection.close()
    reopened = Collection(config)
    assert reopened.stats().chunks == chunks
    assert reopened.encoder._model is None  # opening and counting never touch the encoder
    assert _search_titles(reopened, "Japan South Korea defense exchanges Yokosuka")[0] == SEED_TITLE


def test_failure_mid_ingest_keeps_previous_index(config, tmp_path: Path, monkeypatch) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    before = collection.stats()

    (corpus / "more.txt").write_text("Harbour festival\n\nThe harbour festival drew ten thousand visitors.")
    from qa.storage.store import StoreWriter

    def full_disk(self, *args):  # the disk fills up while the metadata is written, after the keyword index
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StoreWriter, "put_article", full_disk)
    with pytest.raises(OSError):
        Ingestor(collection).ingest([corpus])
    monkeypatch.undo()

    reopened = Collection(config)
    assert reopened.stats() == before
    assert reopened.check() == []
    assert _search_titles(reopened, "Japan South Korea defense exchanges Yokosuka")[0] == SEED_TITLE
    report = Ingestor(reopened).ingest([corpus])
    assert report.added == ["Harbour festival"]
    assert reopened.check() == []


def test_killed_ingest_leaves_loadable_index(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    before = collection.stats()
    big = tmp_path / "big"
    big.mkdir()
    for i in range(30):
        (big / f"story{i}.txt").write_text(f"Story {i}\n\n" + f"Paragraph about topic {i} and the weather. " * 30)
    env = {**os.environ, "QA_DATA_DIR": str(config.data_dir), "QA_COMMIT_EVERY_CHUNKS": "8"}
    process = subprocess.Popen([sys.executable, "-m", "qa", "ingest", str(big)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and int(Collection(config).store.get_meta("generation") or 0) < 3:
        time.sleep(0.2)
    process.kill()
    process.wait()
    reopened = Collection(config)
    assert reopened.check() == []
    assert reopened.stats().articles >= before.articles
    report = Ingestor(reopened).ingest([corpus, big])
    assert reopened.stats().articles == before.articles + 30
    assert not report.duplicates and reopened.check() == []


def test_wrong_model_is_a_clear_error(config, tmp_path: Path) -> None:
    Ingestor(Collection(config)).ingest([small_corpus(tmp_path / "corpus")])
    with pytest.raises(CollectionError, match="all-MiniLM-L6-v2"):
        Collection(replace(config, embedding_model="BAAI/bge-small-en-v1.5"))


def test_damaged_vector_file_is_named(config, tmp_path: Path) -> None:
    collection = Collection(config)
    Ingestor(collection).ingest([small_corpus(tmp_path / "corpus")])
    vectors = next(config.data_dir.glob("vectors.*"))
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexFileError, match=vectors.name):
        Collection(config)


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"   \n\n  ", "whitespace"),
    ("binary.txt", bytes(range(256)) * 8, "binary"),
    ("broken.json", b"{not json", "JSON"),
    ("huge.txt", b"word " * 300_000, "too large"),
    ("nothing.html", b"<html><body><nav>menu</nav></body></html>", "no main text"),
    ("bad.pdf", b"%PDF-1.4 garbage", "PDF"),
])
def test_bad_file_is_reported_and_the_rest_ingested(config, tmp_path: Path, name: str, content: bytes,
                                                    reason: str) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    (corpus / name).write_bytes(content)
    config = replace(config, max_file_mb=1.0)
    report = Ingestor(Collection(config)).ingest([corpus, tmp_path / "missing-folder"])
    assert len(report.added) == 4
    assert [Path(p).name for p, _ in report.failed] == [name]
    assert reason.lower() in report.failed[0][1].lower()
    assert any("missing-folder" in p for p, _ in report.skipped)


def test_jsonl_with_one_broken_line_keeps_good_lines(config, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = json.dumps({"id": "ok", "title": "Good", "text": "A perfectly good article about tides."})
    (folder / "mixed.jsonl").write_text(good + "\n{oops\n")
    report = Ingestor(Collection(config)).ingest([folder])
    assert report.added == ["Good"]
    assert any("line 2" in reason for _, reason in report.failed)


def test_removed_article_comes_back_when_its_file_is_ingested_again(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    Ingestor(collection).remove("comet")
    report = Ingestor(collection).ingest([corpus])
    assert report.added == ["Amateur astronomer spots new comet"]
    assert collection.check() == []


def test_progress_is_reported_while_embedding(config, tmp_path: Path) -> None:
    seen = []
    Ingestor(Collection(config), embed_batch_chunks=2).ingest([small_corpus(tmp_path / "corpus")],
                                                             progress=seen.append)
    assert seen[-1].files_done == seen[-1].files_total == 2
    assert any(p.chunks_embedded > 0 for p in seen[:-1])


def test_fifty_megabyte_file_is_refused_quickly(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    with open(corpus / "huge.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: cheap to make, 50 MB to read
    started = time.perf_counter()
    report = Ingestor(Collection(config)).ingest([corpus])
    assert [(Path(p).name, "too large" in reason) for p, reason in report.failed] == [("huge.txt", True)]
    assert len(report.added) == 4 and time.perf_counter() - started < 60


def test_file_that_vanishes_mid_ingest_is_reported(config, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    doomed = corpus / "zz-last.txt"
    doomed.write_text("Late story\n\nA story that is deleted while the ingest runs.")

    def delete_after_first_file(progress) -> None:
        if progress.files_done == 1:
            doomed.unlink(missing_ok=True)

    report = Ingestor(Collection(config)).ingest([corpus], progress=delete_after_first_file)
    assert [Path(p).name for p, _ in report.failed] == ["zz-last.txt"]
    assert "exist" in report.failed[0][1] or "No such file" in report.failed[0][1]
    assert len(report.added) == 4


def test_encoder_sorts_by_length_but_returns_input_order() -> None:
    encoder = Encoder("all-MiniLM-L6-v2")
    texts = ["A short one.", "A much longer sentence about the harbour museum and its tide mills, which ran for "
             "three centuries.", "Tea.", "The bridge cost 240 million euros and took four years to build."]
    done: list[int] = []
    together = encoder.encode(texts, progress=done.append, slice_size=3)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    assert together.shape == (4, encoder.dimension) and together.dtype == np.float32
    assert np.allclose(together, alone, atol=1e-5)
    assert done == [3, 4]


def test_turn_lock_serves_waiters_in_arrival_order() -> None:
    lock, served = TurnLock(), []

    def wait_and_record(number: int) -> None:
        with lock:
            served.append(number)

    threads = []
    with lock:  # held while the threads queue up, one after the other
        for number in range(6):
            threads.append(threading.Thread(target=wait_and_record, args=(number,)))
            threads[-1].start()
            while lock._next_ticket != number + 2:  # until this thread has drawn its ticket
                time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert served == [0, 1, 2, 3, 4, 5]
