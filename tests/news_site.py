"""A real news site on 127.0.0.1 for the link and feed tests: article pages with menus, related links and
reader comments, RSS/Atom/JSON feeds, sitemaps, conditional GET (ETag, Last-Modified -> 304), errors, a slow
page, a huge page, a redirect loop, a PDF and a page with a wrong charset. Routes can be changed between
requests, and every request is counted per path."""

from __future__ import annotations

import contextlib
import hashlib
import html
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MENU = "Home World Business Sport Weather Subscribe Newsletter Sign in"
RELATED = "Related: Ten things to do this weekend"
COMMENT = "Reader comment: this is a disgrace and the mayor should resign"


@dataclass
class Route:
    """What one path answers."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    validators: bool = True  # answers with an ETag and Last-Modified, and 304 to a matching conditional GET
    declare_length: bool = False  # without a Content-Length the body ends when the connection closes


def article_page(title: str, paragraphs: list[str], date: str = "2026-12-01", canonical: str | None = None,
                 site: str = "Local Gazette", author: str = "Ann Reporter") -> bytes:
    """An article page as a news site serves it: navigation, the article, related links, reader comments."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{html.escape(canonical)}">' if canonical else ""
    menu = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in MENU.split())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)} | {site}</title>{link}
<meta property="og:site_name" content="{site}"><meta name="author" content="{author}">
<meta property="article:published_time" content="{date}T08:00:00Z"></head><body>
<header><nav><ul>{menu}</ul></nav></header>
<main><article><h1>{html.escape(title)}</h1>{body}</article>
<aside class="related"><h2>Related</h2><ul><li><a href="/other">{RELATED}</a></li></ul></aside>
<section id="comments" class="comments"><h2>Comments</h2><div class="comment"><p>{COMMENT}</p></div></section>
</main><footer><p>Copyright Local Gazette. All rights reserved. Privacy policy. Cookie settings.</p></footer>
</body></html>""".encode()


def rss(base: str, items: list[tuple[str, str, str]], title: str = "Local Gazette") -> bytes:
    """An RSS 2.0 feed of (path, title, RFC 822 date) items."""
    entries = "".join(f"<item><title>{html.escape(t)}</title><link>{base}{p}</link><guid>{base}{p}</guid>"
                      f"<pubDate>{d}</pubDate></item>" for p, t, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><link>{base}/</link>'
            f"{entries}</channel></rss>").encode()


class NewsSite:
    """The server; ``url(path)`` is the full URL of a path, ``hits[path]`` how often it was asked for."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                site.hits[self.path] += 1
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.delay_s:
                    time.sleep(route.delay_s)
                etag = '"' + hashlib.sha1(route.body).hexdigest()[:12] + '"'
                if route.validators and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.validators:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT")
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.declare_length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up
                    self.wfile.write(route.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The full URL of ``path``."""
        return self.base + path

    def __enter__(self) -> NewsSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
