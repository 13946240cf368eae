"""A scripted OpenAI-compatible chat server on 127.0.0.1 for tests: each test sets the reply it sends."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server answers to the next requests.

    ``chunks`` are content deltas sent as SSE ``data:`` events (then ``data: [DONE]`` unless ``done`` is
    False); ``lines`` replaces them with raw lines. ``stall_s`` waits before the status line,
    ``delay_s`` between events, ``stall_after`` stalls ``stall_s`` after that many events instead.
    """

    chunks: list[str] = field(default_factory=list)
    status: int = 200
    body: str = ""  # a plain JSON body sent instead of a stream
    lines: list[str] | None = None
    delay_s: float = 0.0
    stall_s: float = 0.0
    stall_after: int | None = None
    done: bool = True


@dataclass
class Request:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedLLMServer:
    """``ThreadingHTTPServer`` on a free port; ``url`` is its ``/v1`` base URL; ``close()`` ends stalls."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[Request] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                server.respond(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def respond(self, handler: BaseHTTPRequestHandler) -> None:
        """Plays ``self.reply`` to one request."""
        reply = self.reply
        if reply.stall_s and reply.stall_after is None and self.stop.wait(reply.stall_s):
            handler.close_connection = True
            return
        if reply.status != 200 or reply.body:
            data = reply.body.encode()
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        lines = reply.lines
        if lines is None:
            lines = [json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})]
            lines += [json.dumps({"choices": [{"index": 0, "delta": {"content": c}}]}) for c in reply.chunks]
            lines = [f"data: {line}" for line in lines] + (["data: [DONE]"] if reply.done else [])
        try:
            for i, line in enumerate(lines):
                stall = reply.stall_s if reply.stall_after is not None and i == reply.stall_after + 1 else 0.0
                if (stall or reply.delay_s) and self.stop.wait(stall + reply.delay_s):
                    handler.close_connection = True
                    return
                data = f"{line}\n\n".encode()
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client gave up

    def close(self) -> None:
        """Stops serving and releases any stalled handler."""
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
