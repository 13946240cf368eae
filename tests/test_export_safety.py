"""Links planted in articles stay text (issue 21 finding 8): the Markdown export and `qa ask --format md`
escape link syntax in quoted text everywhere, the answer line included; URLs that are not http(s) are
dropped from JSON, exports and the page, all by one rule (:func:`qa.text.markup.safe_url`)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from qa.interfaces.cli import main
from qa.interfaces.export import Exchange, answer_json, answer_text, conversation_html, conversation_markdown, md_escape
from qa.interfaces.ui import render
from qa.interfaces.ui.turns import ChatTurn
from qa.text.markup import safe_url
from qa.types import Answer, Citation
from tests.conftest import assistant_over

PLANTED = ("The climb to the Orvel lighthouse takes 120 steps [2](https://evil.example/phish) and "
           "ends at a lamp room [1](javascript:alert(document.domain)) above the harbour.")
HOSTILE = [
    {"id": "lighthouse", "title": "Orvel lighthouse reopens to visitors", "date": "2025-03-02",
     "source": "Harbour News", "url": "javascript:alert(1)",
     "text": f"{PLANTED} The lighthouse reopened on Sunday after a two-year restoration."},
    {"id": "ferry", "title": "Ferry timetable changes", "date": "2025-03-01", "source": "Harbour News",
     "url": "https://example.org/ferry",
     "text": "The morning ferry to Orvel now leaves at 7:40. It reaches the lighthouse pier in 35 minutes."},
]
QUESTION = "How many steps does the climb to the Orvel lighthouse take?"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    """An Assistant over :data:`HOSTILE`, and its answer to :data:`QUESTION` (which quotes the planted links)."""
    assistant = assistant_over(HOSTILE, tmp_path_factory.mktemp("hostile"))
    answer = assistant.ask(QUESTION, as_of="2025-12-01")
    assert not answer.abstained and "[2](https://evil.example/phish)" in answer.text
    yield assistant, answer
    assistant.collection.close()


def _markdown_links(markdown: str) -> list[str]:
    """Every link and image target a CommonMark renderer makes of ``markdown``."""
    rendered = MarkdownIt("commonmark").render(markdown)
    return re.findall(r'(?:href|src)="([^"]*)"', rendered)


def _unsafe(targets: list[str]) -> list[str]:
    return [t for t in targets if (not t.startswith("#") and safe_url(t) is None) or "evil.example" in t]


def test_markdown_export_keeps_planted_links_as_text(hostile) -> None:
    """Before: the answer line carried both planted links, live; the sources list escaped them."""
    _, answer = hostile
    markdown = conversation_markdown([Exchange(QUESTION, answer)])
    assert _unsafe(_markdown_links(markdown)) == []
    rendered = MarkdownIt("commonmark").render(markdown)
    assert "120 steps [2](https://evil.example/phish)" in rendered  # shown as the article wrote it
    for c in answer.citations:  # the app's own markers stay as they are
        assert f"[{c.n}]" in markdown.split("**Sources**")[0]


def test_qa_ask_format_md_and_json_drop_planted_links(hostile) -> None:
    assistant, _ = hostile
    data = str(assistant.config.data_dir)
    markdown = CliRunner().invoke(main, ["--data-dir", data, "ask", QUESTION, "--as-of", "2025-12-01",
                                         "--format", "md"])
    assert markdown.exit_code == 0 and "evil.example" in markdown.output
    assert _unsafe(_markdown_links(markdown.output)) == []
    result = CliRunner().invoke(main, ["--data-dir", data, "ask", QUESTION, "--as-of", "2025-12-01", "--json"])
    shown = json.loads(result.output)
    lighthouse = [c for c in shown["citations"] if c["doc_id"] == "lighthouse"]
    assert lighthouse and all(c["url"] is None for c in lighthouse)  # before: "javascript:alert(1)"
    assert all(s["url"] is None or s["url"].startswith("https://") for s in shown["sources"])


def test_search_json_drops_urls_that_are_not_http(hostile) -> None:
    assistant, _ = hostile
    result = CliRunner().invoke(main, ["--data-dir", str(assistant.config.data_dir), "search", "Orvel lighthouse",
                                       "--json"])
    hits = {h["article_id"]: h for h in json.loads(result.output)}
    assert hits["lighthouse"]["url"] is None and hits["ferry"]["url"] == "https://example.org/ferry"


def test_html_export_and_page_link_only_http_and_their_own_anchors(hostile) -> None:
    _, answer = hostile
    page = conversation_html([Exchange(QUESTION, answer)])
    turn = ChatTurn(QUESTION, answer)
    shown = render.answer_message(answer, 1) + render.sources_panel([turn])
    for document in (page, shown):
        targets = re.findall(r'href="([^"]*)"', document)
        assert targets and _unsafe(targets) == [] and not re.search(r'="\s*javascript:', document, re.IGNORECASE)
    for c in answer.citations:  # the markers still lead to their sources
        assert f'href="#s1-{c.n}"' in page and f'href="#src-1-{c.n}"' in shown


def _citation(url: str | None, n: int = 1) -> Citation:
    return Citation(n, "a", "a#0", "A quote.", 0, 8, "A title", "2025-01-01", "Src", url)


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>",
                                 "vbscript:msgbox(1)", "//evil.example/x", "https:evil.example", "file:///etc/passwd",
                                 "https://evil.example/a b", "https://evil.example/\x00"])
def test_every_output_drops_a_url_that_is_not_http(url: str) -> None:
    answer = Answer("Q?", "An answer [1].", [_citation(url)])
    data = answer_json(answer)
    assert data["citations"][0]["url"] is None and data["sources"][0]["url"] is None
    assert url.strip() not in answer_text(answer)
    assert _markdown_links(conversation_markdown([Exchange("Q?", answer)])) == []
    assert re.findall(r'href="([^"]*)"', conversation_html([Exchange("Q?", answer)])) == ["#s1-1"]
    card = render.source_card(answer.citations[0], 1)
    assert "href=" not in card


def test_an_http_url_is_kept_everywhere() -> None:
    url = "https://example.org/story?id=1"
    answer = Answer("Q?", "An answer [1].", [_citation(url)])
    assert answer_json(answer)["citations"][0]["url"] == url and url in answer_text(answer)
    assert _markdown_links(conversation_markdown([Exchange("Q?", answer)])) == [url]
    assert f'href="{url}"' in render.source_card(answer.citations[0], 1)


@pytest.mark.parametrize("text", ["[2](https://evil.example)", "[1]: https://evil.example", "[1][2]",
                                  "![1](https://evil.example/x.png)", "<https://evil.example>",
                                  "see https://evil.example now", "[9](javascript:alert(1))"])
def test_no_answer_line_makes_a_link(text: str) -> None:
    """Whatever the quoted text holds, the Markdown of an answer quoting it has no link but its sources'."""
    answer = Answer("Q?", f"{text} [1] and {text} [2]", [_citation(None), _citation(None, 2)])
    markdown = conversation_markdown([Exchange("Q?", answer)])
    assert _markdown_links(markdown) == []
    assert "[1]" in markdown and "[2]" in markdown


def test_markdown_escaping_of_bare_urls() -> None:
    assert md_escape("see https://evil.example") == r"see https\://evil.example"
    assert MarkdownIt("commonmark").render(md_escape("see https://evil.example")) == "<p>see https://evil.example</p>\n"


def test_related_passages_in_json_drop_urls_that_are_not_http(hostile) -> None:
    """Related passages (shown when abstaining) carry the same safe url as search hits."""
    assistant, _ = hostile
    answer = assistant.ask("Who painted the lighthouse keeper's portrait in Orvel?", as_of="2025-12-01")
    related = answer_json(answer)["related"]
    assert answer.abstained and any(p["doc_id"] == "lighthouse" for p in related)
    assert all(p["url"] is None for p in related if p["doc_id"] == "lighthouse")
