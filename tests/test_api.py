"""The REST API against a live server (httpx): every route, credentials, SSE order, limits, concurrency."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED_TITLE, _free_port, app_corpus

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

USER, PASSWORD, TOKEN = "ann", "right-pass", "tok-5d1c"
QUESTION = "Which bread did the judges praise?"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """The app with a login and an API token, over the app corpus; yields an authenticated httpx client."""
    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("api")
    config = Config.load(env={"QA_AUTH": f"{USER}:{PASSWORD}", "QA_API_TOKEN": TOKEN, "QA_MAX_UPLOAD_MB": "0.05"},
                         data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([app_corpus(root / "corpus")])
    assistant.warm_up()
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    base = f"http://127.0.0.1:{config.port}"
    with httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=60) as client:
        yield client
    web.close()
    assistant.collection.close()


def test_every_route_needs_credentials(api: httpx.Client) -> None:
    anonymous = httpx.Client(base_url=str(api.base_url), timeout=30)
    for method, path in [("POST", "/api/ask"), ("GET", "/api/search?q=bread"), ("GET", "/api/stats"),
                         ("GET", "/api/articles"), ("GET", "/api/articles/bakery"), ("POST", "/api/articles"),
                         ("DELETE", "/api/articles/bakery"), ("GET", "/api/docs"), ("GET", "/api/openapi.json")]:
        response = anonymous.request(method, path, json={"question": QUESTION} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert "error" in response.json() and response.headers["www-authenticate"].startswith("Basic")
    wrong = anonymous.get("/api/stats", auth=(USER, "nope"))
    assert wrong.status_code == 401
    bearer = anonymous.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and bearer.json()["articles"] == 5


def test_ask_answers_with_citations_as_json(api: httpx.Client) -> None:
    response = api.post("/api/ask", json={"question": QUESTION, "as_of": "2026-12-01"})
    assert response.status_code == 200
    body = response.json()
    assert not body["abstained"] and "sourdough rye" in body["answer"] and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert {"n", "doc_id", "title", "date", "source", "url", "quote", "start", "end"} <= citation.keys()
    assert citation["doc_id"] == "bakery" and citation["n"] == 1
    assert {"related", "notes", "timings_ms"} <= body.keys()
    follow = api.post("/api/ask", json={"question": "Who owns it?", "history": [
        {"question": QUESTION, "answer": body["answer"]}]}).json()
    assert "Maria Keller" in follow["answer"]
    earlier = api.post("/api/ask", json={"question": QUESTION, "as_of": "2024-05-01"}).json()
    assert all(c["doc_id"] != "bakery" for c in earlier["citations"])
    filtered = api.post("/api/ask", json={"question": QUESTION, "filters": {"sources": ["Sky Weekly"]}}).json()
    assert all(c["source"] == "Sky Weekly" for c in filtered["citations"])


def test_ask_streams_server_sent_events_in_order(api: httpx.Client) -> None:
    events = []
    with api.stream("POST", "/api/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "answer" and "delta" in kinds
    assert kinds.index("delta") > kinds.index("status") and kinds.count("answer") == 1
    text = "".join(data["text"] for kind, data in events if kind == "delta")
    assert text == events[-1][1]["answer"] and events[-1][1]["citations"]
    accept = api.post("/api/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
    assert accept.text.startswith("event: status")


def test_bad_requests_get_400_with_a_message(api: httpx.Client) -> None:
    for body in ({"question": ""}, {"question": QUESTION, "as_of": "2024-02-30"}, {"nothing": 1},
                 {"question": QUESTION, "filters": {"since": "2025-01-01", "until": "2024-01-01"}}):
        response = api.post("/api/ask", json=body)
        assert response.status_code == 400 and response.json()["error"], body
    assert api.get("/api/search", params={"q": "bread", "k": 0}).status_code == 400
    assert api.get("/api/articles/no-such-article").status_code == 404
    assert api.delete("/api/articles/no-such-article").status_code == 404


def test_search_stats_articles_and_docs(api: httpx.Client) -> None:
    hits = api.get("/api/search", params={"q": "comet telescope", "k": 2}).json()["hits"]
    assert len(hits) == 2 and hits[0]["doc_id"] == "comet" and {"title", "text", "score", "date"} <= hits[0].keys()
    only = api.get("/api/search", params={"q": "bridge", "source": "Sky Weekly"}).json()["hits"]
    assert {h["source"] for h in only} <= {"Sky Weekly"}
    stats = api.get("/api/stats").json()
    assert stats["articles"] >= 5 and stats["building"] is False and "Daily Loaf" in stats["sources"]
    page = api.get("/api/articles", params={"offset": 1, "limit": 2}).json()
    assert page["total"] >= 5 and len(page["articles"]) == 2 and page["offset"] == 1
    whole = api.get("/api/articles", params={"limit": 500}).json()["articles"]
    assert [a["doc_id"] for a in whole[1:3]] == [a["doc_id"] for a in page["articles"]]
    seed = next(a for a in whole if a["title"] == SEED_TITLE)
    assert "Yokosuka" in api.get(f"/api/articles/{seed['doc_id']}").json()["text"]
    docs = api.get("/api/docs")
    assert docs.status_code == 200 and "/api/ask" in docs.text and "<script" not in docs.text
    schema = api.get("/api/openapi.json").json()
    assert {"/ask", "/search", "/stats", "/articles", "/articles/{article_id}"} <= schema["paths"].keys()


def test_articles_can_be_added_and_removed(api: httpx.Client, tmp_path: Path) -> None:
    story = tmp_path / "harbour.txt"
    story.write_text("Harbour crane collapses\n\nA crane collapsed at the Eastport harbour on Sunday night.\n")
    report = api.post("/api/articles", files=[("files", (story.name, story.read_bytes(), "text/plain"))]).json()
    assert report["added"] == ["Harbour crane collapses"] and report["rejected"] == []
    answer = api.post("/api/ask", json={"question": "What collapsed at the Eastport harbour?"}).json()
    assert "crane" in answer["answer"]
    record = api.post("/api/articles", json={"title": "Museum reopens", "text": "The city museum reopened on "
                                             "Saturday after a two-year renovation.", "date": "2026-11-30",
                                             "source": "Town Crier", "url": "https://example.org/museum"}).json()
    assert record["added"] == ["Museum reopens"]
    added = next(a for a in api.get("/api/articles", params={"limit": 500}).json()["articles"]
                 if a["title"] == "Museum reopens")
    assert added["source"] == "Town Crier" and added["date"] == "2026-11-30"
    assert api.delete(f"/api/articles/{added['doc_id']}").json() == {"removed": ["Museum reopens"]}
    assert api.get(f"/api/articles/{added['doc_id']}").status_code == 404


def test_upload_limits_and_bad_uploads(api: httpx.Client) -> None:
    big = b"Big\n\n" + b"word " * 20_000  # 100 kB, over the 0.05 MB limit of this server
    response = api.post("/api/articles", files=[("files", ("big.txt", big, "text/plain"))])
    assert response.status_code == 413 and "upload limit" in response.json()["error"]
    response = api.post("/api/articles", json={"title": "Big", "text": "word " * 20_000})
    assert response.status_code == 413
    response = api.post("/api/articles", files=[("files", ("notes.exe", b"MZ", "application/octet-stream"))])
    assert response.status_code == 400 and "unsupported file type" in response.json()["error"]
    assert api.post("/api/articles", json={"title": "", "text": "x"}).status_code == 400
    assert api.post("/api/articles", content=b"plain", headers={"Content-Type": "text/plain"}).status_code == 400


def test_four_clients_at_once(api: httpx.Client) -> None:
    questions = [QUESTION, "Who spotted the new comet?", "How much did the bridge cost?",
                 "How many painted zebras were counted?"] * 2
    errors: list[str] = []
    lock = threading.Lock()

    def one(question: str) -> str:
        with httpx.Client(base_url=str(api.base_url), auth=(USER, PASSWORD), timeout=60) as client:
            response = client.post("/api/ask", json={"question": question})
            if response.status_code != 200:
                with lock:
                    errors.append(response.text)
            return response.json()["answer"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, questions))
    assert not errors
    assert "sourdough rye" in answers[0] and "240 million" in answers[2] and "312" in answers[3]

