"""The web app: ``python app.py [--port N] [--host H] [--data-dir D]`` (or QA_PORT, QA_HOST, QA_DATA_DIR).

A thin Gradio shell over :class:`qa.assistant.Assistant`: retrieval and answers live in ``qa``, HTML in
``qa.ui``. Offline and private by default: 127.0.0.1, no share link, no analytics, no outside requests.
"""

from __future__ import annotations

import os

# Before gradio is imported: otherwise Blocks() starts a version check and launch() sends telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from qa.assistant import Assistant
from qa.config import Config
from qa.ingest import Ingestor, IngestProgress
from qa.ui import asset, render
from qa.ui.auth import login_app_kwargs, parse_auth
from qa.ui.chat import ChatTurn, ask_stream, parse_as_of, parse_filters, refuse
from qa.ui.files import UploadError, discard_cached, save_uploads, shorten_paths, upload_dir, write_pasted
from qa.ui.startup import Startup, build_demo_index, resume_uploads

log = logging.getLogger("qa.app")

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
DEMO_QUESTIONS = HERE / "benchmarks" / "data" / "demo_questions.jsonl"
EXAMPLE_IDS = ("demo-01", "demo-02", "demo-03", "demo-04", "demo-05")
FILE_TYPES = [".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf"]


def example_questions(path: Path = DEMO_QUESTIONS, ids: tuple[str, ...] = EXAMPLE_IDS) -> list[str]:
    """The demo questions offered as clickable examples (none when the file is missing)."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    by_id = {row.get("id"): row.get("question") for row in rows}
    return [by_id[i] for i in ids if by_id.get(i)]


def build_app(assistant: Assistant, config: Config, startup: Startup | None = None) -> gr.Blocks:
    """The page, wired to ``assistant``; queued (4 events at a time), not launched."""
    startup = startup or Startup()
    collection = assistant.collection

    def licence_of(article_id: str) -> str | None:
        article = collection.store.article(article_id)
        return article.license if article is not None else None

    def library_view() -> tuple[Any, ...]:
        stats = collection.stats()
        stored = collection.store.articles()
        return (render.header(stats, config), render.articles_table(stored),
                gr.Dropdown(choices=render.remove_choices(stored), value=None),
                gr.Dropdown(choices=stats.sources))

    def ask(question: str, use_llm: bool, sources: list[str] | None, since: str, until: str, as_of: str,
            turns: list[ChatTurn] | None):
        turns = list(turns or [])
        if not startup.ready:
            chat, _, turns = refuse(question, turns, "The demo index is still being built "
                                    f"({startup.message()}). Please ask again in a moment.")
            yield chat, gr.skip(), turns, gr.skip()
            return
        try:
            filters = parse_filters(sources, since, until)
            day = parse_as_of(as_of)
        except ValueError as error:
            chat, _, turns = refuse(question, turns, f"Filter problem: {error}")
            yield chat, gr.skip(), turns, gr.skip()
            return
        llm = bool(use_llm) if config.llm_enabled else None
        for chat, sources_html, new_turns in ask_stream(assistant, question or "", turns, filters, llm, licence_of,
                                                        as_of=day):
            yield chat, gr.skip() if sources_html is None else sources_html, new_turns, ""

    def new_chat():
        return [], render.sources_panel([]), [], ""

    def ingest(paths: list[Path], progress: gr.Progress) -> Any:
        def step(p: IngestProgress) -> None:
            if p.waiting:
                progress(0, desc=p.waiting[0].upper() + p.waiting[1:])
            elif p.chunks_pending:
                done = p.chunks_embedded
                progress((done, done + p.chunks_pending), desc="Embedding passages", unit="passages")
            else:
                progress((p.files_done, p.files_total), desc=f"Reading files ({p.chunks_embedded} passages embedded)",
                         unit="files")

        progress(0, desc="Reading files…")
        try:
            # Small embedding slices: questions asked meanwhile wait for one slice, not for the whole upload.
            return Ingestor(collection, embed_batch_chunks=32).ingest(paths, progress=step)
        finally:
            indexed = set(collection.store.file_paths())
            for path in paths:  # unreadable files were reported; they are not kept either
                if str(path.resolve()) not in indexed:
                    path.unlink(missing_ok=True)

    def add_files(files: list[str] | None, progress=gr.Progress()):  # noqa: B008 (gradio's idiom)
        folder = upload_dir(config.data_dir)
        try:
            try:
                accepted = save_uploads(files or [], folder, config.max_upload_mb, config.max_upload_files)
            finally:
                discard_cached(files or [], gradio_upload_folder())  # stored under the data dir only
            report = ingest(accepted.paths, progress) if accepted.paths else None
        except UploadError as error:
            return (render.notice(str(error), "error"), *library_view(), gr.skip())
        except Exception as error:
            log.exception("upload failed")
            return (render.notice(f"The upload failed: {error}", "error"), *library_view(), gr.skip())
        return (render.ingest_report(report, accepted.rejected, shorten_paths(folder)), *library_view(), None)

    def add_text(title: str, text: str, progress=gr.Progress()):  # noqa: B008
        folder = upload_dir(config.data_dir)
        try:
            path = write_pasted(title, text, folder, config.max_upload_mb)
            report = ingest([path], progress)
        except UploadError as error:
            return (render.notice(str(error), "error"), *library_view(), gr.skip(), gr.skip())
        except Exception as error:
            log.exception("adding pasted text failed")
            return (render.notice(f"Adding the text failed: {error}", "error"), *library_view(), gr.skip(), gr.skip())
        return (render.ingest_report(report, (), shorten_paths(folder)), *library_view(), "", "")

    def remove_article(article_id: str | None):
        article_id = (article_id or "").strip()
        if not article_id:
            return (render.notice("Choose an article to remove first.", "error"), *library_view())
        if collection.store.article(article_id) is None:  # ids only: Ingestor.remove also takes paths
            return (render.notice(f"No article with id “{article_id}”.", "error"), *library_view())
        try:
            titles = Ingestor(collection).remove(article_id)
        except Exception as error:
            log.exception("removing %s failed", article_id)
            return (render.notice(f"Removing failed: {error}", "error"), *library_view())
        return (render.notice(f"Removed: {'; '.join(titles) or article_id}", "ok"), *library_view())

    stats = collection.stats()
    stored = collection.store.articles()
    examples = example_questions()
    with gr.Blocks(title="News Q&A") as demo:
        header = gr.HTML(render.header(stats, config), elem_id="qa-header-box")
        banner = gr.HTML(render.building_banner(startup.message()), visible=not startup.ready, elem_id="qa-banner")
        turns = gr.State([])
        with gr.Tabs(elem_id="qa-tabs"):
            with gr.Tab("Ask", id="ask"), gr.Row(elem_id="qa-main", equal_height=False):
                with gr.Column(scale=3, min_width=300, elem_id="qa-chat-col"):
                    chatbot = gr.Chatbot(
                        value=[], elem_id="qa-chat", show_label=False, height=470, buttons=["copy"],
                        latex_delimiters=[], feedback_options=None, autoscroll=True,
                        examples=[{"text": q} for q in examples] or None,
                        placeholder="**Ask about the news articles.** Every answer cites the sentences it comes "
                                    "from: click a **[n]** to see the source.")
                    with gr.Row(elem_id="qa-ask-row", equal_height=True):
                        question = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                              lines=1, max_lines=4, scale=8, autofocus=True, elem_id="qa-question",
                                              container=False)
                        ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=72, elem_id="qa-ask")
                    with gr.Row(elem_id="qa-tools"):
                        new_chat_button = gr.Button("New chat", size="sm", scale=0, min_width=96,
                                                    elem_id="qa-new-chat")
                        as_of = gr.Textbox(value=_today, label="As of", placeholder="YYYY-MM-DD", max_lines=1,
                                           min_width=150, scale=0, elem_id="qa-as-of", container=False,
                                           info="The question's date: later articles are left out; "
                                                "“this week” counts back from it")
                        use_llm = gr.Checkbox(value=True, label=f"Use LLM ({config.llm_model})",
                                              visible=config.llm_enabled, elem_id="qa-use-llm", container=False)
                    with gr.Accordion("Filters (apply to the next question)", open=False, elem_id="qa-filters"):
                        source_filter = gr.Dropdown(choices=stats.sources, value=[], multiselect=True,
                                                    label="Sources", info="Empty: all sources")
                        with gr.Row():
                            since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", max_lines=1)
                            until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", max_lines=1)
                with gr.Column(scale=2, min_width=280, elem_id="qa-sources-col"):
                    sources = gr.HTML(render.sources_panel([]), elem_id="qa-sources")
            with gr.Tab("Add articles", id="library", elem_id="qa-library"):
                with gr.Row(equal_height=False):
                    with gr.Column(min_width=300):
                        files = gr.File(file_count="multiple", file_types=FILE_TYPES, type="filepath",
                                        label=f"Upload files ({', '.join(FILE_TYPES)}; up to "
                                              f"{config.max_upload_files} files of {config.max_upload_mb:g} MB)")
                        add_files_button = gr.Button("Add files", variant="primary")
                    with gr.Column(min_width=300):
                        paste_title = gr.Textbox(label="Title", max_lines=1, placeholder="Headline of the article")
                        paste_text = gr.Textbox(label="Article text", lines=6, max_lines=16,
                                                placeholder="Paste the article body here")
                        add_text_button = gr.Button("Add pasted article", variant="primary")
                report = gr.HTML("", elem_id="qa-report")
                with gr.Row(equal_height=False, elem_id="qa-remove-row"):
                    remove_choice = gr.Dropdown(choices=render.remove_choices(stored), value=None,
                                                allow_custom_value=True, scale=4,
                                                label="Remove an article (choose, or type its id)")
                    remove_button = gr.Button("Remove", variant="stop", scale=0, min_width=110, elem_id="qa-remove")
                articles = gr.HTML(render.articles_table(stored), elem_id="qa-articles")

        library_outputs = [header, articles, remove_choice, source_filter]
        ask_inputs = [question, use_llm, source_filter, since, until, as_of, turns]
        ask_outputs = [chatbot, sources, turns, question]
        ask_button.click(ask, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden")
        question.submit(ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden")
        chatbot.example_select(_example_text, None, question, api_visibility="private", queue=False).then(
            ask, ask_inputs, ask_outputs, api_visibility="private", show_progress="hidden")
        new_chat_button.click(new_chat, None, ask_outputs, api_name="new_chat", queue=False)
        library = {"concurrency_limit": 1, "concurrency_id": "library"}
        add_files_button.click(add_files, files, [report, *library_outputs, files], api_name="add_files", **library)
        add_text_button.click(add_text, [paste_title, paste_text], [report, *library_outputs, paste_title, paste_text],
                              api_name="add_text", **library)
        remove_button.click(remove_article, remove_choice, [report, *library_outputs], api_name="remove_article",
                            **library)
        demo.load(library_view, None, library_outputs, api_name="refresh")
        if not startup.ready:
            timer = gr.Timer(1.0)
            timer.tick(_startup_tick(startup, library_view), None, [banner, timer, *library_outputs],
                       api_visibility="private", show_progress="hidden")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def gradio_upload_folder() -> str:
    """Where Gradio puts uploads before a handler sees them (GRADIO_TEMP_DIR or the system temp folder)."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()


