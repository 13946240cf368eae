"""A short answer first: the span of the asked kind in the chosen sentence (a name for who, a number for how
many, a date for when, a place for where), bold before the quote, in JSON as ``short_answer``, bold on the
card; and no runner-up quoted or cited that does not state it."""

from __future__ import annotations

import pytest

from qa.answering.answers import ExtractiveAnswerer
from qa.answering.checks import Asked
from qa.answering.short import ShortAnswerFinder
from qa.assistant import Assistant
from qa.interfaces.export import Exchange, answer_json, answer_text, conversation_markdown
from qa.interfaces.ui import render
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import answer_span, expected
from qa.types import Passage
from tests.conftest import rule_scorer

SEED_SENTENCE = ("Japanese Defense Minister Shinjiro Koizumi and his South Korean counterpart Ahn Gyu Back decided "
                 "Friday to step up personnel exchanges between their forces amid mounting regional security "
                 "challenges.")


def _short(question: str, sentence: str) -> str | None:
    asked = Asked(question, expected(question))
    span = ShortAnswerFinder().find(asked, sentence, answer_span(question, sentence, asked.kind))
    return sentence[span.start : span.end] if span is not None else None


@pytest.mark.parametrize(("question", "sentence", "short"), [
    ("Who is the South Korean defense minister?", SEED_SENTENCE, "Ahn Gyu Back"),
    ("Who is the Japanese defense minister?", SEED_SENTENCE, "Shinjiro Koizumi"),
    ("How much did the bridge cost?", "The bridge cost 240 million euros and took four years to build.",
     "240 million euros"),
    ("How many painted zebras did organisers count?", "Organisers counted 312 painted zebras, a record.",
     "312 painted zebras"),
    ("When did Platz throw the bottle into the sea?", "Platz threw the bottle into the Baltic Sea in 1913.", "1913"),
    ("When did the city open the bridge?", "The city opened the bridge on 5 November, 2013, after a delay.",
     "5 November, 2013"),
    ("Where did the amateur astronomer spot the comet?", "An amateur astronomer in Chile spotted a new comet.",
     "Chile"),
    ("How many years did the leader spend behind bars?", "Mandela spent 27 years in prison.", "27 years"),
    ("How high is the lantern at the centre of the show?", "Hundreds of thousands of people saw the show.",
     "Hundreds"),  # not "Hundreds of": a short word ends the counted noun
    ("Which charity ran the survey?", "The survey was run by Oxfam’s research team.", "Oxfam"),
    ("Why did the crane fall?", "The crane fell because of strong winds.", None),  # no particular kind
    ("When did the bridge open?", "The bridge opened after a long delay.", None),  # no time stated
])
def test_the_short_answer_is_the_span_of_the_asked_kind(question: str, sentence: str, short: str | None) -> None:
    assert _short(question, sentence) == short


def _evidence(text: str, score: float, article_id: str, source: str = "Daily Loaf") -> Evidence:
    passage = Passage(chunk_id=f"{article_id}#0", article_id=article_id, title=article_id.title(), text=text,
                      start=0, end=len(text), score=1.0, source=source)
    return Evidence(passage, 0, ((0, len(text)),), text, score=score)


def test_a_runner_up_that_does_not_state_the_short_answer_is_not_quoted() -> None:
    lead = _evidence(SEED_SENTENCE, 6.5, "seed")
    other = _evidence("Prime Minister Sanae Takaichi hosted South Korean President Lee Jae Myung in Nara.", 6.0,
                      "nara")
    question = "Who is the South Korean defense minister?"
    answer = ExtractiveAnswerer(rule_scorer()).answer(question, "", [lead.passage, other.passage], [lead, other],
                                                       explain=True)
    assert answer.short_answer == "Ahn Gyu Back"
    assert [c.article_id for c in answer.citations] == ["seed"] and "Takaichi" not in answer.text
    citation = answer.citations[0]
    assert (citation.answer_start, citation.answer_end) == (SEED_SENTENCE.index("Ahn"), SEED_SENTENCE.index(" decided"))
    assert answer.trace is not None
    dropped = next(c for c in answer.trace.candidates if c.article_id == "nara")
    assert ("supports", "failed", "does_not_state_short_answer") in [(v.check, v.outcome, v.reason)
                                                                     for v in dropped.checks]
    # Switched off (for the ablation), the runner-up is quoted as before.
    unchecked = ExtractiveAnswerer(rule_scorer(), checks_off=frozenset({"supports"})).answer(
        question, "", [lead.passage, other.passage], [lead, other])
    assert [c.article_id for c in unchecked.citations] == ["seed", "nara"]


def test_the_short_answer_opens_every_rendering_in_bold() -> None:
    hostile = _evidence("The <b>bridge</b> cost 240 million euros.", 5.0, "bridge")
    answer = ExtractiveAnswerer(rule_scorer()).answer("How much did the bridge cost?", "", [hostile.passage],
                                                       [hostile])
    assert answer.short_answer == "240 million euros" and answer.text.startswith("The <b>bridge</b>")
    assert answer_json(answer)["short_answer"] == "240 million euros"
    assert answer_text(answer).startswith("**240 million euros** — The <b>bridge</b>")
    assert "**240 million euros** — The &lt;b&gt;bridge&lt;/b&gt;" in conversation_markdown([Exchange("q", answer)])
    html = render.answer_message(answer, 1)
    assert '<strong class="qa-short-answer">240 million euros</strong> — The &lt;b&gt;bridge' in html
    card = render.source_card(answer.citations[0], 1)
    assert '<b class="qa-answer-span">240 million euros</b>' in card


def test_no_short_answer_when_abstaining_or_asked_nothing_particular() -> None:
    weak = _evidence("The bridge cost 240 million euros.", -6.0, "bridge")
    abstained = ExtractiveAnswerer(rule_scorer()).answer("How much did the bridge cost?", "", [weak.passage], [weak])
    assert abstained.abstained and abstained.short_answer is None and answer_json(abstained)["short_answer"] is None
    why = _evidence("The crane fell because of strong winds.", 5.0, "crane")
    answered = ExtractiveAnswerer(rule_scorer()).answer("Why did the crane fall?", "", [why.passage], [why])
    assert not answered.abstained and answered.short_answer is None
    assert answer_text(answered).startswith("The crane fell")


def test_the_seed_names_the_south_korean_minister(assistant: Assistant) -> None:
    answer = assistant.ask("Who is the South Korean defense minister?", as_of="2026-02-01")
    assert answer.short_answer == "Ahn Gyu Back", answer.text
    assert answer.citations and "Ahn Gyu Back" in answer.citations[0].quote, answer.citations
    card = render.source_card(answer.citations[0], 1)
    assert '<b class="qa-answer-span">Ahn Gyu Back</b>' in card
