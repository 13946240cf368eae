"""Password guessing, throttled without locking anyone out, and the address each request comes from.

The policy. Every credential the server checks counts alike: the page's login form, HTTP Basic on ``/api``
and bearer tokens on ``/api``. Requests with no credentials at all are refused (401) but are not guesses,
and a signed-in page session (its cookie) is never throttled.

* **The address** of a request is the peer of its connection. A forwarded header is read only when that
  peer is one of the operator's reverse proxies (``QA_TRUSTED_PROXIES``: addresses or CIDRs, default none),
  and only the one header those proxies set (``QA_PROXY_HEADER``: ``x-forwarded-for``, the default,
  ``forwarded`` or ``x-real-ip``); the client is then the right-most hop that is not a listed proxy. Uvicorn's
  own X-Forwarded-For handling (which trusts 127.0.0.1 unless told otherwise) is switched off, so that a client
  can never pick the address its guesses count against. An IPv6 address counts as its /64 network, which one
  host commonly holds whole.
* **A user from an address**: after ``QA_LOGIN_FAILURES_PER_USER`` (10) failures for one user name from one
  address within ``QA_LOGIN_WINDOW_S`` (300 s), that user's credentials from that address are refused (429
  with ``Retry-After``) until the oldest of those failures leaves the window. The same user from any other
  address, and other users from this address, are not affected.
* **An address**: after ``QA_LOGIN_FAILURES_PER_ADDRESS`` (30) failures of any kind from one address within
  the window (any user names, wrong bearer tokens), every credential from that address is refused the same way,
  the right token or password included.
* **A success** clears only its own user-from-address count: signing in to one's own account does not wipe an
  address's count of guesses at other accounts.
* **No user is refused everywhere**: a global per-user lockout would let anyone lock the owner out by guessing.
  Many addresses guessing one user are bounded per address (each gets 10 guesses at that user a window). When
  one user's failures from all addresses together reach the per-address limit within a window, a warning is
  logged naming the user, for the operator to block the guessing networks at the proxy or firewall. No response
  delay is added: it would not slow a guesser who sends in parallel, only hold connections and slow the owner.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qa.config import Config

log = logging.getLogger(__name__)

ANONYMOUS = "unknown"  # the address of a request whose connection has none (a Unix socket)
KEY_CHARS = 100  # a user name or a non-IP address is counted by at most this many characters of it
IPV6_HOST_PREFIX = 64  # an IPv6 address counts as its /64: one host commonly holds the whole network
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class LoginThrottle:
    """Counts failed logins per key: after ``limit`` failures within ``window_s`` seconds, that key must wait
    until fewer than ``limit`` lie in the window. A success clears its keys. Thread-safe; remembers at most
    ``max_keys`` keys (those whose last failure is oldest are forgotten first)."""

    def __init__(self, limit: int = 10, window_s: float = 300.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.max_keys, self.clock = limit, window_s, max_keys, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until a login for ``keys`` may be tried again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(key, now) for key in keys]
        return max(waits, default=0)

    def failed(self, keys: Iterable[str]) -> None:
        """Records one failed login for each of ``keys``."""
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self.limit)
                times.append(now)
                self._failures[key] = times  # re-inserted: most recent last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forgets the failures of ``keys``."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _wait(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if not times or len(times) < self.limit:
            return 0
        return max(0, math.ceil(times[0] + self.window_s - now))  # times[0]: the limit-th latest failure


class GuessThrottle:
    """The policy in this module's docstring: failures counted per user from an address and per address, and
    (only to warn the operator) per user from anywhere. ``user`` is None for a bearer token or unreadable
    credentials."""

    def __init__(self, per_user: int = 10, per_address: int = 30, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.user_at_address = LoginThrottle(per_user, window_s, clock=clock)
        self.address = LoginThrottle(per_address, window_s, clock=clock)
        self.user_anywhere = LoginThrottle(per_address, window_s, clock=clock)  # counted, never refused
        self.window_s = window_s

    @classmethod
    def from_config(cls, config: Config) -> GuessThrottle:
        """The throttle with the configured limits."""
        return cls(config.login_failures_per_user, config.login_failures_per_address, config.login_window_s)

    def retry_after(self, address: str, user: str | None) -> int:
        """Seconds until credentials of ``user`` (None: a token) from ``address`` may be checked (0: now)."""
        wait = self.address.retry_after([address_key(address)])
        if user is not None:
            wait = max(wait, self.user_at_address.retry_after([_pair_key(address, user)]))
        return wait

    def failed(self, address: str, user: str | None) -> None:
        """Records a wrong credential of ``user`` (None: a token) from ``address``."""
        net = address_key(address)
        self._count(self.address, net, f"address {net} is refused for {{wait}} s after {self.address.limit} "
                                        f"failed logins")
        if user is not None:
            self.user_at_address.failed([_pair_key(address, user)])
            name = _user_key(user)
            self._count(self.user_anywhere, name, f"user {name!r} had {self.user_anywhere.limit} failed logins "
                                                  f"within {self.window_s:g} s from all addresses together")

    def succeeded(self, address: str, user: str) -> None:
        """Clears the failures of ``user`` from ``address`` (and nothing else: see the policy)."""
        self.user_at_address.succeeded([_pair_key(address, user)])

    @staticmethod
    def _count(throttle: LoginThrottle, key: str, warning: str) -> None:
        """One failure for ``key``; logs ``warning`` when it makes ``key`` reach its limit."""
        before = throttle.retry_after([key])
        throttle.failed([key])
        wait = throttle.retry_after([key])
        if wait and not before:
            log.warning(warning.format(wait=wait))


def address_key(host: str) -> str:
    """What an address is counted as: itself (IPv4, or IPv4 mapped into IPv6), its /64 (IPv6), or its first
    characters when it is not an IP address."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip.exploded}/{IPV6_HOST_PREFIX}", strict=False))
    return str(ip)