def _today() -> str:
    """Today's date (the as-of field's value at each page load, so a long-running server never goes stale)."""
    return date.today().isoformat()


def _example_text(event: gr.SelectData) -> str:
    value = event.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")


def _startup_tick(startup: Startup, library_view: Callable[[], tuple[Any, ...]]) -> Callable[[], tuple[Any, ...]]:
    def tick() -> tuple[Any, ...]:
        if startup.ready:
            return (gr.HTML(visible=False), gr.Timer(active=False), *library_view())
        return (gr.HTML(render.building_banner(startup.message()), visible=True), gr.skip(),
                gr.skip(), gr.skip(), gr.skip(), gr.skip())

    return tick


def theme() -> gr.themes.Base:
    """The default theme (its fonts are served by the app itself), in calmer colours."""
    return gr.themes.Default(primary_hue="indigo", secondary_hue="blue", neutral_hue="slate", radius_size="lg")


def launch_kwargs(config: Config) -> dict[str, Any]:
    """Everything ``Blocks.launch`` needs: address, login, look, limits; never a share link."""
    auth = parse_auth(config.auth)
    return {
        "server_name": config.host, "server_port": config.port, "share": False,
        "auth": auth, "auth_message": "Sign in to ask questions about the articles.",
        "app_kwargs": login_app_kwargs(auth),  # every route behind the login, not only Gradio's API
        "theme": theme(), "css": asset("style.css"), "js": asset("cite.js"),
        "max_file_size": int(config.max_upload_mb * 1024 * 1024), "ssr_mode": False, "show_error": False,
        "footer_links": ["api", "settings"], "pwa": False, "mcp_server": False, "enable_monitoring": False,
    }


