"""Following feeds: RSS, Atom, JSON Feed, news sitemaps and feed discovery; state in the collection's SQLite;
conditional GET, unchanged entries never fetched again, back-off for a failing feed, one failure never stopping
the others; the `qa feeds` commands; and end to end, a cited answer about a polled article that changes when
its page does. Against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.assistant import Assistant
from qa.config import Config
from qa.interfaces.cli import main
from qa.sources.feed_store import FeedStore, parse_stamp, utc_now
from qa.sources.following import FeedError, follow, parse_every
from qa.sources.poller import Poller
from qa.storage.collection import Collection
from tests.news_site import NewsSite, Route, article_page, rss

LIBRARY = ["The town council voted on Tuesday to turn the old market hall into a public library.",
           "Mayor Lena Ortiz said the library would open next spring with 40,000 books."]
FERRY = ["A new electric ferry started service across the lake on Monday, carrying 300 passengers a trip.",
         "The operator said the crossing now takes twelve minutes instead of twenty."]
MARKET = ["The farmers market moves to the station square from January, the council announced.",
          "Stallholders welcomed the move because the square has more parking."]
LATER = "in the future"  # a poll "now + a day" finds every feed due again


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as server:
        server.routes.update({
            "/library": Route(article_page("Market hall to become library", LIBRARY, date="2026-11-24")),
            "/ferry": Route(article_page("Electric ferry starts service", FERRY, date="2026-11-30")),
            "/market": Route(article_page("Farmers market moves", MARKET, date="2026-12-01")),
        })
        server.routes["/rss.xml"] = Route(rss(server.base, [("/library", "Market hall to become library",
                                                             "Tue, 24 Nov 2026 08:00:00 GMT"),
                                                            ("/ferry", "Electric ferry starts service",
                                                             "Mon, 30 Nov 2026 08:00:00 GMT")]),
                                          content_type="application/rss+xml")
        yield server


@pytest.fixture
def web_config(config: Config) -> Config:
    return dataclasses.replace(config, allow_private_urls=True, fetch_host_interval_s=0.0, fetch_timeout_s=2.0)


def atom(base: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news'
            f'</title><id>{base}/atom</id><updated>2026-12-01T08:00:00Z</updated><entry><title>Farmers market '
            f'moves</title><link href="{base}/market"/><id>tag:market</id><updated>2026-12-01T08:00:00Z</updated>'
            "</entry></feed>").encode()


def json_feed(base: str) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "JSON news", "items": [
        {"id": "ferry", "url": f"{base}/ferry", "title": "Electric ferry", "date_published": "2026-11-30T08:00:00Z"},
    ]}).encode()


def news_sitemap(base: str) -> bytes:
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>{base}/library</loc>'
            "<news:news><news:publication><news:name>Local Gazette</news:name><news:language>en</news:language>"
            "</news:publication><news:publication_date>2026-11-24T08:00:00Z</news:publication_date>"
            "<news:title>Market hall to become library</news:title></news:news></url></urlset>").encode()


def poll_later(poller: Poller):  # type: ignore[no-untyped-def]
    return poller.poll_due(utc_now() + dt.timedelta(days=1))


@pytest.mark.parametrize(("path", "body", "kind", "page"), [
    ("/rss.xml", None, "application/rss+xml", "/ferry"),
    ("/atom.xml", atom, "application/atom+xml", "/market"),
    ("/feed.json", json_feed, "application/feed+json", "/ferry"),
    ("/news-sitemap.xml", news_sitemap, "application/xml", "/library"),
])
def test_each_kind_of_feed_brings_its_articles(site: NewsSite, web_config: Config, path: str, body, kind: str,
                                               page: str) -> None:
    if body is not None:
        site.routes[path] = Route(body(site.base), content_type=kind)
    store = FeedStore(web_config.data_dir)
    feed, new = follow(store, web_config, site.url(path), 900)
    assert new and feed.url == site.url(path)
    report = Poller(Collection(web_config), store).poll_due()
    assert report.errors == [] and site.hits[page] == 1
    polled = store.feed(feed.id)
    assert polled is not None and polled.new_articles >= 1 and polled.items_seen >= 1 and polled.last_poll


def test_a_home_page_leads_to_its_feed(site: NewsSite, web_config: Config) -> None:
    site.routes["/"] = Route(b'<html><head><link rel="alternate" type="application/rss+xml" title="News" '
                             b'href="/rss.xml"></head><body><p>Welcome</p></body></html>')
    feed, _ = follow(FeedStore(web_config.data_dir), web_config, site.url("/"), 900)
    assert feed.url == site.url("/rss.xml")


def test_a_page_that_is_no_feed_is_refused_with_the_reason(site: NewsSite, web_config: Config) -> None:
    with pytest.raises(FeedError, match="not an RSS, Atom or JSON feed"):
        follow(FeedStore(web_config.data_dir), web_config, site.url("/library"), 900)
    with pytest.raises(FeedError, match="HTTP 404"):
        follow(FeedStore(web_config.data_dir), web_config, site.url("/nothing.xml"), 900)


def test_intervals_are_read_and_bounded(web_config: Config) -> None:
    assert parse_every("15m", web_config) == 900 and parse_every("2h", web_config) == 7200
    assert parse_every(None, web_config) == web_config.feed_every_s
    with pytest.raises(FeedError, match="too often"):
        parse_every("5s", web_config)
    with pytest.raises(FeedError, match="no interval"):
        parse_every("soon", web_config)


def test_a_second_poll_fetches_nothing_unchanged(site: NewsSite, web_config: Config) -> None:
    store = FeedStore(web_config.data_dir)
    follow(store, web_config, site.url("/rss.xml"), 900)
    poller = Poller(Collection(web_config), store)
    first = poller.poll_due()
    assert sum(f.added for f in first.feeds) == 2
    assert poller.poll_due().feeds == []  # nothing due yet
    second = poll_later(poller)
    assert second.feeds[0].not_modified  # a 304 to the conditional GET
    assert (site.hits["/library"], site.hits["/ferry"]) == (1, 1)
    # The feed changes (a new entry) but its old entries do not: only the new page is fetched.
    site.routes["/rss.xml"] = Route(rss(site.base, [("/market", "Farmers market moves",
                                                     "Tue, 01 Dec 2026 08:00:00 GMT"),
                                                    ("/library", "Market hall to become library",
                                                     "Tue, 24 Nov 2026 08:00:00 GMT"),
                                                    ("/ferry", "Electric ferry starts service",
                                                     "Mon, 30 Nov 2026 08:00:00 GMT")]))
    third = poll_later(poller)
    assert (third.feeds[0].fetched, third.feeds[0].skipped, third.feeds[0].added) == (1, 2, 1)
    assert (site.hits["/library"], site.hits["/ferry"], site.hits["/market"]) == (1, 1, 1)


def test_a_failing_feed_backs_off_and_the_others_go_on(site: NewsSite, web_config: Config) -> None:
    store = FeedStore(web_config.data_dir)
    follow(store, web_config, site.url("/rss.xml"), 900)
    site.routes["/atom.xml"] = Route(atom(site.base), content_type="application/atom+xml")
    broken, _ = follow(store, web_config, site.url("/atom.xml"), 900)
    site.routes["/atom.xml"] = Route(b"down", status=500)
    site.routes["/ferry"] = Route(b"gone", status=404)  # one page of the good feed fails too
    report = Poller(Collection(web_config), store).poll_due()
    assert (site.url("/atom.xml"), "HTTP 500 Internal Server Error") in report.errors
    assert (site.url("/ferry"), "HTTP 404 Not Found") in report.errors
    assert sum(f.added for f in report.feeds) == 1  # the library page of the good feed
    failed = store.feed(broken.id)
    assert failed is not None and failed.failures == 1 and failed.last_error == "HTTP 500 Internal Server Error"
    waited = parse_stamp(failed.next_poll) - parse_stamp(failed.last_poll)  # type: ignore[operator]
    assert waited == dt.timedelta(seconds=1800)  # twice the interval after one failure
    store.failed(failed, utc_now(), "again", max_backoff_s=3000)
    again = store.feed(broken.id)
    assert again is not None and parse_stamp(again.next_poll) - parse_stamp(again.last_poll) == dt.timedelta(
        seconds=3000)  # type: ignore[operator]
    # The failed page was not remembered: the next poll of the good feed tries it again.
    site.routes["/ferry"] = Route(article_page("Electric ferry starts service", FERRY, date="2026-11-30"))
    retry = poll_later(Poller(Collection(web_config), store))
    assert site.hits["/ferry"] == 2 and sum(f.added for f in retry.feeds) == 1


def test_feeds_and_their_state_survive_a_restart(site: NewsSite, web_config: Config) -> None:
    store = FeedStore(web_config.data_dir)
    follow(store, web_config, site.url("/rss.xml"), 900)
    Poller(Collection(web_config), store).poll_due()
    store.close()
    reopened = FeedStore(web_config.data_dir)
    (feed,) = reopened.feeds()
    assert feed.etag and feed.items_seen == 2 and reopened.due(utc_now()) == []


def test_the_feeds_commands(site: NewsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("QA_FETCH_HOST_INTERVAL_S", "0")
    qa = ["--data-dir", str(tmp_path / "d")]
    runner = CliRunner()
    added = runner.invoke(main, [*qa, "feeds", "add", site.url("/rss.xml"), "--every", "30m"])
    assert added.exit_code == 0 and "following [1]" in added.output and "every 30m" in added.output
    assert "too often" in runner.invoke(main, [*qa, "feeds", "add", site.url("/rss.xml"), "--every", "1s"]).output
    polled = runner.invoke(main, [*qa, "feeds", "poll"])
    assert polled.exit_code == 0 and "2 article(s) added" in polled.output
    listed = json.loads(runner.invoke(main, [*qa, "feeds", "list", "--json"]).output)
    assert listed[0]["url"] == site.url("/rss.xml") and listed[0]["new_articles"] == 2
    assert "feeds:      1 followed, last polled" in runner.invoke(main, [*qa, "stats"]).output
    site.routes["/rss.xml"] = Route(b"down", status=500)
    failing = runner.invoke(main, [*qa, "feeds", "poll"])
    assert failing.exit_code == 0  # nothing due yet
    removed = runner.invoke(main, [*qa, "feeds", "remove", "1"])
    assert removed.exit_code == 0 and "no longer following" in removed.output
    missing = runner.invoke(main, [*qa, "feeds", "remove", site.url("/rss.xml")])
    assert missing.exit_code == 1 and "no followed feed" in missing.output


def test_end_to_end_a_polled_article_is_cited_and_its_change_changes_the_answer(site: NewsSite,
                                                                                web_config: Config) -> None:
    assistant = Assistant(web_config)
    store = FeedStore(web_config.data_dir)
    follow(store, web_config, site.url("/rss.xml"), 900)
    poller = Poller(assistant.collection, store)
    assert poller.poll_due().errors == []
    question = "What will the old market hall become?"
    answer = assistant.ask(question, as_of="2026-11-27")  # the week the library story came out
    assert not answer.abstained and "library" in answer.text
    cited = answer.citations[0]
    assert (cited.url, cited.date, cited.source) == (site.url("/library"), "2026-11-24", "Local Gazette")
    assert poll_later(poller).feeds[0].not_modified and site.hits["/library"] == 1
    # The story is corrected; its feed entry says so with a new date.
    site.routes["/library"] = Route(article_page("Market hall to become concert venue", [
        "The town council voted on Tuesday to turn the old market hall into a concert venue.",
        "Mayor Lena Ortiz said the venue would open next spring with 900 seats."], date="2026-11-24"))
    site.routes["/rss.xml"] = Route(rss(site.base, [("/library", "Market hall to become concert venue",
                                                     "Wed, 25 Nov 2026 08:00:00 GMT"),
                                                    ("/ferry", "Electric ferry starts service",
                                                     "Mon, 30 Nov 2026 08:00:00 GMT")]))
    changed = poll_later(poller)
    assert (changed.feeds[0].updated, changed.feeds[0].fetched, site.hits["/ferry"]) == (1, 1, 1)
    corrected = assistant.ask(question, as_of="2026-11-27")
    assert "concert venue" in corrected.text and "library" not in corrected.text
    assert assistant.collection.store.article_count() == 2


# --- the REST API and the page's header, on a live app ---------------------------------------------------------
USER, PASSWORD = "ann", "right-pass"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The app (with a login) and the news site; yields (authenticated client, site)."""
    import httpx

    import app
    from tests.conftest import _free_port

    root = tmp_path_factory.mktemp("feeds-api")
    config = Config.load(env={"QA_AUTH": f"{USER}:{PASSWORD}", "QA_ALLOW_PRIVATE_URLS": "1",
                              "QA_FETCH_HOST_INTERVAL_S": "0"}, data_dir=root / "data", port=_free_port())
    assistant = Assistant(config)
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    with NewsSite() as site, httpx.Client(base_url=f"http://127.0.0.1:{config.port}", auth=(USER, PASSWORD),
                                          timeout=60) as client:
        site.routes["/library"] = Route(article_page("Market hall to become library", LIBRARY, date="2026-11-24"))
        site.routes["/rss.xml"] = Route(rss(site.base, [("/library", "Market hall to become library",
                                                         "Tue, 24 Nov 2026 08:00:00 GMT")]))
        yield client, site, assistant
    web.close()
    assistant.collection.close()


