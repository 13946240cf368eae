"""A link is an article: fetched safely (only public http(s) unless allowed; bounded in time, size and
redirects; robots.txt and a per-host pace honoured), extracted without menus, related links or comments,
and ingested under an id that follows its canonical URL. Against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.config import Config
from qa.interfaces.cli import main
from qa.sources.extract import url_id
from qa.sources.fetch import Fetcher, FetchError, checked_url
from qa.sources.links import ingest_links
from qa.storage.collection import Collection
from tests.news_site import COMMENT, MENU, RELATED, NewsSite, Route, article_page
from tests.test_articles import make_pdf

COUNCIL = ["The town council voted on Tuesday to turn the old market hall into a public library.",
           "Mayor Lena Ortiz said the library would open next spring with 40,000 books.",
           "The conversion will cost 4.2 million euros, paid from the regional culture fund."]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as server:
        yield server


@pytest.fixture
def web_config(config: Config) -> Config:
    """The test config with local links allowed (the server is on 127.0.0.1) and no pause between requests."""
    return dataclasses.replace(config, allow_private_urls=True, fetch_host_interval_s=0.0)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/a", "http://localhost/a", "http://[::1]/a",
                                 "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://0.0.0.0/"])
def test_non_public_hosts_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match=r"non-public address.*QA_ALLOW_PRIVATE_URLS"):
        checked_url(url, allow_private=False)


@pytest.mark.parametrize(("url", "why"), [("file:///etc/passwd", "only http and https"),
                                          ("ftp://example.org/a", "only http and https"),
                                          ("http://user:secret@example.org/", "user name or password"),
                                          ("http:///nohost", "names no host")])
def test_other_links_are_refused(url: str, why: str) -> None:
    with pytest.raises(FetchError, match=why):
        checked_url(url, allow_private=True)


def test_cli_refuses_a_local_link_and_says_why(site: NewsSite, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_ALLOW_PRIVATE_URLS", raising=False)
    site.routes["/a"] = Route(article_page("Council", COUNCIL))
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "ingest", site.url("/a")])
    assert result.exit_code == 1
    assert "127.0.0.1" in result.output and "non-public address" in result.output
    assert "QA_ALLOW_PRIVATE_URLS=1" in result.output
    assert site.hits["/a"] == 0  # refused before any request


def test_cli_ingests_a_link_when_private_links_are_allowed(site: NewsSite, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("QA_FETCH_HOST_INTERVAL_S", "0")
    site.routes["/a"] = Route(article_page("Council turns market hall into library", COUNCIL))
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "ingest", site.url("/a")])
    assert result.exit_code == 0, result.output
    assert "added     Council turns market hall into library" in result.output


def test_page_becomes_a_clean_article_with_its_metadata(site: NewsSite, web_config: Config) -> None:
    site.routes["/news/council?utm=x"] = Route(article_page("Council turns market hall into library", COUNCIL,
                                                            canonical=site.url("/news/council")))
    collection = Collection(web_config)
    report = ingest_links(collection, [site.url("/news/council?utm=x")])
    assert report.failed == [] and report.ingest.added == ["Council turns market hall into library"]
    article = collection.store.article(url_id(site.url("/news/council")))
    assert article is not None
    assert article.url == site.url("/news/council")  # the canonical URL, not the tracking one
    assert (article.date, article.source, article.author) == ("2026-12-01", "Local Gazette", "Ann Reporter")
    for sentence in COUNCIL:
        assert sentence in article.text
    for boilerplate in (MENU.split()[1], RELATED, COMMENT, "Cookie settings"):
        assert boilerplate not in article.text
    assert (web_config.data_dir / "web" / f"{article.id}.json").exists()  # kept for restarts and `qa rebuild`


def test_fetching_again_updates_the_article_instead_of_adding_a_copy(site: NewsSite, web_config: Config) -> None:
    site.routes["/a"] = Route(article_page("Council vote", COUNCIL))
    collection = Collection(web_config)
    ingest_links(collection, [site.url("/a")])
    again = ingest_links(collection, [site.url("/a")])
    assert again.ingest.unchanged == ["Council vote"] and again.ingest.chunks_embedded == 0
    site.routes["/a"] = Route(article_page("Council vote", [*COUNCIL[:2], "The cost is now 5 million euros."]))
    changed = ingest_links(collection, [site.url("/a")])
    assert changed.ingest.updated == ["Council vote"]
    assert collection.store.article_count() == 1
    article = collection.store.article(url_id(site.url("/a")))
    assert article is not None and "5 million euros" in article.text and "4.2 million" not in article.text


def test_a_canonical_url_on_another_host_is_not_believed(site: NewsSite, web_config: Config) -> None:
    site.routes["/copy"] = Route(article_page("Council", COUNCIL, canonical="https://other.example/story"))
    report = ingest_links(Collection(web_config), [site.url("/copy")])
    assert report.articles == {site.url("/copy"): url_id(site.url("/copy"))}


def test_each_failure_is_reported_with_its_url_and_the_rest_are_ingested(site: NewsSite, web_config: Config) -> None:
    config = dataclasses.replace(web_config, fetch_timeout_s=1.0, fetch_max_mb=1.0, fetch_max_redirects=3)
    site.routes.update({
        "/good": Route(article_page("Council vote", COUNCIL)),
        "/broken": Route(b"oops", status=500),
        "/slow": Route(article_page("Slow", COUNCIL), delay_s=3.0),
        "/huge": Route(b"<html><body><p>" + b"news " * 4_000_000 + b"</p></body></html>"),  # 20 MB
        "/huge-declared": Route(b"x" * 2_000_000, declare_length=True),
        "/loop": Route(b"", status=302, headers={"Location": "/loop2"}, validators=False),
        "/loop2": Route(b"", status=302, headers={"Location": "/loop"}, validators=False),
        "/image": Route(b"\x89PNG....", content_type="image/png"),
        "/empty": Route(b"<html><body><img src=\"/photo.jpg\" alt=\"\"></body></html>"),
    })
    names = ["/missing", "/broken", "/slow", "/huge", "/huge-declared", "/loop", "/image", "/empty", "/good"]
    started = time.monotonic()
    report = ingest_links(Collection(config), [site.url(n) for n in names])
    reasons = dict(report.failed)
    assert report.ingest.added == ["Council vote"]
    assert reasons[site.url("/missing")] == "HTTP 404 Not Found"
    assert reasons[site.url("/broken")] == "HTTP 500 Internal Server Error"
    assert "timeout" in reasons[site.url("/slow")]
    assert "over the 1 MB limit" in reasons[site.url("/huge")]
    assert "over the 1 MB limit" in reasons[site.url("/huge-declared")]
    assert "more than 3 redirects" in reasons[site.url("/loop")]
    assert "image/png" in reasons[site.url("/image")]
    assert "no article text" in reasons[site.url("/empty")]
    assert time.monotonic() - started < 10  # the slow page cost one timeout, not its whole delay each time


def test_a_pdf_link_goes_through_the_pdf_reader(site: NewsSite, web_config: Config) -> None:
    site.routes["/report.pdf"] = Route(make_pdf(["Annual budget report", *COUNCIL]),
                                       content_type="application/pdf")
    collection = Collection(web_config)
    report = ingest_links(collection, [site.url("/report.pdf")])
    article = collection.store.article(report.articles[site.url("/report.pdf")])
    assert article is not None and "market hall" in article.text and article.url == site.url("/report.pdf")


def test_a_plain_text_link_is_read_like_a_text_file(site: NewsSite, web_config: Config) -> None:
    site.routes["/notes.txt"] = Route(("Council notes\n\n" + " ".join(COUNCIL)).encode(),
                                      content_type="text/plain; charset=utf-8")
    collection = Collection(web_config)
    report = ingest_links(collection, [site.url("/notes.txt")])
    article = collection.store.article(report.articles[site.url("/notes.txt")])
    assert article is not None and article.title == "Council notes"


@pytest.mark.parametrize(("declared", "encoding"), [("utf-8", "cp1252"), ("iso-8859-1", "utf-8")])
def test_a_wrong_declared_charset_still_reads_right(site: NewsSite, web_config: Config, declared: str,
                                                    encoding: str) -> None:
    words = ["The café on the Bahnhofstraße reopened on Monday after a two-year renovation by the owners.",
             "Its façade was restored and the crème brûlée is back on the menu, the owner said."]
    page = article_page("Café reopens", words).replace(b'<meta charset="utf-8">', b"")
    site.routes["/cafe"] = Route(page.decode().encode(encoding), content_type=f"text/html; charset={declared}")
    collection = Collection(web_config)
    report = ingest_links(collection, [site.url("/cafe")])
    article = collection.store.article(report.articles[site.url("/cafe")])
    assert article is not None and "Bahnhofstraße" in article.text and "crème brûlée" in article.text


def test_robots_txt_is_honoured(site: NewsSite, web_config: Config) -> None:
    site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.routes["/private/a"] = Route(article_page("Secret", COUNCIL))
    report = ingest_links(Collection(web_config), [site.url("/private/a")])
    assert report.failed == [(site.url("/private/a"), "the site's robots.txt does not allow fetching this page")]
    assert site.hits["/private/a"] == 0


def test_requests_to_one_host_are_paced(site: NewsSite, web_config: Config) -> None:
    site.routes["/a"] = Route(b"a", content_type="text/plain")
    with Fetcher(dataclasses.replace(web_config, fetch_host_interval_s=0.4)) as fetcher:
        started = time.monotonic()
        for _ in range(3):
            fetcher.get(site.url("/a"))  # robots.txt (a 404) first, then three pages: four turns
        assert time.monotonic() - started >= 3 * 0.4 - 0.05
    assert site.hits["/robots.txt"] == 1  # asked once per host


def test_the_user_agent_is_sent(site: NewsSite, web_config: Config) -> None:
    seen: list[str] = []
    site.routes["/a"] = Route(b"a", content_type="text/plain")
    with Fetcher(web_config) as fetcher:
        fetcher.client.event_hooks["request"] = [lambda request: seen.append(request.headers["user-agent"])]
        fetcher.get(site.url("/a"))
    assert seen and all(agent == web_config.fetch_user_agent for agent in seen)


def test_a_robots_txt_behind_a_login_forbids_the_site(site: NewsSite, web_config: Config) -> None:
    site.routes["/robots.txt"] = Route(b"no", status=403)
    site.routes["/a"] = Route(article_page("Council", COUNCIL))
    report = ingest_links(Collection(web_config), [site.url("/a")])
    assert report.failed == [(site.url("/a"), "the site's robots.txt does not allow fetching this page")]


def test_cli_takes_paths_and_links_together(site: NewsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("QA_FETCH_HOST_INTERVAL_S", "0")
    site.routes["/a"] = Route(article_page("Council turns market hall into library", COUNCIL))
    note = tmp_path / "ferry.txt"
    note.write_text("Electric ferry starts service\n\nA new electric ferry started service across the lake on "
                    "Monday, carrying 300 passengers a trip.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "d"), "ingest", site.url("/a"), str(note),
                                       site.url("/missing")])
    assert result.exit_code == 0, result.output
    assert "added     Council turns market hall into library" in result.output
    assert "added     Electric ferry starts service" in result.output
    assert f"failed    {site.url('/missing')}: HTTP 404 Not Found" in result.output


def test_a_connection_that_lands_on_a_private_address_is_refused(site: NewsSite, web_config: Config) -> None:
    """A name that resolved to a public address when checked but connects to a private one (DNS rebinding):
    the answer is refused before its body is read."""
    site.routes["/a"] = Route(article_page("Council", COUNCIL))
    with Fetcher(dataclasses.replace(web_config, allow_private_urls=False)) as fetcher, \
            pytest.raises(FetchError, match=r"the connection went to 127\.0\.0\.1, a private, loopback"):
        fetcher._request(site.url("/a"), {})  # the request as it is sent once the URL has passed its check

