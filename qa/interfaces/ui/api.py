"""The REST API, mounted at ``/api`` on the app's own server: the same Assistant and Library as the page.

    POST   /api/ask             {"question", "as_of"?, "history"?, "filters"?, "stream"?, "wait"?}
    GET    /api/search?q=&k=&source=&since=&until=&as_of=
    GET    /api/stats
    GET    /api/articles?offset=&limit=        GET /api/articles/{id}
    POST   /api/articles        multipart files, or JSON {"title", "text", "date"?, "source"?, "url"?}
                                or JSON {"url"} alone: the page is fetched and its article extracted
    DELETE /api/articles/{id}
    GET/POST /api/feeds, DELETE /api/feeds/{id}   followed feeds (qa.interfaces.sources.routes)
    GET    /api/docs            the routes, from /api/openapi.json (served here: no outside assets)

With a login configured (``QA_AUTH``; a token alone is refused at start), every route needs HTTP Basic
credentials of a user, or ``Authorization: Bearer <token>`` (``QA_API_TOKEN``); failures count toward the
same throttle as the login form (qa.interfaces.ui.throttle: per user from an address, and per address). Errors are
JSON ``{"error": message}`` with the fitting status. Request bodies are bounded before they are read
(:mod:`qa.interfaces.ui.limits`: 413); ``as_of`` is today unless given.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from qa.answering.followup import Turn
from qa.assistant import Assistant
from qa.ingest.pipeline import IngestReport
from qa.interfaces.export import answer_json, passage_json
from qa.interfaces.sources.routes import add_link, feed_routes
from qa.interfaces.ui.files import UploadError, UploadTooLarge
from qa.interfaces.ui.library import Added, Library
from qa.interfaces.ui.startup import Startup
from qa.interfaces.ui.throttle import ANONYMOUS, GuessThrottle
from qa.text.markup import esc, safe_url
from qa.text.questions import bound_question
from qa.text.timeframe import parse_date, today
from qa.types import SearchFilters

log = logging.getLogger(__name__)

WAIT_FOR_INDEX_S = 900.0
MAX_PAGE = 500
SQLITE_MAX_INT = 2**63 - 1  # an offset past SQLite's 64-bit integers is refused (400), not an OverflowError


class ApiError(HTTPException):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, headers)


class Exchange(BaseModel):
    """An earlier question and its answer, for follow-up questions."""

    question: str
    answer: str = ""


class Filters(BaseModel):
    """Restrict the articles searched."""

    sources: list[str] = Field(default_factory=list, description="only these sources (empty: all)")
    since: str | None = Field(None, description="only articles dated on or after YYYY-MM-DD")
    until: str | None = Field(None, description="only articles dated on or before YYYY-MM-DD")


class AskRequest(BaseModel):
    """A question, with its date and context."""

    question: str = Field(description="the question, in plain language")
    as_of: str | None = Field(None, description="the question's date, YYYY-MM-DD (default: today, the server's "
                                                "date): later articles are left out, 'this week' counts back from it")
    history: list[Exchange] = Field(default_factory=list, description="earlier exchanges, oldest first (only "
                                    "the latest few are read, each shortened when long; the notes say so)")
    filters: Filters | None = None
    stream: bool = Field(False, description="answer as server-sent events: status, delta…, answer")
    wait: bool = Field(True, description="while the index is being built, wait (else: 503)")
    explain: bool = Field(False, description="add the answer's trace: the question's facts, each candidate "
                                             "sentence with its score and checks' verdicts, and the decision")


class ArticleRequest(BaseModel):
    """An article sent as JSON."""

    title: str
    text: str
    date: str | None = None
    source: str | None = None
    url: str | None = None


def api_app(assistant: Assistant, startup: Startup, auth: list[tuple[str, str]] | None = None,
            token: str = "", throttle: GuessThrottle | None = None) -> FastAPI:
    """The API as an ASGI app to mount at ``/api``."""
    library = Library(assistant.collection, assistant.config)
    guard = _Guard(auth, token, throttle or GuessThrottle())
    api = FastAPI(title="News Q&A API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(guard)],
                  description="Ask questions about the articles and get answers with cited sentences.")
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)

    # Both served here (behind the credentials) rather than by FastAPI's defaults, which are public and whose
    # docs page loads its scripts from a CDN.
    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> Any:
        return api.openapi()

    @api.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> str:
        return _docs_page(api.openapi())

    @api.post("/ask", summary="Answer a question, with citations")
    def ask(body: AskRequest, request: Request) -> Any:
        day = _date(body.as_of, "as_of") or today()
        filters = _filters(body.filters)
        if not body.question.strip():
            raise ApiError(400, "question is empty")
        _ready(startup, body.wait)
        history = [Turn(h.question, h.answer) for h in body.history]
        if body.stream or "text/event-stream" in request.headers.get("accept", ""):
            events = assistant.stream(body.question, history, filters, as_of=day, explain=body.explain)
            return StreamingResponse(_sse(events), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return answer_json(assistant.ask(body.question, history, filters, as_of=day, explain=body.explain))

    @api.get("/search", summary="The passages that best match a query")
    def search(q: Annotated[str, Query(description="the query")],
               k: int = Query(10, ge=1, le=assistant.config.max_top_k),  # a default, not an annotation: evaluated here
               source: Annotated[list[str] | None, Query()] = None,
               since: str | None = None, until: str | None = None,
               as_of: Annotated[str | None, Query(description="YYYY-MM-DD; later articles are left out "
                                                              "(default: today)")] = None,
               wait: bool = True) -> Any:
        filters = _filters(Filters(sources=source or [], since=since, until=until))
        day = _date(as_of, "as_of") or today()
        bounded = bound_question(q)
        if not bounded.text:
            raise ApiError(400, "q is empty")
        _ready(startup, wait)
        assistant.collection.refresh()
        hits = assistant.retriever.search(bounded.text, k=k, filters=filters, as_of=day)
        return {"query": bounded.text, "notes": [bounded.note] if bounded.note else [],
                "hits": [passage_json(p) for p in hits]}

    @api.get("/stats", summary="Size of the collection")
    def stats() -> Any:
        assistant.collection.refresh()
        return {**asdict(assistant.collection.stats()), "building": not startup.ready,
                "status": startup.message() if not startup.ready else "ready"}

    @api.get("/articles", summary="The articles, newest first, a page at a time")
    def articles(offset: Annotated[int, Query(ge=0, le=SQLITE_MAX_INT)] = 0,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> Any:
        store = assistant.collection.store
        total, rows = store.article_count(), store.article_page(offset, limit)
        return {"total": total, "offset": offset, "limit": limit,
                "articles": [_article_json(row.article, row.chunks) for row in rows]}

    @api.get("/articles/{article_id}", summary="One article, with its text")
    def article(article_id: str) -> Any:
        found = assistant.collection.store.article(article_id)
        if found is None:
            raise ApiError(404, f"no article with id {article_id!r}")
        return {**_article_json(found), "text": found.text}

    @api.post("/articles", summary="Add articles: files (multipart) or one article as JSON",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {"files": {
                      "type": "array", "items": {"type": "string", "format": "binary"}}, "replace": {
                      "type": "boolean", "default": False, "description": "a file under a stored name replaces "
                      "that file (else it is added beside it); also a query parameter"}}}},
                  "application/json": {"schema": ArticleRequest.model_json_schema()}}}})
    async def add(request: Request) -> Any:
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            return await _add_files(request, library)
        if kind.startswith("application/json"):
            try:
                payload = await request.json()
                if isinstance(payload, dict) and "url" in payload and "text" not in payload:  # a link
                    return await run_in_threadpool(add_link, assistant.collection, payload)
                record = ArticleRequest.model_validate(payload)
            except ValueError as error:
                raise ApiError(400, f"not an article: {_first_line(error)}") from error
            _date(record.date, "date")
            return await _in_thread(lambda: _report_json(library.add_record(
                record.title, record.text, record.date, record.source, record.url)))
        raise ApiError(400, "send files as multipart/form-data (field 'files') or one article as JSON")

    @api.delete("/articles/{article_id}", summary="Remove an article")
    def remove(article_id: str) -> Any:
        try:
            return {"removed": library.remove(article_id)}
        except KeyError:
            raise ApiError(404, f"no article with id {article_id!r}") from None

    feed_routes(api, assistant.collection, assistant.config)
    return api


# --- authentication ---------------------------------------------------------------------------------
class _Guard:
    """The API's login check: HTTP Basic of a configured user, or the bearer token; both throttled like the
    login form, by the request's address (as ``RealClient`` decided it) and user (qa.interfaces.ui.throttle)."""

    def __init__(self, auth: list[tuple[str, str]] | None, token: str, throttle: GuessThrottle) -> None:
        self.users = dict(auth or [])
        self.token = token
        self.throttle = throttle

    def __call__(self, request: Request) -> None:
        if not self.users and not self.token:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        address = request.client.host if request.client else ANONYMOUS
        basic = _basic_user(value) if scheme == "basic" else None
        user = basic[0] if basic else None  # None for a token: it counts against the address only
        wait = self.throttle.retry_after(address, user)
        if wait:
            raise ApiError(429, f"Too many failed logins. Try again in {wait} seconds.", {"Retry-After": str(wait)})
        if scheme == "bearer" and self.token and hmac.compare_digest(value.strip().encode(), self.token.encode()):
            return
        if basic is not None and basic[0] in self.users and hmac.compare_digest(
                basic[1].encode(), self.users[basic[0]].encode()):
            self.throttle.succeeded(address, basic[0])
            return
        if scheme:  # credentials were sent, and they were wrong: a guess
            self.throttle.failed(address, user)
        raise ApiError(401, "Not authenticated: send HTTP Basic credentials of a user, or a bearer token",
                       {"WWW-Authenticate": 'Basic realm="News Q&A"'})


