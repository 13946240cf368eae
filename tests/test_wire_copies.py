"""A wire story on several outlets' sites is stored once per link and collapsed when reading (issue 23, item 6);
one file under two paths, or the same link twice, stays one article."""

from __future__ import annotations

import json
from pathlib import Path

from qa.ingest.pipeline import Ingestor
from tests.conftest import assistant_over

WIRE = ("The harbour bridge in Port Elwin will close for repairs from 3 March, the regional council said on "
        "Monday. Engineers found corrosion in two of its steel cables during a routine inspection. The closure "
        "is expected to last six weeks, and a ferry will carry commuters across the harbour meanwhile.")


def _record(number: int, url: str | None, source: str) -> dict:
    record = {"id": f"wire-{number}", "title": "Port Elwin bridge to close for repairs", "text": WIRE,
              "date": "2026-02-23", "source": source}
    return {**record, "url": url} if url else record


def test_the_same_story_at_two_outlets_is_kept_once_per_link_and_read_once(tmp_path: Path) -> None:
    records = [_record(1, "https://gazette.example/bridge", "Elwin Gazette"),
               _record(2, "https://islandtimes.example/news/bridge", "Island Times")]
    assistant = assistant_over(records, tmp_path)
    store = assistant.collection.store
    assert sorted(a.article.id for a in store.articles()) == ["wire-1", "wire-2"]  # before: wire-2 was a "duplicate"
    answer = assistant.ask("How long will the Port Elwin bridge be closed?", as_of="2026-02-24")
    assert "six weeks" in answer.text
    # Near-identical passages are collapsed before reading: the copy is neither quoted again nor "also reported".
    assert len(answer.citations) == 1, [(c.n, c.source) for c in answer.citations]
    hits = assistant.retriever.search("Port Elwin bridge closure repairs", k=5, rerank=False)
    assert len([h for h in hits if h.text.startswith("The harbour bridge")]) == 1
    assistant.collection.close()


def test_the_same_link_or_no_link_is_still_one_article(tmp_path: Path) -> None:
    records = [_record(1, "https://gazette.example/bridge", "Elwin Gazette"),
               _record(3, "https://gazette.example/bridge", "Elwin Gazette"),  # the same page under another id
               _record(4, None, "Elwin Gazette")]  # a copy without a link
    assistant = assistant_over(records, tmp_path)
    assert [a.article.id for a in assistant.collection.store.articles()] == ["wire-1"]
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps(_record(5, None, "Notes")) + "\n", encoding="utf-8")
    report = Ingestor(assistant.collection).ingest([again])
    assert report.duplicates and not report.added
    assistant.collection.close()
