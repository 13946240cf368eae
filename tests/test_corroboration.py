"""Corroboration: other outlets stating the answer are cited as "also reported by"; syndicated copies once."""

from __future__ import annotations

from pathlib import Path

import pytest

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