def _basic_user(value: str) -> tuple[str, str] | None:
    """(user, password) of HTTP Basic credentials, or None when they cannot be read."""
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


# --- helpers ----------------------------------------------------------------------------------------
def _ready(startup: Startup, wait: bool) -> None:
    """Returns once the index can be searched; 503 when it is being built and the caller would not wait."""
    if startup.ready:
        return
    if not wait or not startup.wait(WAIT_FOR_INDEX_S):
        raise ApiError(503, f"The index is being built ({startup.message()}).", {"Retry-After": "5"})


def _date(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    day = parse_date(value)
    if day is None:
        raise ApiError(400, f"{name} must be a date like 2022-06-16 (YYYY-MM-DD), not {value[:40]!r}")
    return day.isoformat()


def _filters(filters: Filters | None) -> SearchFilters | None:
    if filters is None:
        return None
    since, until = _date(filters.since, "since"), _date(filters.until, "until")
    if since and until and since > until:
        raise ApiError(400, f"since ({since}) is after until ({until})")
    result = SearchFilters(sources=tuple(s for s in filters.sources if s), since=since, until=until)
    return result if result.active else None


def _sse(events: Iterator[Any]) -> Iterator[str]:
    """Assistant events as server-sent events: ``status`` and ``delta`` lines, then one ``answer``."""
    try:
        for event in events:
            if event.answer is not None:
                yield f"event: answer\ndata: {json.dumps(answer_json(event.answer), ensure_ascii=False)}\n\n"
            else:
                yield f"event: {event.kind}\ndata: {json.dumps({'text': event.text}, ensure_ascii=False)}\n\n"
    except Exception as error:  # the stream has started: the error travels as an event
        log.exception("answering failed")
        yield f"event: error\ndata: {json.dumps({'error': str(error)[:240]})}\n\n"


def _article_json(article: Any, chunks: int | None = None) -> dict:
    out = {"doc_id": article.id, "title": article.title, "date": article.date, "source": article.source,
           "url": safe_url(article.url), "author": article.author, "license": article.license}
    if chunks is not None:
        out["chunks"] = chunks
    return out


def _report_json(report: IngestReport | None, rejected: Sequence[tuple[str, str]] = ()) -> dict:
    out: dict[str, Any] = {"summary": report.summary() if report else "nothing was ingested"}
    if report is not None:
        out.update(added=report.added, updated=report.updated, unchanged=report.unchanged,
                   duplicates=report.duplicates, truncated=report.truncated,
                   failed=[{"file": _name(p), "reason": r} for p, r in report.failed],
                   skipped=[{"file": _name(p), "reason": r} for p, r in report.skipped])
    out["rejected"] = [{"file": name, "reason": reason} for name, reason in rejected]
    return out


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]  # never the server's folders


