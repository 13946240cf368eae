"""The web app through its API (gradio_client against the launched app), plus its pure helpers."""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from conftest import SEED_TITLE, XSS_MARKUP

# Gradio's queue statistics use pandas options that pandas 3 deprecates; not this app's concern.
pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

SEED_QUESTION = "Who hosted South Korean President Lee Jae Myung?"


# --- helpers ------------------------------------------------------------------------------------------
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False, analytics_enabled=False)


def text_of(message: dict) -> str:
    """A chat message's content as one string (Gradio may return a list of blocks)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return "".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in content)


def ask(c, question: str, sources: list[str] | None = None, since: str = "", until: str = "", as_of: str = ""):
    """Asks through ``/ask``; returns (chat messages, sources HTML)."""
    chat, panel, _question = c.predict(question, False, sources or [], since, until, as_of, api_name="/ask")
    return chat, panel


def plain(markup: str) -> str:
    """Message HTML without tags, unescaped: what a reader sees."""
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", markup))


# --- through the API ------------------------------------------------------------------------------------
def test_cited_answer_with_sources_panel(app_server):
    c = client(app_server)
    chat, panel = ask(c, SEED_QUESTION)
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = text_of(chat[-1])
    assert "Sanae Takaichi" in plain(answer)
    assert '<a href="#src-1-1" class="cite" data-turn="1" data-n="1"' in answer
    assert 'id="src-1-1"' in panel and html.escape(SEED_TITLE) in panel
    mark = panel.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert "Prime Minister Sanae Takaichi hosted South Korean President Lee Jae Myung" in plain(mark)
    assert '<b class="qa-answer-span">Prime Minister Sanae Takaichi</b>' in mark  # "who": the person, in bold
    assert "Japan Today" in panel and "2026-01-30" in panel
    assert panel.count('class="qa-card"') == answer.count('class="cite"')  # exactly the cited sources


def test_follow_up_keeps_each_answers_sources(app_server):
    c = client(app_server)
    ask(c, "What did Japan's and South Korea's defense ministers agree on in Yokosuka?")
    chat, panel = ask(c, "And what did Koizumi tell reporters afterwards?")
    assert len(chat) == 4
    assert "key roles in regional security" in plain(text_of(chat[-1]))
    assert 'data-turn="2"' in text_of(chat[-1])
    assert 'id="qa-turn-2" data-turn="2" open' in panel  # newest group open ...
    assert 'id="qa-turn-1" data-turn="1">' in panel  # ... the earlier one kept, collapsed
    assert panel.index("qa-turn-2") < panel.index("qa-turn-1")
    chat, panel, question, _exports = c.predict(api_name="/new_chat")
    assert chat == [] and "qa-turn" not in panel and question == ""


def test_unanswerable_question_abstains_with_related_passages(app_server):
    chat, panel = ask(client(app_server), "What is Japan's defense budget for 2026?")
    answer = plain(text_of(chat[-1]))
    assert "The articles don't say." in answer
    assert 'class="cite"' not in text_of(chat[-1])
    assert "Related passages" in panel and "qa-related-item" in panel
    assert 'id="src-' not in panel and "qa-num" not in panel  # no citation numbers


def test_filters_restrict_and_bad_dates_are_explained(app_server):
    c = client(app_server)
    chat, _ = ask(c, "Which bakery won the national bread prize?", since="2025-13-01")
    message = plain(text_of(chat[-1]))
    assert "Filter problem" in message and "YYYY-MM-DD" in message
    chat, _ = ask(c, "Which bakery won the national bread prize?", since="2025-06-01", until="2025-01-01")
    assert "is after" in plain(text_of(chat[-1]))
    chat, _ = ask(c, "Which bakery won the national bread prize?", sources=["Sky Weekly"])
    assert "Elmsworth" not in plain(text_of(chat[-1]))
    chat, panel = ask(c, "Which bakery won the national bread prize?", sources=["Daily Loaf"])
    assert "Elmsworth" in plain(text_of(chat[-1])) and "Village bakery wins national bread prize" in panel


def test_hostile_article_is_escaped_everywhere(app_server):
    chat, panel = ask(client(app_server), "How many painted zebras were counted at the Quillton parade?")
    answer = text_of(chat[-1])
    assert "312" in plain(answer)
    for markup in (answer, panel):
        assert "<script" not in markup and "<img" not in markup and "<b>" not in markup
        assert 'href="javascript' not in markup.lower() and "href='javascript" not in markup.lower()
    assert html.escape(XSS_MARKUP) in panel  # shown as text
    assert "&lt;b&gt;Evil&lt;/b&gt; Gazette" in panel
    assert "Licence: &lt;a href=" in panel


def test_upload_paste_and_remove(app_server, tmp_path: Path):
    from gradio_client import handle_file

    c = client(app_server)
    upload = tmp_path / "guild news (final).txt"
    upload.write_text("Glassblowers elect a new master\n\nThe glassblowers' guild of Vellmar elected Tomasz Orrin "
                      "as its new master on Sunday. Orrin has blown glass for forty years.\n", encoding="utf-8")
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ\x00\x01")
    report, header, articles, *_ = c.predict([handle_file(upload)], api_name="/add_files")
    assert "Added (1)" in report and "Glassblowers elect a new master" in report
    assert "Glassblowers elect a new master" in articles and "6 articles" in plain(header).replace(",", "")
    stored = app_server.config.data_dir / "uploads" / "guild_news_final.txt"
    assert stored.is_file()
    chat, panel = ask(c, "Who did the glassblowers' guild of Vellmar elect as its new master?")
    assert "Tomasz Orrin" in plain(text_of(chat[-1])) and "Glassblowers elect a new master" in panel

    report, *_ = c.predict("Lighthouse keeper retires", "Keeper Agnes Wyle retired from the Dunmore lighthouse "
                           "after thirty-one years of service on Friday.", api_name="/add_text")
    assert "Added (1)" in report and "Lighthouse keeper retires" in report
    chat, _ = ask(c, "Who retired from the Dunmore lighthouse?")
    assert "Agnes Wyle" in plain(text_of(chat[-1]))
    pasted = [p.name for p in (app_server.config.data_dir / "uploads").iterdir() if p.name.startswith("pasted-")]
    assert len(pasted) == 1 and pasted[0].endswith(".txt")

    article_id = next(s.article.id for s in app_server.assistant.collection.store.articles()
                      if s.article.title == "Glassblowers elect a new master")
    report, header, articles, *_ = c.predict(article_id, api_name="/remove_article")
    assert "Removed: Glassblowers elect a new master" in report
    assert "Glassblowers elect a new master" not in articles
    report, *_ = c.predict("/", api_name="/remove_article")  # ids only, never a path
    assert "No article with id" in report
    lighthouse = next(s.article.id for s in app_server.assistant.collection.store.articles()
                      if s.article.title == "Lighthouse keeper retires")
    c.predict(lighthouse, api_name="/remove_article")
    assert app_server.assistant.collection.stats().articles == 5


def test_four_simultaneous_clients_get_their_own_answers(app_server):
    cases = {
        SEED_QUESTION: "Sanae Takaichi",
        "Which bakery won the national bread prize?": "Elmsworth",
        "What is the name of the new comet the amateur astronomer spotted?": "C/2025 K3",
        "How much did the new cable-stayed bridge cost?": "240 million",
    }
    titles = dict(zip(cases, [SEED_TITLE, "Village bakery wins national bread prize",
                              "Amateur astronomer spots new comet", "City opens cable-stayed bridge over river"]))
    clients = [client(app_server) for _ in cases]
    start = threading.Barrier(len(cases))
    results: dict[str, tuple] = {}
    errors: list[BaseException] = []

    def run(c, question: str) -> None:
        try:
            start.wait(timeout=30)
            results[question] = ask(c, question)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c, q)) for c, q in zip(clients, cases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for question, expected in cases.items():
        chat, panel = results[question]
        assert len(chat) == 2 and question in plain(text_of(chat[0]))  # no one else's history
        assert expected in plain(text_of(chat[1]))
        assert html.escape(titles[question]) in panel
        assert all(html.escape(t) not in panel for q, t in titles.items() if q != question)
        for other, other_expected in cases.items():
            if other != question:
                assert other_expected not in plain(text_of(chat[1]))


def test_questions_asked_while_the_index_builds_wait_and_are_answered(app_server):
    """Never "ask again": the chat shows the build's progress, then the answer (page and REST API alike)."""
    import time

    import httpx
    from conftest import _free_port
    from gradio_client import Client

    import app
    from qa.interfaces.ui.startup import Startup

    startup = Startup()
    startup.building("embedding 180 of 284 passages")
    port = _free_port()
    web = app.build_app(app_server.assistant, app_server.config, startup)
    web.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
        job = c.submit(SEED_QUESTION, False, [], "", "", "", api_name="/ask")
        deadline = time.monotonic() + 30
        while not job.outputs() and time.monotonic() < deadline:
            time.sleep(0.1)
        waiting = plain(text_of(job.outputs()[-1][0][-1]))
        assert "Building the index (embedding 180 of 284 passages" in waiting and not job.done()
        refused = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": SEED_QUESTION, "wait": False})
        assert refused.status_code == 503 and "being built" in refused.json()["error"]
        assert refused.headers["retry-after"]
        startup.done()
        chat, panel, _ = job.result(timeout=60)
        assert "Sanae Takaichi" in plain(text_of(chat[-1])) and len(chat) == 2
        assert html.escape(SEED_TITLE) in panel
    finally:
        web.close()