def _user_key(user: str) -> str:
    return user.strip().casefold()[:KEY_CHARS]


def _pair_key(address: str, user: str) -> str:
    return f"{address_key(address)} {_user_key(user)}"  # an address has no space in it


# --- the client's address --------------------------------------------------------------------------
class Proxies:
    """The operator's reverse proxies and the header they set: decides each request's client address."""

    def __init__(self, spec: str = "", header: str = "x-forwarded-for") -> None:
        """``spec``: comma-separated addresses or CIDR networks; raises ValueError naming a bad entry."""
        self.header = header.strip().lower()
        if self.header not in PROXY_HEADERS:
            raise ValueError(f"QA_PROXY_HEADER={header!r} is not one of {', '.join(PROXY_HEADERS)}")
        networks = []
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"QA_TRUSTED_PROXIES: {entry!r} is not an IP address or network (CIDR)") from None
        self.networks = tuple(networks)

    @classmethod
    def from_config(cls, config: Config) -> Proxies:
        """The proxies ``config`` lists (ValueError when a setting is malformed)."""
        return cls(config.trusted_proxies, config.proxy_header)

    def trusts(self, host: str) -> bool:
        """True when ``host`` is one of the listed proxies."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def client(self, peer: str, headers: Sequence[tuple[bytes, bytes]]) -> str:
        """The client of a request from ``peer``: ``peer`` itself unless it is a listed proxy; then the
        right-most hop of the proxies' header that is not a listed proxy (the left-most if all are)."""
        if not self.trusts(peer):
            return peer
        hops = self._hops(headers)
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer

    def _hops(self, headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
        """The addresses in the proxies' header, nearest the client first."""
        name = self.header.encode()
        values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
        if self.header == "x-real-ip":  # one address, set (not appended) by the proxy: its last copy
            return [_host(values[-1])] if values else []
        items = [item for value in values for item in value.split(",")]
        if self.header == "forwarded":  # RFC 7239: for=1.2.3.4;proto=https, for="[2001:db8::1]:443"
            items = [pair.partition("=")[2] for item in items for pair in item.split(";")
                     if pair.strip().lower().startswith("for=")]
        return [host for host in map(_host, items) if host]


def _host(value: str) -> str:
    """An address from a forwarded hop: quotes, IPv6 brackets and a port taken off."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        return value.partition(":")[0]
    return value


class RealClient:
    """ASGI middleware, outermost: sets ``scope["client"]`` to the address :class:`Proxies` decides, so the
    login throttle, the API and Gradio all see the same one."""

    def __init__(self, app: Any, proxies: Proxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            peer = scope["client"][0]
            client = self.proxies.client(peer, scope.get("headers") or [])
            if client != peer:
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)


UVICORN_TRUSTED_ENV = "FORWARDED_ALLOW_IPS"


@contextmanager
def uvicorn_trusts_no_proxy() -> Iterator[None]:
    """While a server starts: uvicorn (which Gradio starts, with no way to pass it settings) rewrites the
    client address from X-Forwarded-For when the peer is in ``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default, so
    anyone on this machine could choose the address their guesses count against. Its config reads that
    variable when it is built, inside ``launch``: empty, uvicorn trusts no one and :class:`RealClient` decides
    alone."""
    previous = os.environ.get(UVICORN_TRUSTED_ENV)
    os.environ[UVICORN_TRUSTED_ENV] = ""
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(UVICORN_TRUSTED_ENV, None)
        else:
            os.environ[UVICORN_TRUSTED_ENV] = previous
