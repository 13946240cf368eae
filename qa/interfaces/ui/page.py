"""The page's event handlers (Gradio): each returns updates keyed by component, over the same Assistant and
Library as the REST API. The layout and the wiring live in ``app.py``."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from qa.assistant import Assistant
from qa.config import Config
from qa.ingest.pipeline import IngestProgress
from qa.interfaces.export import conversation_html, conversation_markdown
from qa.interfaces.sources.panel import WebPanel, header_freshness
from qa.interfaces.ui import render
from qa.interfaces.ui.chat import ask_stream, parse_as_of, parse_filters, refuse, wait_for_index
from qa.interfaces.ui.files import UploadError, shorten_paths
from qa.interfaces.ui.library import Library
from qa.interfaces.ui.startup import Startup
from qa.interfaces.ui.turns import ChatTurn
from qa.text.timeframe import today

log = logging.getLogger("qa.app")


@dataclass
class Components:
    """The page's components that handlers read or update."""

    header: gr.HTML
    banner: gr.HTML
    turns: gr.State
    chatbot: gr.Chatbot
    question: gr.Textbox
    as_of: gr.Textbox
    use_llm: gr.Checkbox
    source_filter: gr.Dropdown
    since: gr.Textbox
    until: gr.Textbox
    sources: gr.HTML
    ask_button: gr.Button
    new_chat_button: gr.Button
    export_button: gr.Button
    exports: gr.File
    files: gr.File
    replace: gr.Checkbox
    add_files_button: gr.Button
    add_text_button: gr.Button
    remove_button: gr.Button
    paste_title: gr.Textbox
    paste_text: gr.Textbox
    report: gr.HTML
    remove_choice: gr.Dropdown
    articles: gr.HTML
    web: WebPanel | None = None  # the link field and the Feeds panel (qa.interfaces.sources.panel)

    @property
    def library(self) -> list[Any]:
        """What :meth:`Page.library_view` updates."""
        return [self.header, self.articles, self.remove_choice, self.source_filter]


Updates = dict[Any, Any]


