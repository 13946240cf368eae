"""One safe, polite HTTP client for links, feeds and robots.txt.

Only http and https; a host that resolves to a non-public address (private, loopback, link-local, reserved...)
is refused unless ``allow_private_urls`` is set, on every redirect hop. Each request is bounded in time, size
and redirects, carries a clear user agent, waits its turn per host and asks the host's robots.txt first.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.robotparser
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from qa.config import Config

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_CHARS = 2048  # longer links are refused before anything is parsed or resolved


class FetchError(Exception):
    """A URL that could not be fetched; ``reason`` says why in words a user can act on."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """One response: the final URL (after redirects), its status, body and the headers that matter here."""

    url: str
    status: int
    body: bytes
    content_type: str = ""  # media type only, lower case ("text/html")
    charset: str | None = None  # as the server declared it (may be wrong)
    etag: str | None = None
    last_modified: str | None = None
    location: str = ""  # where a redirect points

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional request."""
        return self.status == 304


def normalise_url(url: str) -> str:
    """The URL with its scheme and host in lower case, no default port and no fragment (one spelling per page)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def checked_url(url: str, allow_private: bool) -> str:
    """``url`` normalised, or FetchError when it is not http(s) or its host is not on the public internet."""
    if len(url) > MAX_URL_CHARS:
        raise FetchError(url[:80] + "…", f"the link is over {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise FetchError(url, f"not a valid URL ({error})") from error
    if parts.scheme.lower() not in _SCHEMES:
        raise FetchError(url, f"only http and https links can be fetched, not {parts.scheme or 'a bare path'!r}")
    host = parts.hostname
    if not host:
        raise FetchError(url, "the link names no host")
    if parts.username or parts.password:
        raise FetchError(url, "links with a user name or password are not fetched")
    if not allow_private:
        _check_public(url, host, port or _DEFAULT_PORTS[parts.scheme.lower()])
    return normalise_url(url)


def _check_public(url: str, host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(url, f"the host {host!r} cannot be resolved ({error})") from error
    for info in infos:
        _check_address(url, f"the host {host!r} resolves to", str(info[4][0]))


def _check_address(url: str, what: str, raw: str) -> None:
    """FetchError unless ``raw`` is a public internet address."""
    address = ipaddress.ip_address(raw.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        raise FetchError(url, f"{what} {address}, a private, loopback or otherwise non-public address; such links "
                              "are refused so that the server cannot be used to read its own network (set "
                              "QA_ALLOW_PRIVATE_URLS=1 to allow intranet links)")


class Fetcher:
    """Fetches URLs one at a time per host; keeps each host's robots.txt for its lifetime (one poll or ingest)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.max_bytes = int(config.fetch_max_mb * 1024 * 1024)
        self.client = httpx.Client(timeout=config.fetch_timeout_s, follow_redirects=False, trust_env=False,
                                   headers={"User-Agent": config.fetch_user_agent})
        self._next_turn: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._lock = threading.Lock()
        self.requests = 0  # sent, robots.txt included (for reports and benchmarks)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self.client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """Fetches ``url`` (conditionally, given the validators of an earlier answer), following redirects;
        FetchError for a refused or failed fetch, an HTTP error status, or a robots.txt that disallows it."""
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        current = url
        for _hop in range(self.config.fetch_max_redirects + 1):
            current = checked_url(current, self.config.allow_private_urls)
            if not self._allowed(current):
                raise FetchError(current, "the site's robots.txt does not allow fetching this page")
            response = self._request(current, headers)
            if response.status in _REDIRECTS:
                if not response.location:
                    raise FetchError(current, f"HTTP {response.status} redirect without a Location")
                current = urljoin(current, response.location)
                continue
            return response
        raise FetchError(url, f"more than {self.config.fetch_max_redirects} redirects (a redirect loop?)")

    def _request(self, url: str, headers: dict[str, str]) -> Fetched:
        self._wait_turn(url)
        self.requests += 1
        started = time.monotonic()
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                self._check_peer(url, response)
                if response.status_code in _REDIRECTS:
                    return Fetched(url, response.status_code, b"", location=response.headers.get("location", ""))
                if response.status_code == 304:
                    return Fetched(url, 304, b"", etag=response.headers.get("etag"),
                                   last_modified=response.headers.get("last-modified"))
                if response.status_code >= 400:
                    raise FetchError(url, f"HTTP {response.status_code} {response.reason_phrase}".strip())
                body = self._read(url, response, started)
                media, _, params = response.headers.get("content-type", "").partition(";")
                charset = params.split("charset=", 1)[1].strip(" \"'") if "charset=" in params else None
                return Fetched(url, response.status_code, body, media.strip().lower(), charset or None,
                               response.headers.get("etag"), response.headers.get("last-modified"))
        except httpx.TimeoutException as error:
            raise FetchError(url, f"no answer within {self.config.fetch_timeout_s:g} s (timeout)") from error
        except httpx.HTTPError as error:
            raise FetchError(url, f"the request failed ({type(error).__name__}: {error})") from error

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        """Refuses the answer when the connection went to a non-public address after all (a name that resolved
        to a public address when checked and to a private one when connecting: DNS rebinding); nothing of it is
        read."""
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if not self.config.allow_private_urls and peer:
            _check_address(url, "the connection went to", str(peer[0]))

    def _read(self, url: str, response: httpx.Response, started: float) -> bytes:
        """The body, refused past ``fetch_max_mb`` (declared or streamed) or past the timeout as a whole."""
        limit_mb = f"{self.config.fetch_max_mb:g} MB"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(url, f"the page is {int(declared) / 1e6:.1f} MB, over the {limit_mb} limit")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(url, f"the page is over the {limit_mb} limit")
            if time.monotonic() - started > self.config.fetch_timeout_s:  # a server that drips bytes
                raise FetchError(url, f"the page took over {self.config.fetch_timeout_s:g} s to arrive (timeout)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait_turn(self, url: str) -> None:
        """Sleeps until this host's next turn: at most one request per ``fetch_host_interval_s`` to a host."""
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_turn.get(host, now))
            self._next_turn[host] = turn + self.config.fetch_host_interval_s
        if turn > now:
            time.sleep(turn - now)

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(site)
        if robots is None:
            robots = self._robots[site] = self._read_robots(site)
        return robots.can_fetch(self.config.fetch_user_agent, url)

    def _read_robots(self, site: str) -> urllib.robotparser.RobotFileParser:
        """The site's rules: none (all allowed) when it has no robots.txt or it cannot be read; all disallowed
        when it answers 401/403, as the robots.txt convention says."""
        robots = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        try:
            answer = self._request(site + "/robots.txt", {})
        except FetchError as error:
            if error.reason.startswith(("HTTP 401", "HTTP 403")):
                robots.parse(["User-agent: *", "Disallow: /"])
            else:
                log.info("no robots.txt rules for %s: %s", site, error.reason)
                robots.parse([])
            return robots
        robots.parse(answer.body.decode("utf-8", "replace").splitlines() if answer.status == 200 else [])
        return robots
