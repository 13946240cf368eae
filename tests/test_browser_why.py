""""Why this answer?" in a real browser: an answer's candidates with their scores, checks and weighed features,
and an abstention's reason in plain words. Writes docs/why.png (the explained answer, opened).

Skipped when /usr/bin/chromium is missing. Never run ``playwright install``: the system browser is used.
"""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import ROOT
from test_browser import ARTIFACTS, CHROMIUM, ask, browser, open_page, set_as_of  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]


def test_why_this_answer_and_why_no_answer(open_page):  # noqa: F811 (a fixture)
    page = open_page(1280, 900)
    set_as_of(page.locator("#qa-as-of input, #qa-as-of textarea").first, "2026-02-01")
    answer = ask(page, "Who is the South Korean defense minister?", 1)
    assert answer.locator("strong.qa-short-answer").inner_text() == "Ahn Gyu Back"
    why = answer.locator("details.qa-why")
    assert why.locator("summary").inner_text() == "Why this answer?"
    why.locator("summary").click()
    assert "likely to answer" in why.locator(".qa-why-decision").inner_text()
    chosen = why.locator("li", has_text="chosen").first
    weights = chosen.locator(".qa-why-weights").inner_text()
    assert weights.startswith("weighed: ") and "model_score +" in weights
    assert "answer_kind: passed" in chosen.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "why-this-answer.png"
    page.wait_for_timeout(1700)  # let the flash fade so the picture shows the resting look
    # After the chat has settled (it scrolls itself to its end as the details open), from the answer down.
    answer.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(shot))
    shutil.copyfile(shot, ROOT / "docs" / "why.png")

    abstained = ask(page, "How much did Japan pay for the new destroyers?", 2)
    assert "The articles don't say." in abstained.inner_text()
    reason = abstained.locator(".qa-reason").inner_text()
    assert "likely to answer" in reason or "don't give" in reason, reason
    assert abstained.locator("details.qa-why summary").inner_text() == "Why no answer?"
