"""Every answer explained: each check's verdict both ways, the reason code of every abstention, and the trace
through the assistant, the CLI (`qa ask --explain`, `qa eval --explain`), the REST API and the page's HTML."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qa.answering.answers import ExtractiveAnswerer, checks_named
from qa.answering.checks import (
    AnswerKindCheck,
    Asked,
    DateWindowCheck,
    OutcomeCheck,
    YearCheck,
    assess,
)
from qa.assistant import Assistant
from qa.interfaces.cli import main
from qa.interfaces.ui import render
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected, expected
from qa.text.timeframe import DateWindow
from qa.types import Passage
from tests.conftest import _free_port, rule_scorer, small_corpus

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]


def _evidence(text: str, article_date: str | None = None, score: float = 5.0, article_id: str = "a",
              start: int = 0) -> Evidence:
    """One sentence as evidence: a passage holding only ``text``, dated ``article_date``."""
    passage = Passage(chunk_id=f"{article_id}#0", article_id=article_id, title=article_id.title(), text=text,
                      start=start, end=start + len(text), score=1.0, date=article_date)
    return Evidence(passage, 0, ((start, start + len(text)),), text, score=score)


def _asked(question: str, window: DateWindow | None = None) -> Asked:
    return Asked(question, expected(question), window)


# --- each check, both ways ---------------------------------------------------------------------------
def test_date_window_check() -> None:
    window = DateWindow(date(2015, 9, 20), date(2015, 9, 26), "this week")
    asked = _asked("How many pilgrims died this week?", window)
    check = DateWindowCheck()
    assert check.verdict(asked, _evidence("Over 700 pilgrims died.", "2015-09-24")).outcome == "passed"
    outside = check.verdict(asked, _evidence("Over 345 pilgrims died.", "2006-01-12"))
    assert outside.failed and outside.reason == "outside_window"
    assert check.verdict(asked, _evidence("Pilgrims died.", None)).reason == "undated"
    assert check.verdict(_asked("How many pilgrims died?"), _evidence("Pilgrims died.")).outcome == "skipped"


def test_year_check() -> None:
    asked = _asked("How many visitors came in 2005?")
    assert YearCheck().verdict(asked, _evidence("Last year over 4 million visited.", "2007-03-01")).failed
    passed = YearCheck().verdict(asked, _evidence("In 2005, 3 million visited.", "2007-03-01"))
    assert passed.outcome == "passed" and passed.reason == "year_fits"


def test_outcome_check() -> None:
    asked = _asked("Who was named to succeed Ferguson?")
    ahead = OutcomeCheck().verdict(asked, _evidence("Ferguson will retire at the end of the season."))
    assert ahead.failed and ahead.reason == "outcome_unstated"
    assert not OutcomeCheck().verdict(asked, _evidence("David Moyes was named to succeed Ferguson.")).failed


def test_answer_kind_check_finds_the_span_in_article_offsets() -> None:
    asked = _asked("How much did the bridge cost?")
    assert asked.kind is Expected.MONEY
    sentence = _evidence("The bridge cost 240 million euros to build.", start=100)
    verdict = AnswerKindCheck().verdict(asked, sentence)
    assert verdict.outcome == "passed" and verdict.reason == "money_found"
    assert verdict.span is not None and sentence.passage.text[verdict.span[0] - 100 : verdict.span[1] - 100] == (
        "240 million euros")
    missing = AnswerKindCheck().verdict(asked, _evidence("The bridge opened on Monday with a parade.", start=100))
    assert missing.failed and missing.reason == "no_money" and missing.span is None


def test_assess_runs_every_check_and_keeps_the_span_past_a_failed_one() -> None:
    asked = _asked("How many visitors came in 2005?")
    sentence = _evidence("Last year over 4 million visited.", "2007-03-01")
    assessment = assess(asked, sentence)
    assert [(v.check, v.outcome) for v in assessment.verdicts] == [
        ("year", "failed"), ("outcome", "passed"), ("answer_kind", "passed")]
    assert assessment.span is not None and sentence.text[assessment.span.start : assessment.span.end] == "4 million"


def test_leaning_and_choose_verdicts() -> None:
    text = "He was 20 years old at the time. Platz threw the bottle into the Baltic Sea in 1913."
    passage = Passage(chunk_id="bottle#1", article_id="bottle", title="Message in a bottle", text=text,
                      start=500, end=500 + len(text), score=1.0)
    leaning = Evidence(passage, 0, ((500, 532),), text[:32], score=5.0)
    standalone = Evidence(passage, 0, ((533, 500 + len(text)),), text[33:], score=4.5)
    answer = ExtractiveAnswerer(rule_scorer(), margin=2.0).answer(
        "When did Platz throw the bottle into the sea?", "", [passage], [leaning, standalone], explain=True)
    assert answer.trace is not None and answer.decision is not None and answer.decision.code == "answered"
    first, second = answer.trace.candidates
    assert [(v.check, v.reason) for v in first.checks if v.failed] == [("leaning",
                                                                        "leans_on_sentence_outside_passage")]
    assert not first.chosen and second.chosen
    assert ("choose", "passed", "quoted") in [(v.check, v.outcome, v.reason) for v in second.checks]


def test_a_sure_name_outweighs_a_slightly_better_model_score_and_the_trace_says_why() -> None:
    sure = _evidence("The study was led by psychologist Alex Weiss, the university said.", score=4.0)
    unsure = _evidence("According to Weiss, the study took ten years.", score=4.5, article_id="b")
    answer = ExtractiveAnswerer(rule_scorer()).answer("Which psychologist led the study?", "",
                                                      [sure.passage, unsure.passage], [unsure, sure], explain=True)
    assert answer.trace is not None
    best, other = answer.trace.candidates
    assert best.article_id == "a" and best.chosen and best.features["kind_sure"] == 1.0
    assert best.contributions["kind_sure"] == 1.0 and best.contributions["model_score"] == 4.0
    assert other.features["kind_unsure"] == 1.0 and other.final_score is not None and best.final_score is not None
    assert best.final_score > other.final_score  # 1/(1+e^-8) > 1/(1+e^-7.5)
    assert "weighed: model_score +4.00, kind_sure +1.00" in "\n".join(answer.trace.lines())


def test_strong_evidence_outweighs_a_weak_rule() -> None:
    """A failed check lowers a candidate's log-odds by its weight instead of ruling it out: with a weight of
    -2, a sentence the model rates 6 still answers; with -20 (a veto in all but name) it does not."""
    sentence = _evidence("Last year over 4 million visited the park.", "2007-03-01")
    question = "How many visitors came to the park in 2005?"
    weak = ExtractiveAnswerer(rule_scorer(failed_check=-2.0)).answer(question, "", [sentence.passage], [sentence])
    assert not weak.abstained and weak.confidence is not None and weak.confidence > 0.99
    strong = ExtractiveAnswerer(rule_scorer()).answer(question, "", [sentence.passage], [sentence])
    assert strong.abstained and strong.decision is not None and strong.decision.code == "below_threshold"
    assert "it is about another year" in strong.decision.reason


# --- abstentions and their reason codes ------------------------------------------------------------
@pytest.mark.parametrize(("question", "sentences", "scores", "code", "why"), [
    ("How much did the bridge cost?", ["The bridge opened on Monday with a parade."], [5.0], "below_threshold",
     "it does not give an amount"),
    ("How much did the bridge cost?", ["The bridge cost 240 million euros."], [-6.0], "below_threshold",
     "the model rates it a weak answer"),
    ("Which firm built the bridge?", ["The bridge was built by a company over four years.",
                                      "Shares in the steel firm Acme Steel Ltd rose on Friday."], [5.0, -1.5],
     "below_threshold", "it is far behind the best-rated sentence"),
    ("Which firm built the bridge?", ["The bridge was built by a company over four years.",
                                      "Shares in the steel firm Acme Steel Ltd rose on Friday."], [5.0, 3.0],
     "off_point", "the most likely answer is 2.0 behind the best-rated one"),
    ("How much did the bridge cost?", [], [], "no_evidence", "No passage"),
])
def test_every_abstention_has_a_reason_code(question: str, sentences: list[str], scores: list[float], code: str,
                                            why: str) -> None:
    evidence = [_evidence(text, score=score, article_id=f"a{i}") for i, (text, score) in
                enumerate(zip(sentences, scores, strict=True))]
    scorer = rule_scorer(behind_best=-1.0)
    answer = ExtractiveAnswerer(scorer).answer(question, "", [e.passage for e in evidence], evidence)
    assert answer.abstained and answer.trace is None  # no trace unless asked for ...
    assert answer.decision is not None and answer.decision.code == code and why in answer.decision.reason


def test_evidence_dated_outside_the_window_is_the_reason() -> None:
    window = DateWindow(date(2015, 9, 20), date(2015, 9, 26), "this week")
    old = _evidence("Over 345 pilgrims died in a stampede.", "2006-01-12")
    answer = ExtractiveAnswerer(rule_scorer()).answer("How many pilgrims died this week?", "", [old.passage],
                                                       [old], window, explain=True)
    assert answer.abstained and answer.decision is not None and answer.decision.code == "outside_window"
    assert answer.trace is not None and answer.trace.candidates[0].checks[0].reason == "outside_window"
    assert "outside" in answer.decision.reason and "this week" in answer.decision.reason


def test_an_empty_question_has_a_reason(assistant: Assistant) -> None:
    answer = assistant.ask("?!", explain=True)
    assert answer.abstained and answer.decision is not None and answer.decision.code == "empty_question"
    assert answer.trace is not None and answer.trace.decision.code == "empty_question"


# --- the trace on every ask --------------------------------------------------------------------------
def test_the_assistant_traces_only_when_asked(assistant: Assistant) -> None:
    plain = assistant.ask("Which bread did the judges praise?")
    assert plain.trace is None and plain.decision is not None and plain.decision.code == "answered"
    explained = assistant.ask("Which bread did the judges praise?", explain=True)
    assert explained.text == plain.text and explained.trace is not None
    trace = explained.trace.as_json()
    assert trace["reason_code"] == "answered" and trace["facts"]["kind"] == "any"
    chosen = [c for c in trace["candidates"] if c["chosen"]]
    assert chosen and "sourdough rye" in chosen[0]["text"] and chosen[0]["score"] is not None
    assert {"check", "outcome", "reason", "span"} <= chosen[0]["checks"][0].keys()


def test_qa_ask_explain_prints_and_returns_the_trace(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    corpus = small_corpus(tmp_path / "corpus")
    assert runner.invoke(main, ["--data-dir", str(data), "ingest", str(corpus)]).exit_code == 0
    printed = runner.invoke(main, ["--data-dir", str(data), "ask", "Which bread did the judges praise?", "--explain"],
                            catch_exceptions=False).output
    assert "Why this answer:" in printed and "decision: answered (answered)" in printed
    assert "answer_kind: passed" in printed and "[chosen]" in printed
    out = runner.invoke(main, ["--data-dir", str(data), "ask", "Which company built the telescope?", "--explain",
                               "--json"], catch_exceptions=False).output
    answer = json.loads(out)
    assert answer["abstained"] and answer["trace"]["reason_code"] == answer["reason_code"]
    assert answer["trace"]["reason"] and answer["trace"]["candidates"]
    plain = json.loads(runner.invoke(main, ["--data-dir", str(data), "ask", "Which bread did the judges praise?",
                                            "--json"]).output)
    assert plain["trace"] is None and plain["reason_code"] == "answered"


def test_qa_eval_explain_writes_a_trace_per_question(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "title": "Tides", "text": "The tide at Brest rose by four metres "
                                  "on Sunday. Harbour staff closed the lower quay."}) + "\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in [
        {"id": "q1", "question": "How much did the tide at Brest rise?", "answers": ["four metres"], "doc_ids": ["d1"]},
        {"id": "q2", "question": "Who won the chess olympiad?", "answers": [], "doc_ids": []}]))
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "eval", "--corpus", str(corpus),
                                       "--questions", str(questions), "--out", str(out), "--explain"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reason_code"] for r in rows] == ["answered", rows[1]["trace"]["reason_code"]]
    assert rows[1]["abstained"] and rows[1]["reason_code"] != "answered"
    assert all(r["trace"]["candidates"] is not None for r in rows)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """The app over the small corpus on 127.0.0.1, with an httpx client."""
    import app
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("trace-api")
    config = Config.load(env={}, data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([small_corpus(root / "corpus")])
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=60) as client:
        yield client
    web.close()
    assistant.collection.close()


def test_the_api_returns_the_trace_when_asked(api: httpx.Client) -> None:
    body = {"question": "Which bread did the judges praise?", "as_of": "2026-12-01"}
    plain = api.post("/api/ask", json=body).json()
    assert plain["trace"] is None and plain["reason_code"] == "answered"
    explained = api.post("/api/ask", json={**body, "explain": True}).json()
    trace = explained["trace"]
    assert trace["reason_code"] == "answered" and any(c["chosen"] for c in trace["candidates"])
    assert all({"score", "checks", "chosen"} <= c.keys() for c in trace["candidates"])
    streamed = api.post("/api/ask", json={**body, "explain": True, "stream": True}).text
    final = json.loads(streamed.split("event: answer\ndata: ")[1].split("\n")[0])
    assert final["trace"]["reason_code"] == "answered"


def test_the_page_shows_the_reason_and_why_escaped(assistant: Assistant) -> None:
    answer = assistant.ask("Which bread did the judges praise?", explain=True)
    html = render.answer_message(answer, 1)
    assert '<details class="qa-why"><summary>Why this answer?</summary>' in html
    assert "\n\n" not in html
    abstained = assistant.ask("Which company built the telescope?", explain=True)
    assert abstained.abstained and abstained.decision is not None
    page = render.answer_message(abstained, 1)
    assert 'class="qa-reason"' in page and "Why no answer?" in page
    hostile = _evidence("The <script>x()</script> bridge cost 240 million euros.")
    shown = ExtractiveAnswerer(rule_scorer()).answer("How much did the bridge cost?", "", [hostile.passage],
                                                      [hostile], explain=True)
    why = render.why_details(shown.trace)  # type: ignore[arg-type]
    assert "<script>" not in why and "&lt;script&gt;" in why


def test_a_check_switched_off_lets_its_candidates_through_and_says_so() -> None:
    sentence = _evidence("Last year over 4 million visited.", "2007-03-01")
    question = "How many visitors came in 2005?"
    on = ExtractiveAnswerer(rule_scorer()).answer(question, "", [sentence.passage], [sentence])
    assert on.abstained and on.decision is not None and on.decision.code == "below_threshold"
    off = ExtractiveAnswerer(rule_scorer(), checks_off=checks_named("year, ")).answer(
        question, "", [sentence.passage], [sentence], explain=True)
    assert not off.abstained and off.trace is not None
    verdicts = [(v.check, v.outcome, v.reason) for v in off.trace.candidates[0].checks]
    assert ("year", "skipped", "switched_off") in verdicts
    with pytest.raises(ValueError, match="unknown checks"):
        ExtractiveAnswerer(rule_scorer(), checks_off=checks_named("yeer"))


def test_the_markdown_trace_keeps_article_text_literal() -> None:
    from qa.interfaces.export import Exchange, conversation_markdown, trace_markdown

    hostile = _evidence("The ```<script>x()</script>``` bridge cost 240 million euros.")
    answer = ExtractiveAnswerer(rule_scorer()).answer("How much did the bridge cost?", "", [hostile.passage],
                                                       [hostile], explain=True)
    block = trace_markdown(answer)
    assert block.startswith("\n```text\n") and block.rstrip().endswith("```") and block.count("```") == 2
    assert "Why this answer:" in block and "'''<script>" in block
    assert "Why this answer" not in conversation_markdown([Exchange("q", answer)])  # an export holds no trace
