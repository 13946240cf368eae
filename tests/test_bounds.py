"""Issue 21, findings 1, 7, 9 (dates and integers) and 10, against a live server (httpx and raw sockets):
a long history is cut, not echoed; a big body is refused as it arrives; dates at the calendar's ends and
offsets past SQLite's integers get answers or a 400; the API's as-of is today by default.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qa.answering.followup import Turn, bound_history
from qa.interfaces.cli import main
from qa.text.timeframe import DateWindow, shifted, window_for
from tests.conftest import _free_port, app_corpus

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

QUESTION = "Which bread did the judges praise?"
FUTURE = {"id": "capsule", "title": "Time capsule opened in Elmsworth", "date": "9999-12-31", "source": "Far Times",
          "text": "The time capsule buried in Elmsworth was opened at noon. It contained 77 brass keys and a letter. "
                  "The mayor read the letter aloud to the crowd."}
CAPSULE_QUESTION = "How many brass keys did the time capsule contain?"
PHRASES = ["3 days ago", "2 weeks ago", "today", "yesterday", "on Monday", "last weekend", "this week", "last week",
           "in December", "in March 0000", "this month", "last month", "this year", "last year", "recently",
           "99999999999 days ago"]
MB = 1024 * 1024


@dataclass
class Server:
    """The live app: its base URL, port and config."""

    url: str
    port: int
    config: object


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app (no login, default limits) over the app corpus plus an article dated 9999-12-31."""
    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("bounds")
    corpus = app_corpus(root / "corpus")
    (corpus / "future.jsonl").write_text(json.dumps(FUTURE) + "\n", encoding="utf-8")
    config = Config.load(env={}, data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([corpus])
    assistant.warm_up()
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    yield Server(f"http://127.0.0.1:{config.port}", config.port, config)
    web.close()
    assistant.collection.close()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield http


# --- finding 1: history is bounded ------------------------------------------------------------------------
def _names(size: int) -> str:
    """``size`` characters of capitalised words: one endless "name" for the follow-up's entity finder."""
    return ("Keller Elmsworth Bakery " * (size // 24 + 1))[:size]


def test_history_keeps_the_latest_turns_each_cut_with_a_note() -> None:
    history = [Turn(f"Question {n}?", f"Answer {n}.") for n in range(10)] + [Turn("q " * 5000, "A " * 5000, "x" * 9000)]
    bounded = bound_history(history, 3, 100)
    assert [t.question for t in bounded.turns[:2]] == ["Question 8?", "Question 9?"]
    last = bounded.turns[-1]
    assert len(last.question) <= 600 and len(last.answer) <= 100 and len(last.query) <= 100
    assert bounded.note and "1 long earlier exchange was shortened" in bounded.note
    # Older turns left out change nothing (only the last feeds the search): no note for them alone.
    assert bound_history(history[:10], 3, 100).note is None
    assert bound_history(history[:2], 3, 100).note is None and bound_history(history[:2], 3, 100).turns == history[:2]


def test_a_huge_question_and_history_are_answered_in_seconds(assistant) -> None:
    """Before: a 5 MB question with a 5 MB answer in its history took 44 s, and its search query echoed it all."""
    started = time.perf_counter()
    answer = assistant.ask("Who owns it? " + "word " * MB, [Turn(_names(5 * MB), _names(5 * MB))])
    elapsed = time.perf_counter() - started
    assert elapsed < 15, elapsed
    assert len(answer.search_query) < 4000 and len(answer.question) <= 600
    assert any("earlier exchange" in note for note in answer.notes)


def test_a_long_history_over_the_api_is_cut_and_does_not_stall_others(server: Server, client: httpx.Client) -> None:
    """Before: the response echoed the history in ``search_query``, and a normal ask waited behind it."""
    history = [{"question": f"Question {n}?", "answer": "Answer."} for n in range(30)]
    history.append({"question": _names(200_000), "answer": _names(700_000)})
    results: dict[str, tuple[float, httpx.Response]] = {}

    def timed(name: str, body: dict) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as own:
            started = time.perf_counter()
            response = own.post("/api/ask", json=body)
            results[name] = (time.perf_counter() - started, response)

    long = threading.Thread(target=timed, args=("long", {"question": "Who owns it?", "history": history}))
    long.start()
    time.sleep(0.1)
    timed("normal", {"question": QUESTION})
    long.join()
    (long_s, long_response), (normal_s, normal_response) = results["long"], results["normal"]
    assert long_response.status_code == 200 and normal_response.status_code == 200
    assert len(long_response.content) < 20_000 and len(long_response.json()["search_query"]) < 4000
    assert any("1 long earlier exchange was shortened" in note for note in long_response.json()["notes"])
    assert long_s < 10 and normal_s < 5, (long_s, normal_s)
    assert "sourdough rye" in normal_response.json()["answer"]


def test_a_10_mb_ask_is_refused_at_once_and_others_go_on(server: Server, client: httpx.Client) -> None:
    body = {"question": "word " * MB, "history": [{"question": "q", "answer": _names(5 * MB)}]}
    started = time.perf_counter()
    response = client.post("/api/ask", json=body)
    assert response.status_code == 413 and "at most 1 MB" in response.json()["error"]
    assert time.perf_counter() - started < 2
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


# --- finding 7: bodies are refused as they arrive ----------------------------------------------------------
@dataclass
class Sent:
    """What a raw client saw: the response status (None: no response), bytes of body sent, seconds."""

    status: int | None
    sent: int
    seconds: float
    body: bytes


def _post_raw(port: int, path: str, total: int, content_length: int | None = None,
              content_type: str = "application/json", block: int = MB) -> Sent:
    """POSTs ``total`` bytes in ``block``-sized pieces (chunked unless ``content_length`` is given), stopping as
    soon as the server answers, as a careful client does; the same block is resent, so nothing big is held."""
    piece = b"x" * block
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
    head += "Transfer-Encoding: chunked\r\n" if content_length is None else f"Content-Length: {content_length}\r\n"
    started, sent = time.perf_counter(), 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n")
        try:
            while sent < total and not select.select([sock], [], [], 0.001)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (block, piece) if content_length is None else piece)
                sent += block
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = _read_response(sock)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    return Sent(status, sent, time.perf_counter() - started, reply.partition(b"\r\n\r\n")[2])


def _read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read whole (empty if the server closed without one)."""
    reply = b""
    try:
        while True:
            head, _, body = reply.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                           if line.startswith(b"content-length:")), None)
            if length is not None and len(body) >= length:
                return reply
            data = sock.recv(65536)
            if not data:
                return reply
            reply += data
    except (ConnectionResetError, TimeoutError):
        return reply


def _peak_rss_growth(work: Callable[[], Sent]) -> tuple[Sent, int]:
    """Runs ``work`` and returns its result with how far this process's peak RSS rose above its RSS before
    (the server runs in this process)."""
    def field(name: str) -> int:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(name))
        return int(line.split()[1]) * 1024

    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    before = field("VmRSS:")
    result = work()
    return result, field("VmHWM:") - before


def test_a_declared_300_mb_body_is_refused_before_it_is_sent(server: Server) -> None:
    """Before: 8.5 s and 1.4 GB more server memory before the 413."""
    for path in ("/api/ask", "/api/articles", "/gradio_api/queue/join", "/login"):
        result = _post_raw(server.port, path, 0, content_length=300 * MB)
        assert result.status == 413 and result.seconds < 1, (path, result)
        assert "too large" in json.loads(result.body)["error"]
    for path in ("/api/articles", "/gradio_api/upload"):  # uploads: 50 files of 20 MB, and room for their framing
        kind = "multipart/form-data; boundary=x"
        assert _post_raw(server.port, path, 0, content_length=1100 * MB, content_type=kind).status == 413


def test_a_streamed_300_mb_body_is_refused_as_it_arrives(server: Server) -> None:
    """No Content-Length (chunked): counted as it arrives; 413 once past the route's limit."""
    result, growth = _peak_rss_growth(lambda: _post_raw(server.port, "/api/ask", 300 * MB))
    assert result.status == 413 and result.seconds < 2 and result.sent < 20 * MB, result
    assert growth < 100 * MB, growth
    # Gradio's event routes carry pasted articles: their limit is an article's (2 x 20 MB, for JSON escapes).
    result, growth = _peak_rss_growth(lambda: _post_raw(server.port, "/gradio_api/queue/join", 300 * MB))
    assert result.status == 413 and result.seconds < 5 and result.sent < 100 * MB, result
    assert growth < 250 * MB, growth
    for path, kind in (("/login", "application/x-www-form-urlencoded"), ("/api/articles", "application/json")):
        result = _post_raw(server.port, path, 300 * MB, content_type=kind)
        assert result.status == 413 and result.seconds < 5 and result.sent < 100 * MB, (path, result)


def test_a_streaming_client_gets_413_and_the_server_goes_on(server: Server, client: httpx.Client) -> None:
    """An ordinary client (httpx, a generator body: chunked) that sends its whole body before reading."""
    def body() -> Iterator[bytes]:
        piece = b"x" * MB
        for _ in range(300):
            yield piece

    started = time.perf_counter()
    try:
        status = client.post("/api/ask", content=body(), headers={"Content-Type": "application/json"}).status_code
    except httpx.TransportError:  # a client may see the connection end instead
        status = None
    assert status in (413, None) and time.perf_counter() - started < 10
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_an_article_body_may_be_bigger_than_a_question(client: httpx.Client) -> None:
    """A 1.5 MB JSON article passes the body limit (an article's, not the 1 MB of other requests) and reaches
    the route, which reads it whole: here it answers that the date is bad."""
    text = "The harbour crane at Eastport was repaired over the weekend. " * 25_000
    response = client.post("/api/articles", json={"title": "Crane repaired", "text": text, "date": "someday"})
    assert response.status_code == 400 and "date must be a date" in response.json()["error"]
    response = client.post("/api/ask", json={"question": QUESTION, "history": [{"question": "q", "answer": text}]})
    assert response.status_code == 413 and "this request may have at most 1 MB" in response.json()["error"]


def test_the_body_limit_is_outside_the_login() -> None:
    import app
    from qa.config import Config
    from qa.interfaces.ui.limits import BodyLimit

    middleware = app.launch_kwargs(Config.load(env={"QA_AUTH": "ann:pw"}))["app_kwargs"]["middleware"]
    assert middleware[0].cls is BodyLimit and "LoginRequired" in [m.cls.__name__ for m in middleware[1:]]


# --- finding 9: dates at the calendar's ends, integers past SQLite's ---------------------------------------
@pytest.mark.parametrize("as_of", [date.min, date(1, 1, 5), date(2022, 6, 16), date.max])
def test_every_time_phrase_gets_a_window_inside_the_calendar(as_of: date) -> None:
    """Before: "last week" and 7 other phrases raised OverflowError at 0001-01-01; "in December" at 9999-12-31."""
    for phrase in PHRASES:
        window = window_for(f"What happened {phrase}?", as_of)
        if phrase == "in March 0000" or (phrase == "in December" and as_of.year == 1):
            assert window is None  # that month is not on the calendar
        else:
            assert window is not None and window.start <= window.end <= as_of, (phrase, window)
    assert window_for("Who won last week?", date(1, 1, 3)) == DateWindow(date.min, date(1, 1, 3), "last week")
    assert window_for("the fire in December", date.max).end == date.max
    assert shifted(date(2022, 6, 16), -10**12) == date.min and shifted(date.max, 1) == date.max


def test_time_phrases_at_the_calendar_ends_are_answered_over_the_api(client: httpx.Client) -> None:
    for as_of in ("0001-01-01", "9999-12-31"):
        for phrase in PHRASES:
            response = client.post("/api/ask", json={"question": f"What did the bakery win {phrase}?", "as_of": as_of})
            assert response.status_code == 200, (as_of, phrase, response.text[:300])
            assert response.json()["answer"]


def test_time_phrases_at_the_calendar_ends_are_answered_by_the_cli(built_collection) -> None:
    data = str(built_collection.config.data_dir)
    for as_of, question in (("0001-01-01", "What did the bakery win last week?"),
                            ("9999-12-31", "What did the bakery win in December?")):
        result = CliRunner().invoke(main, ["--data-dir", data, "ask", "--as-of", as_of, question])
        assert result.exit_code == 0 and result.exception is None, result.output
        assert "Traceback" not in result.output


def test_offsets_past_sqlite_integers_get_a_400(client: httpx.Client) -> None:
    """Before: offset=9223372036854775808 → 500 (OverflowError in sqlite3)."""
    for params in ({"offset": 2**63}, {"offset": 10**40}, {"offset": -1}, {"limit": 2**63}, {"limit": 0}):
        response = client.get("/api/articles", params=params)
        assert response.status_code == 400 and "error" in response.json(), (params, response.text[:200])
    last = client.get("/api/articles", params={"offset": 2**63 - 1})
    assert last.status_code == 200 and last.json()["articles"] == []
    assert client.get("/api/search", params={"q": "bread", "k": 2**63}).status_code == 400


# --- finding 10: the API's as-of is today by default ------------------------------------------------------
def test_the_api_asks_as_of_today_by_default(client: httpx.Client) -> None:
    """Before: without as_of, an article dated 9999-12-31 was cited and "this week" had no window."""
    dated = client.post("/api/ask", json={"question": CAPSULE_QUESTION, "as_of": "9999-12-31"}).json()
    assert "77" in dated["answer"] and dated["citations"][0]["doc_id"] == "capsule"  # the test can fail
    default = client.post("/api/ask", json={"question": CAPSULE_QUESTION}).json()
    assert all(c["doc_id"] != "capsule" for c in default["citations"]) and "77" not in default["answer"]
    today = date.today()
    week = DateWindow(shifted(today, -6), today, "this week").label
    answer = client.post("/api/ask", json={"question": "Which bread did the judges praise this week?"}).json()
    assert any(week in note for note in answer["notes"]), answer["notes"]
    hits = client.get("/api/search", params={"q": "time capsule brass keys"}).json()["hits"]
    assert all(h["doc_id"] != "capsule" for h in hits)
    schema = client.get("/api/openapi.json").json()
    assert "default: today" in json.dumps(schema["components"]["schemas"]["AskRequest"]["properties"]["as_of"])
