"""The web app in a real browser (Debian's chromium driven by Playwright): citations, escaping, layout.

Skipped when /usr/bin/chromium is missing. Never run ``playwright install``: the system browser is used.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SEED_TITLE, XSS_MARKUP, XSS_TITLE
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]
ARTIFACTS = ROOT / "tests" / "artifacts"
SEED_QUESTION = "Who hosted South Korean President Lee Jae Myung?"
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]

# Set in every page before the app runs: notes when a status line is on screen (the answer streams).
_WATCH_STATUS = """
window.__sawStatus = false;
new MutationObserver(() => {
  if (document.querySelector('#qa-chat .qa-status')) window.__sawStatus = true;
}).observe(document, {childList: true, subtree: true});
"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, app_server):
    """Opens the app in a fresh context of the given size; records every request the page makes."""
    contexts, requests = [], []

    def open_(width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.add_init_script(_WATCH_STATUS)
        page.on("request", lambda request: requests.append(request.url))
        page.goto(app_server.url)
        page.wait_for_selector("#qa-question textarea")
        return page

    yield open_
    for context in contexts:
        context.close()
    hosts = {urlsplit(url).hostname for url in requests if not url.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1"}, f"requests left the machine: {sorted(h or '?' for h in hosts)}"


def ask(page, question: str, turn: int):
    """Types ``question``, presses Enter, waits for answer ``turn`` to be complete; returns it."""
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(f"#qa-chat .qa-answer.qa-t{turn}:not(.qa-streaming)")  # the chat drops data-*
    answer.wait_for()
    return answer


def set_as_of(field, day: str) -> None:
    """Types ``day`` into the as-of field and leaves it. It waits first: on a loaded machine a date typed in
    the first moments after the page opened was shown in the field but not sent with the next question
    (the page's own value was reset, likely as its load event finished); 3 s held in 6 runs of 6 on a
    machine with both cores busy, where typing at once failed 1 run in 3."""
    field.page.wait_for_timeout(3000)
    field.fill(day)
    field.press("Tab")
    expect(field).to_have_value(day)


def test_seed_question_cites_and_highlights_the_sentence(open_page):
    page = open_page(1280, 800)
    answer = ask(page, SEED_QUESTION, 1)
    assert page.evaluate("window.__sawStatus"), "no status line was shown while answering"
    assert "Sanae Takaichi" in answer.inner_text()
    cite = answer.locator("a.cite", has_text="[1]")
    assert cite.count() == 1

    cite.click()
    card = page.locator("#src-1-1")
    card.wait_for(state="visible")
    assert card.locator(".qa-title").inner_text() == SEED_TITLE
    mark = card.locator("mark")
    assert "Prime Minister Sanae Takaichi hosted South Korean President Lee Jae Myung" in mark.inner_text()
    assert "qa-flash" in (card.get_attribute("class") or "")
    assert mark.evaluate("m => getComputedStyle(m).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1700)  # let the flash fade so the picture shows the resting look
    shot = ARTIFACTS / "seed-question-1280x800.png"
    page.screenshot(path=str(shot), full_page=True)
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")

    # A second answer gets its own cards; clicking the first answer's [1] shows the first answer's sources.
    second = ask(page, "Who are the Black Eagles?", 2)
    assert "aerobatic" in second.inner_text()
    assert page.locator("#qa-turn-2").get_attribute("open") is not None
    assert page.locator("#qa-turn-1").get_attribute("open") is None
    answer.locator("a.cite").first.click()
    page.locator("#src-1-1").wait_for(state="visible")
    assert page.locator("#qa-turn-1").get_attribute("open") is not None
    assert page.locator("#qa-turn-2").get_attribute("open") is None

    page.locator("#qa-new-chat").click()
    page.locator("#qa-chat .qa-answer").first.wait_for(state="detached")
    assert page.locator("#qa-sources .qa-turn").count() == 0


def test_hostile_article_is_shown_as_text(open_page):
    page = open_page(1280, 800)
    answer = ask(page, "How many painted zebras were counted at the Quillton parade?", 1)
    assert "312" in answer.inner_text()
    page.locator("#src-1-1").wait_for(state="visible")
    card_text = page.locator("#src-1-1").inner_text()
    assert XSS_TITLE in card_text and XSS_MARKUP in card_text  # escaped, so visible as text
    assert "<b>Evil</b> Gazette" in card_text

    page.get_by_role("tab", name="Add articles").click()
    page.locator("#qa-articles table").wait_for()
    assert XSS_TITLE in page.locator("#qa-articles").inner_text()
    page.wait_for_timeout(300)  # give any injected handler a chance to run
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#qa-sources script, #qa-chat script, #qa-articles script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile-article-library.png"), full_page=True)


def test_narrow_screen_shows_the_answer_and_stacks_sources(open_page):
    page = open_page(390, 844)
    page.locator("#qa-chat").get_by_text("Who are the Black Eagles?").click()  # an example on first visit
    answer = page.locator("#qa-chat .qa-answer.qa-t1:not(.qa-streaming)")
    answer.wait_for()
    assert answer.is_visible() and "aerobatic" in answer.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 391, "the page scrolls sideways"
    chat_box = page.locator("#qa-chat").bounding_box()
    sources_box = page.locator("#qa-sources").bounding_box()
    assert sources_box["y"] >= chat_box["y"] + chat_box["height"] - 1  # the panel sits under the chat
    answer.locator("a.cite").first.click()
    page.locator("#src-1-1").wait_for(state="visible")
    page.wait_for_timeout(800)
    assert page.locator("#src-1-1").evaluate(
        "c => { const r = c.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "narrow-390x844.png"), full_page=True)



def test_as_of_date_is_shown_and_can_be_changed(open_page):
    page = open_page(1280, 800)
    as_of = page.locator("#qa-as-of input, #qa-as-of textarea").first
    assert as_of.input_value() == date.today().isoformat()

    set_as_of(as_of, "2025-06-01")  # before the seed article (2026-01-30): it cannot be cited
    answer = ask(page, SEED_QUESTION, 1)
    assert "Sanae Takaichi" not in answer.inner_text()
    assert page.locator("#qa-sources mark").count() == 0 or SEED_TITLE not in page.locator("#qa-sources").inner_text()

    set_as_of(as_of, "2026-02-01")
    answer = ask(page, SEED_QUESTION, 2)
    assert "Sanae Takaichi" in answer.inner_text()

    set_as_of(as_of, "2026-02-31")
    box = page.locator("#qa-question textarea")
    box.fill("Who are the Black Eagles?")
    box.press("Enter")
    page.get_by_text("“As of” is not a real date").wait_for()
