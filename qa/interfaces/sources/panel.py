"""The page's web parts, on the Add articles tab: an "Add a link" field and a Feeds panel (follow, list with
state, unfollow). Built inside ``app._layout``'s tab by :func:`build_web_panel`, wired by :func:`wire_web_panel`;
every text shown (titles, URLs, errors) is escaped."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from qa.assistant import Assistant
from qa.config import Config
from qa.interfaces.ui import render
from qa.sources.feed_store import Feed, FeedStore, parse_stamp, utc_now
from qa.sources.freshness import ago, freshness, interval_text
from qa.sources.links import ingest_links
from qa.text.markup import esc

log = logging.getLogger("qa.app")


@dataclass
class WebPanel:
    """The components of the link field and the Feeds panel."""

    link: gr.Textbox
    add_link_button: gr.Button
    feed_url: gr.Textbox
    feed_every: gr.Textbox
    follow_button: gr.Button
    feeds: gr.HTML
    unfollow_choice: gr.Dropdown
    unfollow_button: gr.Button


def build_web_panel(config: Config) -> WebPanel:
    """Lays the link field and the Feeds panel out where it is called (the Add articles tab)."""
    followed = _feeds(config)
    with gr.Row(equal_height=True, elem_id="qa-link-row"):
        link = gr.Textbox(label="Add a link", placeholder="https://… a news article, PDF or text page", max_lines=1,
                          scale=6, elem_id="qa-link")
        add_link_button = gr.Button("Fetch and add", variant="primary", scale=1, min_width=140, elem_id="qa-add-link")
    with gr.Accordion("Feeds", open=True, elem_id="qa-feeds-panel"):
        with gr.Row(equal_height=True):
            feed_url = gr.Textbox(label="Follow a feed", placeholder="RSS, Atom, JSON Feed, sitemap, or a home page",
                                  max_lines=1, scale=5, elem_id="qa-feed-url")
            feed_every = gr.Textbox(label="Every", value=interval_text(config.feed_every_s), max_lines=1,
                                    scale=1, min_width=90, elem_id="qa-feed-every")
            follow_button = gr.Button("Follow", variant="primary", scale=1, min_width=100, elem_id="qa-follow")
        feeds = gr.HTML(feeds_table(followed), elem_id="qa-feeds")
        with gr.Row(equal_height=True):
            unfollow_choice = gr.Dropdown(choices=_choices(followed), value=None, label="Stop following", scale=4,
                                          elem_id="qa-unfollow-choice")
            unfollow_button = gr.Button("Unfollow", variant="stop", scale=0, min_width=110, elem_id="qa-unfollow")
    return WebPanel(link, add_link_button, feed_url, feed_every, follow_button, feeds, unfollow_choice,
                    unfollow_button)


def wire_web_panel(panel: WebPanel, assistant: Assistant, config: Config, report: gr.HTML, header: gr.HTML,
                   library: Sequence[Any], library_view: Any) -> None:
    """Connects the panel's buttons; ``library`` are the components ``library_view()`` updates (the header
    among them), refreshed after each change. While feeds are polled in the background, the header and the
    feeds table are refreshed every ``poll_check_s`` too."""
    handlers = WebHandlers(panel, assistant, config, report, library_view)
    queue: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "library"}  # one writer, as for uploads
    feed_outputs = [report, panel.feeds, panel.unfollow_choice, *library]
    panel.add_link_button.click(handlers.add_link, panel.link, [report, panel.link, *library],
                                api_name="add_link", **queue)
    panel.link.submit(handlers.add_link, panel.link, [report, panel.link, *library], api_visibility="private",
                      **queue)
    panel.follow_button.click(handlers.follow, [panel.feed_url, panel.feed_every], [*feed_outputs, panel.feed_url],
                              api_name="follow_feed", **queue)
    panel.unfollow_button.click(handlers.unfollow, panel.unfollow_choice, feed_outputs, api_name="unfollow_feed",
                                **queue)
    if config.poll_check_s > 0:
        gr.Timer(config.poll_check_s).tick(lambda: handlers.polled_view(header), None, [header, panel.feeds],
                                           api_visibility="private", show_progress="hidden", queue=False)


class WebHandlers:
    """The panel's event handlers; each returns updates keyed by component."""

    def __init__(self, panel: WebPanel, assistant: Assistant, config: Config, report: gr.HTML,
                 library_view: Any) -> None:
        self.panel, self.assistant, self.config, self.report = panel, assistant, config, report
        self.library_view = library_view
        self.store = FeedStore(config.data_dir)

    def add_link(self, url: str) -> dict[Any, Any]:
        """Fetches the link and ingests its article."""
        if not (url or "").strip():
            return {self.report: render.notice("Paste a link (https://…) first.", "error")}
        links = ingest_links(self.assistant.collection, [url.strip()])
        html = render.ingest_report(links.ingest if links.articles else None, links.failed)
        return {self.report: html, self.panel.link: "" if links.articles else url, **self.library_view()}

    def follow(self, url: str, every: str) -> dict[Any, Any]:
        """Follows a feed (the background poller fetches it soon)."""
        from qa.sources.following import FeedError, follow, parse_every

        try:
            feed, new = follow(self.store, self.config, (url or "").strip(), parse_every(every, self.config))
        except FeedError as error:
            return {self.report: render.notice(str(error), "error"), **self._feeds_view()}
        said = f"Following {feed.url}" if new else f"Already following {feed.url}"
        return {self.report: render.notice(f"{said}; its articles arrive at the next poll.", "ok"),
                self.panel.feed_url: "", **self._feeds_view()}

    def unfollow(self, feed_id: int | str | None) -> dict[Any, Any]:
        """Stops following the chosen feed (its articles stay)."""
        feed = self.store.feed(str(feed_id)) if feed_id not in (None, "") else None
        if feed is None:
            return {self.report: render.notice("Choose a followed feed first.", "error"), **self._feeds_view()}
        self.store.remove(feed.id)
        return {self.report: render.notice(f"No longer following {feed.url}; its articles stay.", "ok"),
                **self._feeds_view()}

    def polled_view(self, header: gr.HTML) -> dict[Any, Any]:
        """The header and the feeds table as the background poller left them (other choices untouched)."""
        stats = self.assistant.collection.stats()
        followed = self.store.feeds()
        return {header: render.header(stats, self.config, freshness(stats.last_date, followed, utc_now())),
                self.panel.feeds: feeds_table(followed)}

    def _feeds_view(self) -> dict[Any, Any]:
        followed = self.store.feeds()
        return {self.panel.feeds: feeds_table(followed),
                self.panel.unfollow_choice: gr.Dropdown(choices=_choices(followed), value=None),
                **self.library_view()}


