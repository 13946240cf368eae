"""Optional login for the app: ``QA_AUTH`` is ``user:pass[,user2:pass2]`` or a path to a file of such lines.

Failed logins are throttled by :mod:`qa.interfaces.ui.throttle` (its docstring states the policy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qa.config import Config
from qa.interfaces.ui.throttle import ANONYMOUS, GuessThrottle, LoginThrottle, Proxies, RealClient

__all__ = ["GuessThrottle", "LoginRequired", "LoginThrottle", "check_server_config", "login_app_kwargs",
           "parse_auth"]


def parse_auth(spec: str | None) -> list[tuple[str, str]] | None:
    """``[(user, password), ...]`` for ``gradio.launch(auth=...)``, or None when no login is configured.

    A file holds one ``user:password`` per line (blank lines and ``#`` comments ignored). Raises ValueError
    with a message naming the problem (never echoing a password).
    """
    spec = (spec or "").strip()
    if not spec:
        return None
    path = Path(spec).expanduser()
    if path.is_file():
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the auth file {path}: {error}") from error
        where = f"auth file {path}"
    elif ":" not in spec:
        raise ValueError(f"auth {spec!r} is neither user:password pairs nor an existing file")
    else:
        entries = spec.split(",")
        where = "QA_AUTH"
    pairs: list[tuple[str, str]] = []
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(f"entry {number} of {where} is not user:password")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ValueError(f"{where} lists no user:password pairs")
    return pairs


# --- every route behind the login ------------------------------------------------------------------
# Gradio's own login check guards its API routes, but not all of them, and its page at "/" embeds the
# API description (with the dropdowns' choices: the collection's sources and article titles) even before
# login. With a login configured, this middleware lets through only what the login page itself needs.
PUBLIC_PATHS = frozenset({"/", "/login", "/login/", "/gradio_api/login_check", "/gradio_api/login_check/",
                          "/favicon.ico", "/manifest.json", "/theme.css", "/gradio_api/theme.css",
                          "/gradio_api/startup-events"})  # launch() polls this one before it returns
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/")  # Gradio's own front-end files, no app data
_API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.DOTALL)
_NO_API_INFO = b'window.gradio_api_info = {"named_endpoints":{},"unnamed_endpoints":{}};</script>'


def check_server_config(config: Config) -> list[tuple[str, str]] | None:
    """The configured users, once the login settings are known to hold together; ValueError says what not.

    A token alone is refused: it guards only ``/api``, while the page's own endpoints (``/gradio_api/...``,
    which gradio_client calls) add and remove articles too, and only a login guards those.
    """
    auth = parse_auth(config.auth)
    Proxies.from_config(config)
    if config.api_token and not auth:
        raise ValueError("QA_API_TOKEN protects only the REST API (/api); the page's own endpoints can still add "
                         "and remove articles without credentials: set QA_AUTH too (users for the page; /api then "
                         "takes their HTTP Basic credentials or the token), or unset QA_API_TOKEN to serve "
                         "everything without credentials (fit only for a server on 127.0.0.1)")
    return auth


def login_app_kwargs(auth: list[tuple[str, str]] | None, throttle: GuessThrottle,
                     proxies: Proxies) -> dict[str, Any]:
    """``launch(app_kwargs=...)`` that puts every route behind the login, with each request's address decided
    by ``proxies`` (empty when there is no login)."""
    if not auth:
        return {}
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(RealClient, proxies=proxies), Middleware(LoginRequired, throttle=throttle)]}


LOGIN_PATHS = frozenset({"/login", "/login/"})


class LoginRequired:
    """ASGI middleware (``launch(app_kwargs={"middleware": ...})``): anonymous requests get a 401, except
    the login page shell, which is served without the API description; logins are throttled."""

    def __init__(self, app: Any, throttle: GuessThrottle | None = None) -> None:
        self.app = app
        self.throttle = throttle or GuessThrottle()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in LOGIN_PATHS and scope["method"] == "POST":
            await self._login(scope, receive, send)
        elif scope["type"] not in ("http", "websocket") or _logged_in(scope) or _is_api(scope["path"]):
            # The REST API checks its own credentials (HTTP Basic or a bearer token): qa.interfaces.ui.api.
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        elif scope["path"] == "/":
            await self.app(scope, receive, _without_api_info(send))
        elif scope["path"] in PUBLIC_PATHS or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
        else:
            await _send_json(send, 401, {"detail": {"error": "Not authenticated"}})

    async def _login(self, scope: dict, receive: Any, send: Any) -> None:
        """Gradio's login route, refused with 429 while its user from this address, or this address, cools off."""
        from starlette.requests import Request

        body = await _read_body(receive)
        try:
            user = str((await Request(scope, _replay(body)).form()).get("username") or "").strip()
        except Exception:  # an unparsable form: Gradio answers it; only the address is counted
            user = ""
        address = (scope.get("client") or (ANONYMOUS, 0))[0]  # as decided by RealClient
        name = user or None
        wait = self.throttle.retry_after(address, name)
        if wait:
            await _send_json(send, 429, {"detail": f"Too many failed logins. Try again in {wait} seconds."},
                             [(b"retry-after", str(wait).encode())])
            return
        status: list[int] = []

        async def watched(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, _replay(body), watched)
        if status and status[0] == 200 and name:
            self.throttle.succeeded(address, name)
        elif status and 400 <= status[0] < 500:
            self.throttle.failed(address, name)


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Any:
    """An ASGI ``receive`` that hands over ``body`` once, then waits like a client that sent it all."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_json(send: Any, status: int, content: Any, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _logged_in(scope: dict) -> bool:
    """True when the request carries the session cookie of a user who logged in."""
    from starlette.requests import HTTPConnection

    app = scope.get("app")
    cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None)
    if not cookie_id or not tokens:
        return False
    cookies = HTTPConnection(scope).cookies
    return any(tokens.get(cookies.get(f"{name}{cookie_id}", "")) is not None
               for name in ("access-token-", "access-token-unsecure-"))


def _without_api_info(send: Any) -> Any:
    """``send`` for the anonymous page: the whole body, with ``window.gradio_api_info`` emptied."""
    start: dict = {}
    chunks: list[bytes] = []

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _API_INFO.sub(lambda _: _NO_API_INFO, b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if body:  # a HEAD request keeps its original length
            headers.append((b"content-length", str(len(body)).encode()))
        else:
            headers = start.get("headers", [])
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped
