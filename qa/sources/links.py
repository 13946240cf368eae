"""Links -> articles: each page fetched, its article extracted and stored as a JSON record under
``<data_dir>/web/`` (named after its canonical URL, so a restart or `qa rebuild` keeps it and a later fetch
replaces it), then all of them ingested through the collection's single writer in one run."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.config import Config
from qa.ingest.pipeline import Ingestor, IngestReport, ProgressCallback
from qa.storage.collection import Collection

from .extract import WebArticle, extract
from .fetch import Fetcher, FetchError

log = logging.getLogger(__name__)

WEB_FOLDER = "web"  # under the data dir: one JSON record per fetched page
EMBED_SLICE = 8  # embedding slices: a question asked meanwhile waits for one slice, not for the whole run


def web_dir(data_dir: Path) -> Path:
    """The folder fetched pages are stored in."""
    return data_dir / WEB_FOLDER


def is_url(text: str) -> bool:
    """True when ``text`` is meant as a web link (http:// or https://) rather than a path."""
    return text.strip().lower().startswith(("http://", "https://"))


@dataclass
class LinkReport:
    """What fetching links did: the ingest report, each page's article id, and each failure with its URL."""

    ingest: IngestReport = field(default_factory=IngestReport)
    articles: dict[str, str] = field(default_factory=dict)  # the URL as given -> the article id
    failed: list[tuple[str, str]] = field(default_factory=list)  # (URL, reason)

    def summary(self) -> str:
        """One line: pages fetched and failed, then the ingest's counts."""
        return f"{len(self.articles)} page(s) fetched, {len(self.failed)} failed; {self.ingest.summary()}"


def fetch_article(fetcher: Fetcher, url: str, folder: Path,
                  fallback_date: str | None = None) -> tuple[WebArticle, Path]:
    """Fetches and extracts one page and stores its record in ``folder``; FetchError naming the URL and why.
    ``fallback_date`` (a feed entry's date) is the article's date when the page gives none."""
    page = fetcher.get(url)
    article = extract(page, folder, fetcher.max_bytes)
    if fallback_date and not article.date:
        article = replace(article, date=fallback_date)
    return article, store_record(folder, article)


def store_record(folder: Path, article: WebArticle) -> Path:
    """Writes the article's record as ``<id>.json`` (untouched when it is the same), atomically: an interrupted
    write leaves the previous record in place."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{article.id}.json"
    body = (json.dumps(article.record(), ensure_ascii=False) + "\n").encode("utf-8")
    if path.exists() and path.read_bytes() == body:
        return path
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".json")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def ingest_links(collection: Collection, urls: Sequence[str], fetcher: Fetcher | None = None,
                 dates: Mapping[str, str] | None = None, progress: ProgressCallback | None = None,
                 wait: bool = True) -> LinkReport:
    """Fetches every URL (one failure never stops the others) and ingests the pages in one run. ``dates``
    gives a fallback date per URL (from a feed)."""
    config: Config = collection.config
    folder = web_dir(config.data_dir)
    report = LinkReport()
    paths: dict[Path, str] = {}  # record -> the URL it was fetched from
    own = fetcher is None
    client = fetcher if fetcher is not None else Fetcher(config)
    try:
        for url in urls:
            try:
                article, path = fetch_article(client, url, folder, (dates or {}).get(url))
            except FetchError as error:
                log.warning("not fetched: %s", error)
                report.failed.append((error.url, error.reason))
                continue
            report.articles[url] = article.id
            paths.setdefault(path, url)
    finally:
        if own:
            client.close()
    if paths:
        report.ingest = Ingestor(collection, embed_batch_chunks=EMBED_SLICE, wait=wait,
                                 commit_every=config.upload_commit_chunks).ingest(list(paths), progress=progress)
        urls_of = {str(path.resolve()): url for path, url in paths.items()}
        report.failed.extend((urls_of.get(path, path), reason) for path, reason in report.ingest.failed)
    return report