def header_freshness(config: Config, newest_date: str | None) -> str:
    """The header's freshness line for this data dir."""
    return freshness(newest_date, _feeds(config), utc_now())


def feeds_table(followed: Sequence[Feed]) -> str:
    """The followed feeds with their state, escaped."""
    if not followed:
        return '<div class="qa-feeds qa-empty">No feeds followed yet.</div>'
    now = utc_now()
    rows = []
    for feed in followed:
        polled = parse_stamp(feed.last_poll)
        state = (f'<span class="qa-feed-error">failing ({feed.failures}×): {esc(feed.last_error or "")}</span>'
                 if feed.failures else "ok")
        rows.append(f"<tr><td>{esc(feed.title or '')}<br><code>{esc(feed.url)}</code></td>"
                    f"<td>{esc(interval_text(feed.every_s))}</td>"
                    f"<td>{esc(ago(polled, now) if polled else 'not yet')}</td>"
                    f'<td class="qa-num-col">{feed.items_seen}</td><td class="qa-num-col">{feed.new_articles}</td>'
                    f"<td>{state}</td></tr>")
    return ('<div class="qa-feeds"><table><thead><tr><th>Feed</th><th>Every</th><th>Last poll</th>'
            '<th class="qa-num-col">Items</th><th class="qa-num-col">New articles</th><th>State</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _feeds(config: Config) -> list[Feed]:
    store = FeedStore(config.data_dir)
    try:
        return store.feeds()
    finally:
        store.close()


def _choices(followed: Sequence[Feed]) -> list[tuple[str, str]]:
    return [(f"[{f.id}] {f.title or f.url}"[:120], str(f.id)) for f in followed]

