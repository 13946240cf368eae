"""Corroboration: other outlets stating the answer are cited as "also reported by"; syndicated copies once."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answering.corroboration import corroborating
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import expected
from qa.types import Passage
from tests.conftest import assistant_over

FERRY = "The ferry service between Port Elwin and Skarra was suspended for 36 hours while waves reached six metres."
RECORDS = [
    {"id": "herald", "title": "Storm halts Port Elwin ferry", "date": "2026-11-28", "source": "Coastal Herald",
     "url": "https://example.org/herald", "text": f"Storm Brenna closed the harbour at Port Elwin on Thursday. "
     f"{FERRY} Passengers were offered hotel rooms in the town."},
    # A syndicated copy of the Herald's story: the same text under another outlet's name.
    {"id": "herald-copy", "title": "Storm halts Port Elwin ferry", "date": "2026-11-28", "source": "Wire Digest",
     "url": "https://example.org/digest", "text": f"Storm Brenna closed the harbour at Port Elwin on Thursday. "
     f"{FERRY} Passengers were offered hotel rooms in the town, the operator said."},
    {"id": "island", "title": "Skarra cut off as ferries stop", "date": "2026-11-29", "source": "Island Times",
     "url": "https://example.org/island", "text": "Islanders on Skarra were without a mainland link this week. "
     "The operator halted the Port Elwin ferry for 36 hours during Storm Brenna, a spokeswoman said. "
     "Shops on the island ran short of fresh milk."},
    {"id": "other-storm", "title": "Storm floods Brantford cellars", "date": "2026-11-28", "source": "Valley Post",
     "text": "Storm Brenna flooded cellars in Brantford. Firefighters pumped water for 12 hours on Friday."},
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory):
    return assistant_over(RECORDS, Path(tmp_path_factory.mktemp("corroboration")))


def test_two_outlets_stating_the_answer_are_both_cited(assistant) -> None:
    answer = assistant.ask("For how long was the Port Elwin ferry suspended?", as_of="2026-12-01")
    assert "36 hours" in answer.citations[0].quote and answer.citations[0].corroborates is None
    also = [c for c in answer.citations if c.corroborates == 1]
    assert [c.source for c in also] == ["Island Times"] and "36 hours" in also[0].quote
    assert answer.text.endswith(f"Also reported by Island Times [{also[0].n}].")
    # The syndicated copy is no second source, and the other storm's figure is no corroboration.
    assert {c.article_id for c in answer.citations} == {answer.citations[0].article_id, "island"}
    assert answer.citations[0].article_id in {"herald", "herald-copy"}


def test_a_different_fact_is_not_called_corroboration(assistant) -> None:
    answer = assistant.ask("For how long did firefighters pump water in Brantford?", as_of="2026-12-01")
    assert "12 hours" in answer.text and all(c.corroborates is None for c in answer.citations)
    assert "Also reported" not in answer.text


def _evidence(article_id: str, text: str, score: float) -> Evidence:
    passage = Passage(chunk_id=f"{article_id}#0", article_id=article_id, title=article_id, text=text, start=0,
                      end=len(text), score=score)
    return Evidence(passage, 0, ((0, len(text)),), text, score=score)


def test_corroboration_must_state_what_the_answering_sentence_states() -> None:
    question = "Where is the government that steals money from banks?"
    quote = ("The government in Pyongyang used cyberattacks to steal money from banks and other institutions. "
             "Those intrusions continue even as President Trump says a planned summit with leader Kim Jong Un "
             "will proceed later this month.")
    # Same place, and the quote's second sentence shares its names and words: another statement all the same.
    summit = _evidence("summit", "Trump canceled his planned summit with leader Kim Jong Un, blaming threatening "
                                 "statements by Pyongyang later this month.", 4.0)
    heists = _evidence("heists", "Investigators said the government in Pyongyang has used cyberattacks to steal "
                                 "money from banks and other financial institutions.", 3.5)
    found = corroborating(question, expected(question), quote, quote, [summit, heists], {"main"})
    assert [e.passage.article_id for e in found] == ["heists"]
