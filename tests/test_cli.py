"""The `qa` command end to end: ingest, search, ask, stats, check, remove, eval."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from qa.interfaces.cli import main
from tests.conftest import ROOT, SEED_TITLE, small_corpus


def _qa(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_round_trip(tmp_path: Path) -> None:
    data, corpus = tmp_path / "data", small_corpus(tmp_path / "corpus")
    (corpus / "notes.xyz").write_text("not an article")
    code, out = _qa(data, "ingest", str(corpus))
    assert code == 0 and "added 4" in out and "skipped 1" in out and "unsupported file type" in out

    code, out = _qa(data, "search", "Japan South Korea defense exchanges Yokosuka", "--json", "-k", "3")
    hits = json.loads(out)
    assert hits[0]["title"] == SEED_TITLE
    assert {"article_id", "chunk_id", "score", "title", "date", "source", "url", "text"} <= hits[0].keys()

    code, out = _qa(data, "search", "bridge", "--source", "Sky Weekly", "--json")
    assert {h["source"] for h in json.loads(out)} <= {"Sky Weekly"}

    code, out = _qa(data, "ask", "Which bread did the judges praise?", "--json")
    answer = json.loads(out)
    assert not answer["abstained"] and "sourdough rye" in answer["answer"]
    citation = answer["citations"][0]
    assert {"n", "doc_id", "chunk_id", "quote", "title", "date", "source", "url"} <= citation.keys()
    assert citation["doc_id"] == "bakery" and answer["sources"][0]["n"] == 1

    # The bakery article is dated 2024-05-02: asked as of the day before, it cannot answer.
    code, out = _qa(data, "ask", "Which bread did the judges praise?", "--as-of", "2024-05-01", "--json")
    assert code == 0 and all(c["doc_id"] != "bakery" for c in json.loads(out)["citations"])
    result = CliRunner().invoke(main, ["--data-dir", str(data), "ask", "Which bread?", "--as-of", "2024-02-30"])
    assert result.exit_code == 2 and "not a date like" in result.output

    code, out = _qa(data, "ask", "Which bread did the judges praise?")
    assert code == 0 and "[1]" in out and "Village bakery wins national bread prize" in out

    code, out = _qa(data, "stats")
    assert "articles:   4" in out and "2024-05-02 .. 2026-01-30" in out

    assert _qa(data, "check")[0] == 0
    code, out = _qa(data, "remove", "comet")
    assert code == 0 and "Amateur astronomer spots new comet" in out
    code, out = _qa(data, "remove", "nothing-like-this")
    assert code == 1


def test_eval_writes_the_common_shape(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "title": "Tides", "text": "The tide at Brest rose by four metres "
                                  "on Sunday. Harbour staff closed the lower quay."}) + "\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "How much did the tide at Brest rise?", "answers": ["four metres"],
                    "doc_ids": ["d1"]}) + "\n"
        + json.dumps({"id": "q2", "question": "Who won the chess olympiad?", "answers": [], "doc_ids": []}) + "\n")
    out = tmp_path / "results.jsonl"
    code, printed = _qa(tmp_path / "data", "eval", "--corpus", str(corpus), "--questions", str(questions),
                        "--out", str(out))
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2"]
    assert set(rows[0]) == {"id", "answer", "abstained", "confidence", "citations", "retrieved", "latency_ms"}
    assert rows[0]["citations"][0]["doc_id"] == "d1" and "four metres" in rows[0]["citations"][0]["quote"]
    assert rows[0]["retrieved"][0] == {"doc_id": "d1", "chunk_id": "d1#0", "score": rows[0]["retrieved"][0]["score"]}
    assert rows[1]["abstained"]
    assert "hit@1 100.0%" in printed and "abstained on unanswerable: 100.0%" in printed


def test_python_dash_m_qa_works() -> None:
    done = subprocess.run([sys.executable, "-m", "qa", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "ingest" in done.stdout and "ask" in done.stdout


def test_eval_scores_gold_named_by_file_stem() -> None:
    from qa.interfaces.evaluation import Question, summarize

    question = Question("q1", "Who hosted the president?", ["Sanae Takaichi"], ["seed-article"], "2026-02-01",
                        evidence=[(10, 40)])
    record = {"answer": "Sanae Takaichi hosted him [1]", "abstained": False, "latency_ms": 1.0,
              "citations": [{"doc_id": "7ca1", "quote": "Sanae Takaichi hosted him", "date": "2026-01-30",
                             "start": 0, "end": 25}]}
    summary = summarize([(question, record, [{"7ca1", "seed-article"}])])  # the article's id and its file stem
    assert summary.hit_at[1] == 1.0 and summary.citation_correct == 1.0 and summary.gold_citation == 1.0
    assert summary.quote_overlaps_marked == 1.0 and summary.this_week_hit_at_1 == 1.0
    assert summary.cited_after_question == 0


def test_eval_matches_answers_through_typographic_punctuation() -> None:
    from qa.interfaces.evaluation import contains

    quote = "“If you lose the link, it’ll just keep going and crash into the ground,” said roboticist Daniel Huber."
    assert contains(quote, ["keep going and crash into the ground"])  # before: ” stuck to "ground"
    assert contains("Huffington calls them her “A-Team”;", ["A-Team"])
    assert not contains("The ground crew waited.", ["crash into the ground"])
