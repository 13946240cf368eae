"""The Add articles tab in a real browser (Debian's chromium, Playwright): a pasted link becomes an article,
a feed is followed and listed with its state (a hostile feed title shown as text), the header says how current
the collection is. Skipped when /usr/bin/chromium is missing; saves tests/artifacts/feeds-panel.png."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, _free_port
from tests.news_site import NewsSite, Route, article_page, rss
from tests.test_browser import CHROMIUM, FLAGS, TIMEOUT_MS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]
HOSTILE = '<img src=x onerror="window.__pwned=1">Evil feed'
LIBRARY = ["The town council voted on Tuesday to turn the old market hall into a public library.",
           "Mayor Lena Ortiz said the library would open next spring with 40,000 books."]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The app (local links allowed, background polling off) and the news site."""
    import app
    from qa.assistant import Assistant
    from qa.config import Config

    root = tmp_path_factory.mktemp("feeds-page")
    config = Config.load(env={"QA_ALLOW_PRIVATE_URLS": "1", "QA_FETCH_HOST_INTERVAL_S": "0", "QA_POLL_CHECK_S": "1"},
                         data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    with NewsSite() as site:
        site.routes["/library"] = Route(article_page("Market hall to become library", LIBRARY, date="2026-11-24"))
        site.routes["/rss.xml"] = Route(rss(site.base, [("/library", "Market hall to become library",
                                                         "Tue, 24 Nov 2026 08:00:00 GMT")], title=HOSTILE))
        yield f"http://127.0.0.1:{config.port}/", site, assistant
    web.close()
    assistant.collection.close()


def test_add_a_link_and_follow_a_feed_on_the_page(served) -> None:  # type: ignore[no-untyped-def]
    from qa.sources.feed_store import FeedStore
    from qa.sources.poller import Poller

    url, site, assistant = served
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)
        page.get_by_role("tab", name="Add articles").click()
        page.locator("#qa-link input, #qa-link textarea").first.fill(site.url("/library"))
        page.locator("#qa-add-link").click()
        expect(page.locator("#qa-report")).to_contain_text("Market hall to become library", timeout=TIMEOUT_MS)
        expect(page.locator("#qa-articles")).to_contain_text("Market hall to become library", timeout=TIMEOUT_MS)
        page.locator("#qa-feed-url input, #qa-feed-url textarea").first.fill(site.url("/rss.xml"))
        page.locator("#qa-follow").click()
        expect(page.locator("#qa-report")).to_contain_text("Following", timeout=TIMEOUT_MS)
        feeds = page.locator("#qa-feeds")
        expect(feeds).to_contain_text(site.url("/rss.xml"), timeout=TIMEOUT_MS)
        expect(feeds).to_contain_text("Evil feed")
        assert "<img" in feeds.inner_text()  # the title's markup shown as text
        assert feeds.locator("img").count() == 0 and page.evaluate("window.__pwned") is None
        expect(page.locator("#qa-freshness")).to_contain_text("newest article 2026-11-24 · 1 feed, not polled yet",
                                                              timeout=TIMEOUT_MS)
        # A poll (as the app's background poller makes it) shows in the header and the table by itself.
        Poller(assistant.collection, FeedStore(assistant.config.data_dir)).poll_due()
        expect(page.locator("#qa-freshness")).to_contain_text("1 feed, last polled just now", timeout=TIMEOUT_MS)
        expect(feeds).to_contain_text("just now", timeout=TIMEOUT_MS)
        (ROOT / "tests" / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / "feeds-panel.png"), full_page=True)
        browser.close()
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1"}
