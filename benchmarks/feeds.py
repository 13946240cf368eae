"""Following feeds at scale: 50 local RSS feeds of 20 items each (a real HTTP server on 127.0.0.1), polled
into a fresh collection; the time from `poll` to every article searchable, and the cost of a second poll when
nothing changed (every feed answers 304: issue 23's target is <= 2 s for all 50).

    python benchmarks/feeds.py                     # writes benchmarks/results/feeds.txt
    python benchmarks/feeds.py --feeds 5 --items 4 # a quick look

Each article is the opening of a newsdev article (about 120 words) with a line naming its feed and item, so
that no two are duplicates. All feeds are on one host here, so the per-host pace is set to 0 for the run
(QA_FETCH_HOST_INTERVAL_S; with the default 1 s, 1,050 requests to one host take over 17 minutes by design).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import html
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev" / "corpus.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "feeds.txt"

from qa.config import Config  # noqa: E402
from qa.retrieval.search import Retriever  # noqa: E402
from qa.sources.feed_store import FeedStore, utc_now  # noqa: E402
from qa.sources.poller import Poller  # noqa: E402
from qa.storage.collection import Collection  # noqa: E402
from tests.news_site import NewsSite, Route, article_page, rss  # noqa: E402

OPENING_WORDS = 120


def publish(site: NewsSite, feeds: int, items: int) -> list[str]:
    """Serves the feeds and their pages; returns the feeds' URLs."""
    records = [json.loads(line) for line in NEWSDEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    urls = []
    day = dt.date(2026, 12, 1)
    for f in range(feeds):
        entries = []
        for i in range(items):
            record = records[(f * items + i) % len(records)]
            opening = " ".join(record["text"].split()[:OPENING_WORDS])
            path = f"/feed{f}/item{i}"
            title = f"{record['title']} (feed {f}, item {i})"
            site.routes[path] = Route(article_page(title, [f"Desk {f} report number {i}.", opening],
                                                   date=day.isoformat()))
            entries.append((path, html.unescape(title), "Tue, 01 Dec 2026 08:00:00 GMT"))
        site.routes[f"/feed{f}.xml"] = Route(rss(site.base, entries, title=f"Desk {f}"),
                                             content_type="application/rss+xml")
        urls.append(site.url(f"/feed{f}.xml"))
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, NewsSite() as site:
        config = dataclasses.replace(Config.load(env={}, data_dir=Path(folder) / "data"), allow_private_urls=True,
                                     fetch_host_interval_s=0.0)
        urls = publish(site, args.feeds, args.items)
        store = FeedStore(config.data_dir)
        for url in urls:
            store.add(url, config.feed_every_s, config.max_feeds)
        collection = Collection(config)
        collection.encoder.encode(["warm up"])  # the model loaded first, as in a running app
        poller = Poller(collection, store)
        started = time.perf_counter()
        first = poller.poll_due()
        retriever = Retriever(collection)
        hits = retriever.search("Desk 7 report number 3", k=5)
        searchable = time.perf_counter() - started
        articles = collection.store.article_count()
        later = utc_now() + dt.timedelta(days=1)
        started = time.perf_counter()
        second = poller.poll_due(later)
        second_s = time.perf_counter() - started
        pages_fetched_again = sum(f.fetched for f in second.feeds)
    expected = args.feeds * args.items
    lines = [f"feeds benchmark: {args.feeds} local RSS feeds x {args.items} items (one 127.0.0.1 server, pace 0)",
             f"first poll: {first.summary()}",
             f"poll to all searchable: {searchable:.1f} s for {articles} of {expected} articles "
             f"({1000 * searchable / max(articles, 1):.0f} ms an article: fetch, extract, embed, index); "
             f"a search finds them: {bool(hits)}",
             f"second poll, nothing changed: {second_s:.2f} s for {len(second.feeds)} feeds (target <= 2 s), "
             f"{sum(f.not_modified for f in second.feeds)} answered 304, {pages_fetched_again} pages fetched again, "
             f"{second.requests} requests",
             f"errors: {len(first.errors) + len(second.errors)}"]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