def test_llm_checkbox_only_when_an_llm_is_configured(app_server):
    from dataclasses import replace

    import gradio as gr

    import app

    def llm_boxes(config):
        demo = app.build_app(app_server.assistant, config).demo
        return [b for b in demo.blocks.values() if isinstance(b, gr.Checkbox) and "Use LLM" in str(b.label)]

    [box] = llm_boxes(app_server.config)
    assert box.visible is False
    [box] = llm_boxes(replace(app_server.config, llm_base_url="http://127.0.0.1:9/v1", llm_model="tiny-chat"))
    assert box.visible is True and box.label == "Use LLM (tiny-chat)"


# --- helpers without a server -----------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [
    ("report.txt", "report.txt"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win\\evil.MD", "evil.md"),
    ("a b/c d (1).html", "c_d_1.html"),
    (".hidden.json", "hidden.json"),
    ("...", "upload"),
    ("x..y..z.txt", "x.y.z.txt"),
    ("<script>.pdf", "script.pdf"),
    ("naïve café.txt", "na_ve_caf.txt"),
    ("noext", "noext"),
])
def test_safe_filename(given: str, expected: str):
    from qa.interfaces.ui.files import safe_filename

    assert safe_filename(given) == expected


def test_save_uploads_enforces_type_size_and_count(tmp_path: Path):
    from qa.interfaces.ui.files import UploadError, save_uploads

    folder = tmp_path / "uploads"
    folder.mkdir()
    small = tmp_path / "ok.txt"
    small.write_text("Title\n\nBody text here.", encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 * 1024 * 1024))
    odd = tmp_path / "tool.exe"
    odd.write_bytes(b"x")
    accepted = save_uploads([str(small), str(big), str(odd)], folder, max_mb=1, max_files=5)
    assert accepted.paths == [folder.resolve() / "ok.txt"]
    reasons = dict(accepted.rejected)
    assert "over the 1 MB upload limit" in reasons["big.txt"]
    assert "unsupported file type" in reasons["tool.exe"]
    with pytest.raises(UploadError, match="at most 2"):
        save_uploads([str(small)] * 3, folder, max_mb=1, max_files=2)
    with pytest.raises(UploadError):
        save_uploads([], folder, max_mb=1, max_files=2)


