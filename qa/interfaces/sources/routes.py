"""The REST API's web routes, mounted by :mod:`qa.interfaces.ui.api` under the same auth as every route:

    POST   /api/articles        JSON {"url"}: the page fetched, extracted and ingested (:func:`add_link`)
    GET    /api/feeds           the followed feeds, their state, and how current the collection is
    POST   /api/feeds           {"url", "every"?}: follow a feed (or the feed a home page names)
    DELETE /api/feeds/{id}      stop following it (its articles stay)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from qa.config import Config
from qa.sources.feed_store import FeedStore, utc_now
from qa.sources.fetch import MAX_URL_CHARS
from qa.sources.freshness import freshness
from qa.sources.links import ingest_links
from qa.storage.collection import Collection


class LinkRequest(BaseModel):
    """A link to add as an article."""

    url: str = Field(max_length=MAX_URL_CHARS, description="an http(s) link to a news article, PDF or text file")


class FeedRequest(BaseModel):
    """A feed to follow."""

    url: str = Field(max_length=MAX_URL_CHARS, description="a feed, sitemap, or a home page that names its feed")
    every: str | None = Field(None, max_length=20, description="how often to poll it: 90s, 15m, 2h, 1d")


def add_link(collection: Collection, payload: dict[str, Any]) -> dict[str, Any]:
    """Fetches and ingests ``{"url"}`` (blocking: call it off the event loop); 400 naming the URL and the
    reason when the link is refused or gives no article."""
    try:
        request = LinkRequest.model_validate(payload)
    except ValueError as error:
        raise HTTPException(400, f"not a link: {' '.join(str(error).split())[:300]}") from error
    report = ingest_links(collection, [request.url])
    if report.failed and not report.ingest.added and not report.ingest.updated and not report.ingest.unchanged:
        raise HTTPException(400, "; ".join(f"{url}: {reason}" for url, reason in report.failed))
    ingest = report.ingest
    return {"summary": report.summary(), "doc_id": report.articles.get(request.url), "added": ingest.added,
            "updated": ingest.updated, "unchanged": ingest.unchanged, "duplicates": ingest.duplicates,
            "failed": [{"url": url, "reason": reason} for url, reason in report.failed]}


def feed_routes(api: FastAPI, collection: Collection, config: Config) -> None:
    """Adds the ``/feeds`` routes to ``api``."""
    store = FeedStore(config.data_dir)

    @api.get("/feeds", summary="The followed feeds, their state, and how current the collection is")
    def list_feeds() -> Any:
        followed = store.feeds()
        return {"feeds": [f.as_json() for f in followed],
                "freshness": freshness(collection.stats().last_date, followed, utc_now())}

    @api.post("/feeds", summary="Follow a feed, sitemap, or the feed a home page names", status_code=201)
    async def add_feed(body: FeedRequest) -> Any:
        from qa.sources.following import FeedError, follow, parse_every

        def work() -> Any:
            try:
                feed, new = follow(store, config, body.url, parse_every(body.every, config))
            except FeedError as error:
                raise HTTPException(400, str(error)) from error
            return {"feed": feed.as_json(), "new": new}

        return await run_in_threadpool(work)

    @api.delete("/feeds/{feed_id}", summary="Stop following a feed (its articles stay)")
    def remove_feed(feed_id: int) -> Any:
        feed = store.feed(feed_id)
        if feed is None:
            raise HTTPException(404, f"no followed feed has the id {feed_id}")
        store.remove(feed.id)
        return {"removed": feed.as_json()}