def test_api_feed_routes_need_credentials(live) -> None:  # type: ignore[no-untyped-def]
    import httpx

    client, _, _ = live
    anonymous = httpx.Client(base_url=str(client.base_url), timeout=30)
    for method, path in [("GET", "/api/feeds"), ("POST", "/api/feeds"), ("DELETE", "/api/feeds/1")]:
        assert anonymous.request(method, path, json={"url": "x"} if method == "POST" else None).status_code == 401


def test_api_adds_a_link_and_follows_a_feed(live) -> None:  # type: ignore[no-untyped-def]
    client, site, assistant = live
    added = client.post("/api/articles", json={"url": site.url("/library")})
    assert added.status_code == 200, added.text
    assert added.json()["added"] == ["Market hall to become library"] and added.json()["doc_id"].startswith("web-")
    refused = client.post("/api/articles", json={"url": site.url("/nothing")})
    assert refused.status_code == 400 and "HTTP 404" in refused.json()["error"]
    assert client.post("/api/articles", json={"url": "file:///etc/passwd"}).status_code == 400
    assert client.post("/api/articles", json={"url": "http://x/" + "a" * 3000}).status_code == 400
    bad = client.post("/api/feeds", json={"url": site.url("/library")})
    assert bad.status_code == 400 and "not an RSS" in bad.json()["error"]
    assert client.post("/api/feeds", json={"url": site.url("/rss.xml"), "every": "1s"}).status_code == 400
    followed = client.post("/api/feeds", json={"url": site.url("/rss.xml"), "every": "30m"})
    assert followed.status_code == 201 and followed.json()["new"] and followed.json()["feed"]["every_s"] == 1800
    Poller(assistant.collection, FeedStore(assistant.config.data_dir)).poll_due()
    listed = client.get("/api/feeds").json()
    assert listed["feeds"][0]["items_seen"] == 1
    assert listed["freshness"].startswith("newest article 2026-11-24 · 1 feed, last polled")
    feed_id = listed["feeds"][0]["id"]
    assert client.delete(f"/api/feeds/{feed_id}").status_code == 200
    assert client.delete(f"/api/feeds/{feed_id}").status_code == 404
    assert client.get("/api/feeds").json()["feeds"] == []