def test_write_pasted_uses_a_generated_name(tmp_path: Path):
    from qa.interfaces.ui.files import UploadError, write_pasted

    path = write_pasted("../../Évil <b>title</b>\nline", "Some text.", tmp_path, max_mb=1)
    assert path.parent == tmp_path and path.name.startswith("pasted-") and path.suffix == ".txt"
    assert "/" not in path.name[len("pasted-"):] and ".." not in path.name
    assert path.read_text(encoding="utf-8").startswith("../../Évil <b>title</b> line\n\nSome text.")
    with pytest.raises(UploadError, match="title"):
        write_pasted("  ", "text", tmp_path, max_mb=1)
    with pytest.raises(UploadError, match="text"):
        write_pasted("Title", " \n ", tmp_path, max_mb=1)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://example.org/a?b=1", True), ("http://example.org", True), ("javascript:alert(1)", False),
    ("JAVASCRIPT:alert(1)", False), (" javascript:alert(1)", False), ("data:text/html,x", False),
    ("//example.org", False), ("https://exa mple.org", False), ("https:///nohost", False), (None, False),
])
def test_only_http_urls_become_links(url, ok):
    from qa.interfaces.ui.render import safe_url

    assert (safe_url(url) is not None) is ok


def test_render_escapes_answer_and_cards():
    from qa.interfaces.ui.render import answer_message, source_card
    from qa.types import Answer, Citation

    quote = "Tom said <b>hi</b> & left."
    passage = f"Before *not markdown*. {quote} After [2] text."
    citation = Citation(n=1, article_id="a", chunk_id="a#0", quote=quote, start=100 + passage.index(quote),
                        end=100 + passage.index(quote) + len(quote), title="<i>T</i>", url="javascript:x",
                        source="S", date="2024-01-01", passage=passage, passage_start=100)
    answer = Answer(question="q", text=f"{quote} [1] and [7].", citations=[citation])
    message = answer_message(answer, 3)
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; left." in message and "<b>" not in message
    assert '<a href="#src-3-1" class="cite" data-turn="3" data-n="1"' in message
    assert "[7]" in message and "#src-3-7" not in message  # only real citations become links
    assert "\n\n" not in message
    card = source_card(citation, 3, licence="<CC>")
    assert 'id="src-3-1"' in card and "&lt;i&gt;T&lt;/i&gt;" in card and "javascript" not in card
    assert "<mark>Tom said &lt;b&gt;hi&lt;/b&gt; &amp; left.</mark>" in card
    assert "Licence: &lt;CC&gt;" in card