def main(argv: list[str] | None = None) -> None:
    """Parses flags, opens (or on first start builds) the collection, and serves the app."""
    parser = argparse.ArgumentParser(description="Ask questions about news articles, with cited answers.")
    parser.add_argument("--port", type=int, help="port [env QA_PORT, default 7860]")
    parser.add_argument("--host", help="address to listen on [env QA_HOST, default 127.0.0.1]")
    parser.add_argument("--data-dir", type=Path, help="index folder [env QA_DATA_DIR, default .qa-data]")
    args = parser.parse_args(argv)
    limit_malloc_arenas()  # before the server starts its threads
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = Config.load(port=args.port, host=args.host, data_dir=args.data_dir)
        kwargs = launch_kwargs(config)
    except ValueError as error:
        parser.error(str(error))
    from embeddings import IndexFileError
    from qa.collection import CollectionError

    try:
        assistant = Assistant(config)
    except (CollectionError, IndexFileError) as error:
        sys.exit(f"error: {error}")
    startup = Startup()
    first_start = collection_is_empty(assistant) and SEEDS.is_dir()
    if first_start:
        startup.building("starting…")
    demo = build_app(assistant, config, startup)
    demo.launch(prevent_thread_lock=True, **kwargs)
    print(f"News Q&A running on http://{config.host}:{config.port}/ (data dir {config.data_dir})", file=sys.stderr)
    if first_start:
        try:
            build_demo_index(assistant, SEEDS, startup)
        except Exception as error:
            log.exception("building the demo index failed")
            startup.done(f"building the demo index failed: {error}")
    resume_uploads(assistant, upload_dir(config.data_dir))
    threading.Thread(target=lambda: assistant.reranker, name="warm-reranker", daemon=True).start()
    demo.block_thread()


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Caps glibc's malloc arenas (as ``MALLOC_ARENA_MAX`` would, unless that is set).

    Each of the server's worker threads otherwise grows an arena of its own: under 8 concurrent users the
    process grew by 500 MB in a minute, against about 120 MB with two arenas, at the same speed.
    """
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return
    m_arena_max = -8  # from glibc's malloc.h
    mallopt(m_arena_max, arenas)


def collection_is_empty(assistant: Assistant) -> bool:
    """True when the collection holds no article yet (first start)."""
    return assistant.collection.stats().articles == 0


if __name__ == "__main__":
    main()
