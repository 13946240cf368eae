"""`python app.py` on an empty data dir, as a newcomer starts it: a question asked at once is answered
(never "ask again"); then, over the demo articles plus two outlets reporting one event, the answer cites
both, and the conversation exports as Markdown and HTML from the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from test_browser import ARTIFACTS, CHROMIUM, FLAGS, SEED_QUESTION

from tests.conftest import ROOT, _free_port
from tests.test_corroboration import RECORDS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
BUILD_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory: pytest.TempPathFactory):
    """``python app.py`` on a free port over an empty data dir; yields its URL once the port answers."""
    root = tmp_path_factory.mktemp("first-start")
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    with open(root / "app.log", "w") as log:  # the child keeps its own copy of the handle
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir",
                                    str(root / "data")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"the app did not start: {(root / 'app.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def page(fresh_app: str):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(BUILD_TIMEOUT_S * 1000)
        page.goto(fresh_app)
        page.wait_for_selector("#qa-question textarea")
        yield page
        browser.close()


def _ask(page, question: str, turn: int):
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(f"#qa-chat .qa-answer.qa-t{turn}:not(.qa-streaming)")
    answer.wait_for()
    return answer


def test_a_question_asked_at_first_start_waits_for_the_index_and_is_answered(page) -> None:
    page.locator("#qa-banner .qa-banner").wait_for(timeout=5000)  # the demo index is being built
    box = page.locator("#qa-question textarea")
    box.fill(SEED_QUESTION)
    box.press("Enter")
    page.locator("#qa-chat .qa-status", has_text="Building the index").wait_for()
    answer = page.locator("#qa-chat .qa-answer.qa-t1:not(.qa-streaming)")
    answer.wait_for()
    assert "Sanae Takaichi" in answer.inner_text() and answer.locator("a.cite").count() >= 1
    assert "ask again" not in page.locator("#qa-chat").inner_text().lower()


def test_two_outlets_are_cited_and_the_conversation_exports(page, fresh_app: str, tmp_path: Path) -> None:
    for record in RECORDS:
        response = httpx.post(f"{fresh_app}api/articles", json={k: v for k, v in record.items() if k != "id"},
                              timeout=120)
        assert response.status_code == 200 and response.json()["added"], response.text
    page.locator("#qa-as-of input, #qa-as-of textarea").first.fill("2026-12-01")
    answer = _ask(page, "For how long was the Port Elwin ferry suspended?", 2)
    assert "36 hours" in answer.inner_text() and "Also reported by Island Times" in answer.inner_text()
    cards = page.locator("#qa-turn-2 .qa-card")
    assert cards.count() == 2 and "Island Times" in cards.nth(1).inner_text()
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "corroboration-1280x900.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, ROOT / "docs" / "corroboration.png")

    page.locator("#qa-export").click()
    links = page.locator("#qa-exports a[download]")
    links.first.wait_for()
    names = sorted(link.get_attribute("download") or "" for link in links.all())
    assert names == ["conversation.html", "conversation.md"]
    with page.expect_download() as download:
        page.locator("#qa-exports a[download='conversation.html']").click()
    exported = tmp_path / "conversation.html"
    download.value.save_as(exported)
    html_text = exported.read_text(encoding="utf-8")
    assert "Island Times" in html_text and "Sanae Takaichi" in html_text and "<script" not in html_text
    assert html_text.count("<section>") == 2
    page.screenshot(path=str(ARTIFACTS / "export-1280x900.png"), full_page=True)