def test_parse_filters():
    from qa.interfaces.ui.chat import parse_filters

    assert parse_filters([], "", " ") is None
    filters = parse_filters(["A"], "2024-01-01", "2024-12-31")
    assert filters.sources == ("A",) and filters.since == "2024-01-01" and filters.until == "2024-12-31"
    for since, until, message in [("2024-1-1", "", "YYYY-MM-DD"), ("2024-02-30", "", "not a real date"),
                                  ("2024-05-01", "2024-04-01", "is after")]:
        with pytest.raises(ValueError, match=message):
            parse_filters([], since, until)


def test_core_errors_become_a_friendly_message():
    from qa.interfaces.ui.chat import ask_stream

    class Broken:
        def stream(self, *args, **kwargs):
            yield from ()
            raise RuntimeError("index file vectors.3.faiss is damaged")

    *_, (chat, panel, turns) = ask_stream(Broken(), "Anything?", [])
    assert panel is None and turns[-1].answer is None
    message = chat[-1]["content"]
    assert "Sorry, something went wrong" in message and "Traceback" not in message


def test_parse_auth(tmp_path: Path):
    from qa.interfaces.ui.auth import parse_auth

    assert parse_auth("") is None
    assert parse_auth("ann:pw1, bob:p:w2") == [("ann", "pw1"), ("bob", "p:w2")]
    users = tmp_path / "users"
    users.write_text("# people\nann:secret\n\ncid:x\n", encoding="utf-8")
    assert parse_auth(str(users)) == [("ann", "secret"), ("cid", "x")]
    with pytest.raises(ValueError):
        parse_auth("nobody")
    with pytest.raises(ValueError, match="entry 1"):
        parse_auth("ann:")


def test_launch_kwargs_are_private_by_default():
    import app
    from qa.config import Config

    kwargs = app.launch_kwargs(Config.load(env={}))
    assert kwargs["share"] is False and kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == 7860
    assert kwargs["auth"] is None and "cite" in kwargs["js"] and ".qa-card" in kwargs["css"]
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    kwargs = app.launch_kwargs(Config.load(env={"QA_AUTH": "ann:pw", "QA_PORT": "8001"}))
    assert kwargs["auth"] == [("ann", "pw")] and kwargs["server_port"] == 8001
    assert app.example_questions()[0].startswith("What did Japan's and South Korea's defense ministers")
