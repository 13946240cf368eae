"""Request body limits for the whole server (page and REST API), enforced before a body is read whole.

A body is refused with 413 up front when its ``Content-Length`` is over the route's limit, and otherwise
counted as it arrives (chunked, or a length that lies): the moment the count passes the limit, the client
gets 413 and the route sees a disconnect, so no route ever holds more than its limit in memory.

Limits, by route:

- uploads (``POST /api/articles`` as multipart, Gradio's ``/gradio_api/upload``): ``max_upload_files``
  files of ``max_upload_mb``, plus room for the multipart framing of each;
- article text (``POST /api/articles`` as JSON, and Gradio's other routes, which carry pasted articles):
  an article of ``max_upload_mb``, allowing for JSON's escapes;
- every other body (``POST /api/ask`` with its history, the login form): ``max_request_kb``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from qa.config import Config

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]

# Room for what wraps the content: a multipart part's boundary and headers (a file name of up to a few
# kB), and a JSON article's other fields.
FRAMING_BYTES = 64 * 1024
# JSON may write a character as a 6-byte \uXXXX escape of its 2 or 3 UTF-8 bytes: allow twice the text.
JSON_ESCAPE_FACTOR = 2
UPLOAD_PATHS = frozenset({"/api/articles", "/gradio_api/upload"})
ARTICLE_PREFIXES = ("/api/articles", "/gradio_api/")


@dataclass(frozen=True)
class BodyLimits:
    """The most bytes a request body may have, by kind of route."""

    upload: int  # multipart files
    article: int  # an article's text as JSON (or a Gradio event carrying one)
    request: int  # anything else

    @classmethod
    def from_config(cls, config: Config) -> BodyLimits:
        """The limits that follow from the upload and request settings of ``config``."""
        per_file = int(config.max_upload_mb * 1024 * 1024)
        return cls(upload=config.max_upload_files * (per_file + FRAMING_BYTES),
                   article=JSON_ESCAPE_FACTOR * per_file + FRAMING_BYTES,
                   request=config.max_request_kb * 1024)

    def for_request(self, path: str, content_type: str) -> tuple[int, str]:
        """The limit for a body sent to ``path`` as ``content_type``, and what it covers (for the error)."""
        if path.rstrip("/") in UPLOAD_PATHS and content_type.startswith("multipart/form-data"):
            return self.upload, "an upload"
        if path.startswith(ARTICLE_PREFIXES):
            return self.article, "an article"
        return self.request, "this request"


class BodyLimit:
    """ASGI middleware: refuses request bodies over :class:`BodyLimits` with a JSON 413, before reading them."""

    def __init__(self, app: App, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        limit, what = self.limits.for_request(scope["path"], headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            log.warning("refused a %s-byte body for %s (limit %s)", declared.decode(), scope["path"], limit)
            await _too_large(send, limit, what)
            return
        await _Counted(self.app, limit, what)(scope, receive, send)


class _Counted:
    """One request whose body is counted as the app reads it; past the limit, 413 and a disconnect."""

    def __init__(self, app: App, limit: int, what: str) -> None:
        self.app, self.limit, self.what = app, limit, what
        self.received = 0
        self.cut = False  # the body went over the limit: the app was told the client left
        self.answered = False  # ... and the client got the 413
        self.started = False  # the app has begun its own response

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            if self.cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    await self._cut(scope, send)
                    return {"type": "http.disconnect"}  # the app stops reading, as if the client had left
            return message

        async def guarded_send(message: Message) -> None:
            if self.answered:
                return  # the client has its 413; what the app answers to the "disconnect" is dropped
            self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.cut:
                raise
            log.debug("the app stopped after its request body was cut", exc_info=True)

    async def _cut(self, scope: Message, send: Send) -> None:
        self.cut = True
        log.warning("refused a body of over %s bytes for %s as it arrived", self.limit, scope["path"])
        if not self.started:  # an app that answered before reading its whole body keeps its answer
            await _too_large(send, self.limit, self.what)
            self.answered = True


async def _too_large(send: Send, limit: int, what: str) -> None:
    body = json.dumps({"error": f"the request body is too large: {what} may have at most {_size(limit)}"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _size(size: int) -> str:
    """``size`` bytes in words: "1 MB", "41.1 MB", "512 kB"."""
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")
    return f"{size / 1024:.0f} kB"


def body_limit_middleware(config: Config) -> Any:
    """The :class:`BodyLimit` middleware for ``config``, for ``FastAPI(middleware=[...])``."""
    from starlette.middleware import Middleware

    return Middleware(BodyLimit, limits=BodyLimits.from_config(config))