class Page:
    """The page's event handlers, over the same Assistant and Library as the REST API; each returns
    updates keyed by component (only what changes)."""

    def __init__(self, assistant: Assistant, config: Config, startup: Startup, ui: Components) -> None:
        self.assistant = assistant
        self.config = config
        self.startup = startup
        self.ui = ui
        self.library = Library(assistant.collection, config)

    def library_view(self) -> Updates:
        """Header, article list, remove choices and source filter as the collection now is."""
        collection = self.assistant.collection
        stats, stored = collection.stats(), collection.store.articles()
        fresh = header_freshness(self.config, stats.last_date)
        return {self.ui.header: render.header(stats, self.config, fresh),
                self.ui.articles: render.articles_table(stored),
                self.ui.remove_choice: gr.Dropdown(choices=render.remove_choices(stored), value=None),
                self.ui.source_filter: gr.Dropdown(choices=stats.sources)}

    def ask(self, question: str, use_llm: bool, sources: list[str] | None, since: str, until: str, as_of: str,
            turns: list[ChatTurn] | None) -> Iterator[Updates]:
        """Streams one answer; while the index is being built, shows its progress and then answers."""
        turns = list(turns or [])
        ui = self.ui
        for chat, _, _ in wait_for_index(self.startup, question or "", turns):
            yield {ui.chatbot: chat}
        if not self.startup.ready:
            chat, _, turns = refuse(question, turns, f"The index is still being built ({self.startup.message()}).")
            yield {ui.chatbot: chat, ui.turns: turns}
            return
        try:
            filters = parse_filters(sources, since, until)
            day = parse_as_of(as_of)
        except ValueError as error:
            chat, _, turns = refuse(question, turns, f"Filter problem: {error}")
            yield {ui.chatbot: chat, ui.turns: turns}
            return
        llm = bool(use_llm) if self.config.llm_enabled else None
        for chat, sources_html, new_turns in ask_stream(self.assistant, question or "", turns, filters, llm,
                                                        self._licence_of, as_of=day):
            update = {ui.chatbot: chat, ui.turns: new_turns, ui.question: ""}
            if sources_html is not None:
                update[ui.sources] = sources_html
            yield update

    def new_chat(self) -> Updates:
        """An empty conversation."""
        return {self.ui.chatbot: [], self.ui.sources: render.sources_panel([]), self.ui.turns: [],
                self.ui.question: "", self.ui.exports: gr.File(value=None, visible=False)}

    def export(self, turns: list[ChatTurn] | None, as_of: str) -> Updates:
        """The conversation as a Markdown and a self-contained HTML file, offered for download."""
        turns = [t for t in (turns or []) if t.answer is not None or t.error]
        if not turns:
            return {self.ui.exports: gr.File(value=None, visible=False)}
        cache = Path(gradio_upload_folder())
        cache.mkdir(parents=True, exist_ok=True)  # Gradio names its cache but makes it only at the first upload
        folder = Path(tempfile.mkdtemp(prefix="qa-export-", dir=cache))
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
        subtitle = f"Exported {stamp}; questions asked as of {(as_of or '').strip() or today()}."
        markdown, page = folder / "conversation.md", folder / "conversation.html"
        markdown.write_text(conversation_markdown(turns, "News Q&A", subtitle), encoding="utf-8")
        page.write_text(conversation_html(turns, "News Q&A", subtitle), encoding="utf-8")
        return {self.ui.exports: gr.File(value=[str(markdown), str(page)], visible=True)}

    def add_files(self, files: list[str] | None, replace: bool = False,
                  progress=gr.Progress()) -> Updates:  # noqa: B008 (gradio's idiom)
        """Saves and ingests uploaded files (a file under a stored name is added beside it unless ``replace``);
        reports what happened to each."""
        try:
            added = self.library.add_files(files or [], _progress(progress), gradio_upload_folder(),
                                           replace=bool(replace))
            notes = render.notice("; ".join(added.notes), "info") if added.notes else ""
            message = notes + render.ingest_report(added.report, added.rejected, shorten_paths(self.library.uploads))
            cleared = None
        except UploadError as error:
            message, cleared = render.notice(str(error), "error"), gr.skip()
        except Exception as error:
            log.exception("upload failed")
            message, cleared = render.notice(f"The upload failed: {error}", "error"), gr.skip()
        return {self.ui.report: message, self.ui.files: cleared, **self.library_view()}

    def add_text(self, title: str, text: str, progress=gr.Progress()) -> Updates:  # noqa: B008
        """Ingests a pasted article."""
        try:
            report = self.library.add_text(title, text, _progress(progress))
        except UploadError as error:
            return {self.ui.report: render.notice(str(error), "error"), **self.library_view()}
        except Exception as error:
            log.exception("adding pasted text failed")
            return {self.ui.report: render.notice(f"Adding the text failed: {error}", "error"), **self.library_view()}
        return {self.ui.report: render.ingest_report(report, (), shorten_paths(self.library.uploads)),
                self.ui.paste_title: "", self.ui.paste_text: "", **self.library_view()}

    def remove_article(self, article_id: str | None) -> Updates:
        """Removes the chosen article (ids only, never paths)."""
        article_id = (article_id or "").strip()
        if not article_id:
            return {self.ui.report: render.notice("Choose an article to remove first.", "error"), **self.library_view()}
        try:
            titles = self.library.remove(article_id)
        except KeyError:
            message = render.notice(f"No article with id “{article_id}”.", "error")
        except Exception as error:
            log.exception("removing %s failed", article_id)
            message = render.notice(f"Removing failed: {error}", "error")
        else:
            message = render.notice(f"Removed: {'; '.join(titles) or article_id}", "ok")
        return {self.ui.report: message, **self.library_view()}

    def startup_tick(self) -> Updates:
        """Once a second while the index builds: the banner's progress line, then the page as built."""
        if self.startup.ready:
            return {self.ui.banner: gr.HTML(visible=False), **self.library_view()}
        return {self.ui.banner: gr.HTML(render.building_banner(self.startup.message()), visible=True)}

    def _licence_of(self, article_id: str) -> str | None:
        article = self.assistant.collection.store.article(article_id)
        return article.license if article is not None else None


def _progress(progress: gr.Progress) -> Callable[[IngestProgress], None]:
    """Ingest progress shown on the page: waiting for another writer, files read, passages embedded."""
    progress(0, desc="Reading files…")

    def step(p: IngestProgress) -> None:
        if p.waiting:
            progress(0, desc=p.waiting[0].upper() + p.waiting[1:])
        elif p.chunks_pending:
            done = p.chunks_embedded
            progress((done, done + p.chunks_pending), desc="Embedding passages", unit="passages")
        else:
            progress((p.files_done, p.files_total), desc=f"Reading files ({p.chunks_embedded} passages embedded)",
                     unit="files")

    return step


def gradio_upload_folder() -> str:
    """Where Gradio puts uploads before a handler sees them (GRADIO_TEMP_DIR or the system temp folder)."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()