async def _add_files(request: Request, library: Library) -> dict:
    """Stores the multipart ``files`` (copied into this process's temp folder under the data dir, under
    generated names: a client's name never reaches the file system here) and ingests them; ``replace``
    (a form field or query parameter) lets a file replace a different one stored under its name."""
    most = library.config.max_upload_files
    limit = library.config.max_upload_mb * 1024 * 1024
    length = int(request.headers.get("content-length") or 0)
    if length > limit * most + 65536:
        raise ApiError(413, f"the upload is over the limit of {most} files of {library.config.max_upload_mb:g} MB")
    try:
        form = await request.form(max_files=most)
    except HTTPException as error:  # Starlette's words name its own count; these name the real limit
        too_many = "Maximum number of files" in str(error.detail)
        raise ApiError(400, f"too many files: at most {most} are accepted per upload" if too_many
                       else f"not a readable multipart upload: {error.detail}") from error
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not uploads:
        raise ApiError(400, "no files: send them as multipart/form-data in the field 'files'")
    replace = _flag(form.get("replace") or request.query_params.get("replace"), "replace")
    with tempfile.TemporaryDirectory(prefix="qa-api-", dir=library.temp) as folder:
        paths = [Path(folder) / f"upload-{number}" for number in range(len(uploads))]
        for upload, path in zip(uploads, paths):
            with open(path, "wb") as out:
                while block := await upload.read(1 << 20):
                    out.write(block)
        names = [upload.filename or "upload" for upload in uploads]
        added: Added = await _in_thread(lambda: library.add_files(paths, names=names, replace=replace))
    if added.report is None:
        raise ApiError(400, "; ".join(f"{name}: {reason}" for name, reason in added.rejected))
    return {**_report_json(added.report, added.rejected), "notes": added.notes,
            "stored": [{"file": s.shown, "stored_as": s.name, "outcome": s.outcome} for s in added.stored]}