def test_the_header_shows_how_current_the_collection_is(tmp_path: Path) -> None:
    from qa.interfaces.ui import render
    from qa.sources.freshness import freshness
    from qa.storage.collection import Stats

    store = FeedStore(tmp_path)
    store.add("https://example.org/<b>feed", 900, 10)
    (feed,) = store.feeds()
    store.polled(feed, utc_now() - dt.timedelta(minutes=4), etag=None, last_modified=None, title=None,
                 new_articles=0)
    line = freshness("2026-12-01", store.feeds(), utc_now())
    assert line == "newest article 2026-12-01 · 1 feed, last polled 4 min ago"
    html = render.header(Stats(1, 1, "2026-12-01", "2026-12-01", [], "m", "flat"), Config.load(env={}),
                         line + " <script>")
    assert "last polled 4 min ago &lt;script&gt;" in html


def test_the_app_polls_due_feeds_in_the_background(site: NewsSite, web_config: Config) -> None:
    import time

    from qa.sources.poller import BackgroundPoller

    store = FeedStore(web_config.data_dir)
    follow(store, web_config, site.url("/rss.xml"), 900)
    collection = Collection(dataclasses.replace(web_config, poll_check_s=0.2))
    poller = BackgroundPoller(collection, store)
    poller.start()
    try:
        deadline = time.monotonic() + 120
        while store.feeds()[0].last_poll is None and time.monotonic() < deadline:  # set after the ingest
            time.sleep(0.2)
    finally:
        poller.stop()
    assert collection.store.article_count() == 2
    (feed,) = store.feeds()
    assert feed.last_poll is not None and feed.new_articles == 2
    assert (site.hits["/library"], site.hits["/ferry"]) == (1, 1)  # later rounds found nothing due
