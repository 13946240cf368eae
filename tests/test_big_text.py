"""Big uploads stay bounded: a text that is no article is refused before it is embedded, a huge text is chunked
only as far as it can be indexed, and a big upload commits a slice at a time, answering questions and letting
other writers in between its commits (issue 21, finding 11)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from qa.config import Config
from qa.ingest.chunking import Chunker, DegenerateCheck
from qa.types import Article
from tests.conftest import ROOT, small_corpus

SEED_ARTICLES = ROOT / "seeds" / "wikinews_gum.jsonl"
ARTICLES = 24  # about 150 passages: six commits of 24


def _check() -> DegenerateCheck:
    config = Config()
    return DegenerateCheck(config.degenerate_min_count, config.min_words_per_sentence, config.min_real_word_share)


def _articles(count: int | None = None) -> list[dict]:
    """The first ``count`` seed articles (news from Wikinews), as JSON records."""
    rows = [json.loads(line) for line in SEED_ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"title": r["title"], "text": r["text"], "date": r.get("date"), "source": r.get("source")}
            for r in rows[:count]]


def _seed_texts() -> list[str]:
    return [a["text"] for a in _articles()]


def test_no_article_texts_are_told_from_articles() -> None:
    check = _check()
    assert "near-empty sentences" in (check.reason("A. " * 100_000) or "")
    assert "near-empty sentences" in (check.reason("Hi. " * 50_000) or "")
    assert "two or more letters" in (check.reason(" ".join(str(i) for i in range(60_000))) or "")
    line = "The council approved the new budget for the city schools after a long debate. "
    assert check.reason(line * 20_000) is None  # repetitive, but real sentences: indexed (in part)
    assert check.reason("Short note. A. B. C.") is None  # short texts are never judged
    texts = _seed_texts()
    assert texts and all(check.reason(text) is None for text in texts)
    assert check.reason("\n\n".join(texts) * 3) is None


def test_a_degenerate_upload_is_refused_before_it_is_embedded(tmp_path: Path) -> None:
    from qa.interfaces.ui.library import Library
    from qa.storage.collection import Collection

    collection = Collection(Config.load(env={}, data_dir=tmp_path / "data"))
    upload = tmp_path / "in" / "letters.txt"
    upload.parent.mkdir()
    upload.write_text("Degenerate\n\n" + "A. " * (2 * 1024 * 1024 // 3), encoding="utf-8")
    started = time.perf_counter()
    added = Library(collection, collection.config).add_files([upload])
    took = time.perf_counter() - started
    report = added.report
    assert report is not None and not report.added and report.chunks_embedded == 0
    assert len(report.failed) == 1 and "Degenerate: not indexed" in report.failed[0][1]
    assert "near-empty sentences" in report.failed[0][1]
    assert collection.stats().articles == 0 and took < 30, took
    collection.close()


def test_a_huge_text_is_chunked_only_as_far_as_it_is_indexed() -> None:
    text = "\n\n".join(_seed_texts()) * 3
    article = Article(id="huge", title="Huge", text=text, source_path="/huge.txt")
    chunker = Chunker(120, 170, 1)
    whole = chunker.chunk(article)
    first = chunker.first(article, 30)
    assert first.chunks == whole[:30] and not first.exact
    assert 0.7 * len(whole) < first.total < 1.3 * len(whole)
    short = Article(id="short", title="Short", text=_seed_texts()[0], source_path="/short.txt")
    assert chunker.first(short, 500).chunks == chunker.chunk(short) and chunker.first(short, 500).exact
    started = time.perf_counter()
    chunker.first(Article(id="big", title="Big", text=text * 20, source_path="/big.txt"), 30)
    assert time.perf_counter() - started < 5  # the whole of it (about 12 MB) takes a minute to split


def test_a_big_upload_commits_in_slices_answering_and_letting_writers_in_between(tmp_path: Path) -> None:
    from qa.assistant import Assistant
    from qa.ingest.pipeline import Ingestor
    from qa.interfaces.ui.library import Library

    config = Config.load(env={}, data_dir=tmp_path / "data", reranker_model="none", upload_commit_chunks=24)
    assistant = Assistant(config)
    collection = assistant.collection
    Ingestor(collection).ingest([small_corpus(tmp_path / "corpus")])
    assistant.warm_up()
    big = tmp_path / "in" / "many.jsonl"
    big.parent.mkdir()
    big.write_text("".join(json.dumps(r) + "\n" for r in _articles(ARTICLES)), encoding="utf-8")
    small = tmp_path / "small" / "harbour.txt"
    small.parent.mkdir()
    small.write_text("Harbour reopens\n\nThe harbour of Pellin reopened on Friday after storm repairs.\n")
    start = collection.generation
    committed = threading.Event()
    outcome: dict = {}

    def progress(_p) -> None:
        if collection.generation > start:
            committed.set()

    def upload() -> None:
        outcome["added"] = Library(collection, config).add_files([big], progress)

    worker = threading.Thread(target=upload)
    worker.start()
    try:
        assert committed.wait(60), "no commit within a minute"
        answer = assistant.ask("Which bread did the judges praise?")
        answered_meanwhile = worker.is_alive()
        other = Ingestor(collection).ingest([small])  # another writer: gets in between the upload's commits
        other_got_in = worker.is_alive()
    finally:
        worker.join(120)
    assert "sourdough rye" in answer.text and answered_meanwhile
    assert other.added == ["Harbour reopens"] and other_got_in
    report = outcome["added"].report
    assert len(report.added) == ARTICLES and not report.failed and report.chunks_embedded > 3 * 24
    assert collection.generation - start >= 4  # the upload's slices and the other writer's commit
    titles = {s.article.title for s in collection.store.articles()}
    assert "Harbour reopens" in titles and {a["title"] for a in _articles(ARTICLES)} <= titles
    collection.close()