def _flag(value: object, name: str) -> bool:
    """A true/false form field or query parameter (absent: false); 400 for anything else."""
    text = str(value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ApiError(400, f"{name} must be true or false, not {text[:20]!r}")


async def _in_thread(work: Any) -> Any:
    """Runs blocking library work off the event loop; upload errors become 413 / 400."""
    try:
        return await run_in_threadpool(work)
    except UploadTooLarge as error:
        raise ApiError(413, str(error)) from error
    except UploadError as error:
        raise ApiError(400, str(error)) from error


def _first_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
                         for e in error.errors())
    return JSONResponse({"error": f"bad request: {problems}"}, status_code=400)


def _docs_page(schema: dict) -> str:
    """The OpenAPI schema as one plain page: every route, its summary and parameters."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, spec in methods.items():
            params = ", ".join(esc(p["name"]) for p in spec.get("parameters", []))
            body = " · JSON body" if "requestBody" in spec else ""
            rows.append(f"<tr><td><code>{esc(method.upper())}</code></td><td><code>/api{esc(path)}</code></td>"
                        f"<td>{esc(spec.get('summary', ''))}</td><td>{params}{body}</td></tr>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>News Q&amp;A API</title><style>"
            "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
            "td,th{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e2e8f0}</style></head><body>"
            f"<h1>{esc(schema['info']['title'])}</h1><p>{esc(schema['info'].get('description', ''))} The full "
            "schema: <a href='/api/openapi.json'>/api/openapi.json</a>.</p><table><tr><th></th><th>route</th>"
            "<th>what</th><th>parameters</th></tr>" + "".join(rows) + "</table></body></html>")
