"""Exports of a conversation (Markdown, self-contained HTML) and `qa ask --format`: complete and escaped."""

from __future__ import annotations

import html
import re

from click.testing import CliRunner

from qa.interfaces.cli import main
from qa.interfaces.export import Exchange, conversation_html, conversation_markdown, md_escape
from tests.conftest import XSS_TITLE


def _conversation(assistant) -> list[Exchange]:
    questions = ["How many painted zebras were counted at the parade?", "Which bread did the judges praise?"]
    return [Exchange(q, assistant.ask(q, as_of="2026-12-01")) for q in questions]


def test_markdown_and_html_hold_every_marker_and_source(app_server) -> None:
    exchanges = _conversation(app_server.assistant)
    citations = [c for e in exchanges for c in e.answer.citations]
    assert len(citations) >= 2 and any(c.title == XSS_TITLE for c in citations)
    markdown, page = conversation_markdown(exchanges), conversation_html(exchanges)
    for exchange in exchanges:
        for c in exchange.answer.citations:
            assert f"[{c.n}]" in markdown and f">[{c.n}]</a>" in page
            assert c.date in markdown and c.date in page
            assert md_escape(c.title) in markdown and html.escape(c.title) in page
            if c.url.startswith("https://"):
                assert f"({c.url})" in markdown and f'href="{c.url}"' in page
    assert markdown.count("## ") == 2 and page.count("<section>") == 2


def test_exports_escape_hostile_article_text(app_server) -> None:
    exchanges = _conversation(app_server.assistant)
    markdown, page = conversation_markdown(exchanges), conversation_html(exchanges)
    for document in (markdown, page):
        assert not re.search(r"<(script|img)\b", document, re.IGNORECASE)
        targets = re.findall(r'href="([^"]*)"', document) + re.findall(r"\]\(([^)\s]*)\)", document)
        assert targets and not any(t.lower().startswith("javascript") for t in targets)
    assert "&lt;script&gt;" in page and "&lt;script&gt;" in markdown
    # Self-contained: no script, no outside asset; a CSP forbids loading any.
    assert "<script" not in page and not re.search(r'(src|href)="(?!#|https://example\.org)', page)
    assert "default-src 'none'" in page


def test_markdown_escaping_keeps_text_literal() -> None:
    assert md_escape("a [link](x) *bold* <b>&") == r"a \[link\](x) \*bold\* &lt;b&gt;&amp;"
    assert md_escape("1. not a list") == r"1\. not a list" and md_escape("# not a heading") == r"\# not a heading"
    assert md_escape("2025-12-05 plain") == "2025-12-05 plain"


def test_qa_ask_formats(built_collection) -> None:
    data = str(built_collection.config.data_dir)
    question = "Which bread did the judges praise?"
    markdown = CliRunner().invoke(main, ["--data-dir", data, "ask", question, "--format", "md"]).output
    assert markdown.startswith("# Questions and answers") and "**Sources**" in markdown and "[1]" in markdown
    text = CliRunner().invoke(main, ["--data-dir", data, "ask", question, "--format", "text"]).output
    assert "Sources:" in text and "sourdough rye" in text
    result = CliRunner().invoke(main, ["--data-dir", data, "ask", question, "--format", "json"])
    assert '"doc_id": "bakery"' in result.output
