"""The ``qa`` commands for the web: ``qa ingest URL`` (through :func:`ingest_urls`) and ``qa feeds``."""

from __future__ import annotations

import json

import click

from qa.config import Config
from qa.interfaces.cli_options import CliState, fail
from qa.sources.feed_store import Feed, FeedStore
from qa.sources.freshness import interval_text


def ingest_urls(ctx: CliState, urls: list[str], wait: bool) -> None:
    """Fetches and ingests links, listing each outcome; exit 1 when no link gave an article."""
    from qa.sources.links import ingest_links
    from qa.storage.collection import Collection

    report = ingest_links(Collection(ctx.config), urls, wait=wait)
    for label, items in (("added", report.ingest.added), ("updated", report.ingest.updated),
                         ("unchanged", report.ingest.unchanged), ("duplicate", report.ingest.duplicates)):
        for item in items:
            click.echo(f"  {label:9} {item}")
    for url, reason in report.failed:
        click.secho(f"  failed    {url}: {reason}", fg="yellow", err=True)
    if not report.articles:
        fail(f"no article fetched from {len(urls)} link(s); the reasons are listed above")
    click.echo(report.summary())


def _store(config: Config) -> FeedStore:
    return FeedStore(config.data_dir)


@click.group()
def feeds() -> None:
    """Follow news feeds (RSS, Atom, JSON Feed), sitemaps and news sitemaps."""


@feeds.command(name="add")
@click.argument("url")
@click.option("--every", metavar="INTERVAL", help="How often to poll it: 90s, 15m, 2h, 1d [env QA_FEED_EVERY_S, "
                                                   "default 15m].")
@click.pass_obj
def add(ctx: CliState, url: str, every: str | None) -> None:
    """Follow the feed or sitemap at URL (a home page that names its feed works too)."""
    from qa.sources.following import FeedError, follow, parse_every

    store = _store(ctx.config)
    try:
        feed, new = follow(store, ctx.config, url, parse_every(every, ctx.config))
    except FeedError as error:
        fail(error)
    click.echo(f"{'following' if new else 'already following'} [{feed.id}] {feed.url}"
               f"{f' ({feed.title})' if feed.title else ''}, every {interval_text(feed.every_s)}; "
               "`qa feeds poll` fetches it")


@feeds.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of the feeds and their state.")
@click.pass_obj
def list_feeds(ctx: CliState, as_json: bool) -> None:
    """The followed feeds and their state."""
    followed = _store(ctx.config).feeds()
    if as_json:
        click.echo(json.dumps([f.as_json() for f in followed], ensure_ascii=False, indent=1))
        return
    if not followed:
        click.echo("no feeds followed (`qa feeds add URL`)")
    for feed in followed:
        click.echo(describe(feed))


def describe(feed: Feed) -> str:
    """One line about a feed for the terminal."""
    state = f"failed {feed.failures}x: {feed.last_error}" if feed.failures else "ok"
    return (f"[{feed.id}] {feed.url}  every {interval_text(feed.every_s)}, "
            f"last poll {feed.last_poll or 'never'}, next {feed.next_poll}, {feed.items_seen} items seen, "
            f"{feed.new_articles} new articles, {state}")



@feeds.command(name="remove")
@click.argument("feed")
@click.pass_obj
def remove(ctx: CliState, feed: str) -> None:
    """Stop following a feed (by URL or id); the articles it brought stay."""
    from qa.sources.following import FeedError, find

    store = _store(ctx.config)
    try:
        found = find(store, feed)
    except FeedError as error:
        fail(error)
    store.remove(found.id)
    click.echo(f"no longer following [{found.id}] {found.url}")


@feeds.command(name="poll")
@click.pass_obj
def poll(ctx: CliState) -> None:
    """Poll every due feed once, then exit (for cron); exit 1 when any feed or page failed."""
    from qa.sources.poller import Poller
    from qa.storage.collection import Collection

    report = Poller(Collection(ctx.config), _store(ctx.config)).poll_due()
    for url, reason in report.errors:
        click.secho(f"  failed    {url}: {reason}", fg="yellow", err=True)
    click.echo(report.summary())
    if report.errors:
        raise SystemExit(1)


def feeds_line(config: Config) -> str:
    """`qa stats`'s line about the feeds: how many, when last polled, how many failing."""
    followed = _store(config).feeds()
    if not followed:
        return "none (`qa feeds add URL`)"
    polled = max((f.last_poll for f in followed if f.last_poll), default=None)
    failing = sum(1 for f in followed if f.failures)
    return (f"{len(followed)} followed, last polled {polled or 'never'}"
            f"{f', {failing} failing (`qa feeds list`)' if failing else ''}")
