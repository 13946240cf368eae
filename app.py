"""The web app: ``python app.py [--port N] [--host H] [--data-dir D]`` (or QA_PORT, QA_HOST, QA_DATA_DIR).

A thin Gradio shell over :class:`qa.assistant.Assistant`: retrieval and answers live in ``qa``, HTML in
``qa.interfaces.ui``. Offline and private by default: 127.0.0.1, no share link, no analytics, no outside requests.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from qa.assistant import Assistant
from qa.config import Config
from qa.interfaces.sources.panel import build_web_panel, header_freshness, wire_web_panel
from qa.interfaces.ui import asset, render
from qa.interfaces.ui.api import api_app
from qa.interfaces.ui.auth import check_server_config, login_app_kwargs
from qa.interfaces.ui.files import upload_dir
from qa.interfaces.ui.limits import body_limit_middleware
from qa.interfaces.ui.page import Components, Page
from qa.interfaces.ui.startup import Startup, build_demo_index, prepare_temp, resume_uploads
from qa.interfaces.ui.throttle import GuessThrottle, Proxies, uvicorn_trusts_no_proxy
from qa.sources.feed_store import FeedStore
from qa.sources.poller import BackgroundPoller
from qa.storage.collection import Stats
from qa.storage.store import StoredArticle
from qa.text.timeframe import today  # the as-of field's value at each page load: a long-running server never goes stale

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


@dataclass
class WebApp:
    """The page and the REST API beside it, served together by :meth:`launch`."""

    demo: gr.Blocks
    api: Any  # the FastAPI app mounted at /api
    config: Config
    throttle: GuessThrottle

    def launch(self, **overrides: Any) -> None:
        """Serves both on the configured address (``overrides`` go to ``Blocks.launch``)."""
        with uvicorn_trusts_no_proxy():  # the client address is decided by the app alone (qa.interfaces.ui.throttle)
            self.demo.launch(**{**launch_kwargs(self.config, self.api, self.throttle), **overrides})

    def close(self) -> None:
        """Stops the server."""
        self.demo.close()


def build_app(assistant: Assistant, config: Config, startup: Startup | None = None) -> WebApp:
    """The page (queued, 4 events at a time) and the REST API, wired to ``assistant``; not launched."""
    startup = startup or Startup()
    auth = check_server_config(config)  # before anything is built: a half-protected server is refused
    throttle = GuessThrottle.from_config(config)
    collection = assistant.collection
    stats, stored = collection.stats(), collection.store.articles()
    with gr.Blocks(title="News Q&A") as demo:
        ui = _layout(config, startup, stats, stored)
        page = Page(assistant, config, startup, ui)
        ask_inputs = [ui.question, ui.use_llm, ui.source_filter, ui.since, ui.until, ui.as_of, ui.turns]
        ask_outputs = [ui.chatbot, ui.sources, ui.turns, ui.question]
        ui_ask: dict[str, Any] = {"show_progress": "hidden"}
        ui.ask_button.click(page.ask, ask_inputs, ask_outputs, api_name="ask", **ui_ask)
        ui.question.submit(page.ask, ask_inputs, ask_outputs, api_visibility="private", **ui_ask)
        ui.chatbot.example_select(_example_text, None, ui.question, api_visibility="private", queue=False).then(
            page.ask, ask_inputs, ask_outputs, api_visibility="private", **ui_ask)
        ui.new_chat_button.click(page.new_chat, None, [*ask_outputs, ui.exports], api_name="new_chat", queue=False)
        ui.export_button.click(page.export, [ui.turns, ui.as_of], ui.exports, api_name="export")
        library: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "library"}
        ui.add_files_button.click(page.add_files, [ui.files, ui.replace], [ui.report, *ui.library, ui.files],
                                  api_name="add_files", **library)
        ui.add_text_button.click(page.add_text, [ui.paste_title, ui.paste_text],
                                 [ui.report, *ui.library, ui.paste_title, ui.paste_text], api_name="add_text",
                                 **library)
        ui.remove_button.click(page.remove_article, ui.remove_choice, [ui.report, *ui.library],
                               api_name="remove_article", **library)
        if ui.web is not None:
            wire_web_panel(ui.web, assistant, config, ui.report, ui.header, ui.library, page.library_view)
        demo.load(page.library_view, None, ui.library, api_name="refresh")
        if not startup.ready:
            timer = gr.Timer(1.0)
            timer.tick(page.startup_tick, None, [ui.banner, *ui.library], api_visibility="private",
                       show_progress="hidden").then(
                lambda: gr.Timer(active=not startup.ready), None, timer, api_visibility="private",
                show_progress="hidden")
    demo.queue(default_concurrency_limit=4, max_size=64)
    api = api_app(assistant, startup, auth, config.api_token, throttle)
    return WebApp(demo, api, config, throttle)


def _layout(config: Config, startup: Startup, stats: Stats, stored: list[StoredArticle]) -> Components:
    """The page's components, laid out: Ask (chat, tools, filters, sources) and Add articles."""
    examples = example_questions()
    header = gr.HTML(render.header(stats, config, header_freshness(config, stats.last_date)),
                     elem_id="qa-header-box")
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
                    new_chat_button = gr.Button("New chat", size="sm", scale=0, min_width=96, elem_id="qa-new-chat")
                    export_button = gr.Button("Export", size="sm", scale=0, min_width=96, elem_id="qa-export")
                    with gr.Row(elem_id="qa-as-of-row"):
                        gr.HTML('<span class="qa-as-of-label">As of</span>', elem_id="qa-as-of-label", min_width=0)
                        as_of = gr.Textbox(value=today, label="As of", placeholder="YYYY-MM-DD", max_lines=1,
                                           min_width=120, scale=0, elem_id="qa-as-of", container=False)
                        gr.HTML('<span class="qa-hint">the question\'s date: later articles are left out, and '
                                '“this week” counts back from it</span>', elem_id="qa-as-of-hint", min_width=0)
                    use_llm = gr.Checkbox(value=True, label=f"Use LLM ({config.llm_model})",
                                          visible=config.llm_enabled, elem_id="qa-use-llm", container=False)
                exports = gr.File(label="Conversation (Markdown and HTML)", file_count="multiple", visible=False,
                                  interactive=False, elem_id="qa-exports")
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
                    replace = gr.Checkbox(value=False, label="Replace stored files of the same name",
                                          info="Otherwise a different file under a stored name is added beside it",
                                          elem_id="qa-replace")
                    add_files_button = gr.Button("Add files", variant="primary")
                with gr.Column(min_width=300):
                    paste_title = gr.Textbox(label="Title", max_lines=1, placeholder="Headline of the article")
                    paste_text = gr.Textbox(label="Article text", lines=6, max_lines=16,
                                            placeholder="Paste the article body here")
                    add_text_button = gr.Button("Add pasted article", variant="primary")
            web = build_web_panel(config)
            report = gr.HTML("", elem_id="qa-report")
            with gr.Row(equal_height=False, elem_id="qa-remove-row"):
                remove_choice = gr.Dropdown(choices=render.remove_choices(stored), value=None,
                                            allow_custom_value=True, scale=4,
                                            label="Remove an article (choose, or type its id)")
                remove_button = gr.Button("Remove", variant="stop", scale=0, min_width=110, elem_id="qa-remove")
            articles = gr.HTML(render.articles_table(stored), elem_id="qa-articles")
    return Components(
        header=header, banner=banner, turns=turns, chatbot=chatbot, question=question, as_of=as_of, use_llm=use_llm,
        source_filter=source_filter, since=since, until=until, sources=sources, ask_button=ask_button,
        new_chat_button=new_chat_button, export_button=export_button, exports=exports, files=files,
        replace=replace, add_files_button=add_files_button, add_text_button=add_text_button,
        remove_button=remove_button, paste_title=paste_title, paste_text=paste_text, report=report,
        remove_choice=remove_choice, articles=articles, web=web)


def _example_text(event: gr.SelectData) -> str:
    value = event.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")


def theme() -> gr.themes.Base:
    """The default theme (its fonts are served by the app itself), in calmer colours."""
    return gr.themes.Default(primary_hue="indigo", secondary_hue="blue", neutral_hue="slate", radius_size="lg")


def launch_kwargs(config: Config, api: Any = None, throttle: GuessThrottle | None = None) -> dict[str, Any]:
    """Everything ``Blocks.launch`` needs: address, login (throttled), the REST API mounted at ``/api``, look,
    limits; never a share link."""
    from starlette.routing import Mount

    auth = check_server_config(config)
    app_kwargs = login_app_kwargs(auth, throttle or GuessThrottle.from_config(config),  # every route behind the login
                                  Proxies.from_config(config))
    # Outermost, so that no body (the login form's included) is read past its limit.
    app_kwargs["middleware"] = [body_limit_middleware(config), *app_kwargs.get("middleware", [])]
    if api is not None:
        app_kwargs["routes"] = [Mount("/api", app=api)]
    return {
        "server_name": config.host, "server_port": config.port, "share": False,
        "auth": auth, "auth_message": "Sign in to ask questions about the articles.",
        "app_kwargs": app_kwargs or None,
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
        check_server_config(config)  # users, proxies, and a token never without a login
    except ValueError as error:
        parser.error(str(error))
    from embeddings import IndexFileError
    from qa.storage.collection import CollectionError

    try:
        assistant = Assistant(config)
    except (CollectionError, IndexFileError) as error:
        sys.exit(f"error: {error}")
    prepare_temp(config.data_dir)  # before the page is built: Gradio reads its upload folder then
    startup = Startup()
    first_start = collection_is_empty(assistant) and SEEDS.is_dir()
    if first_start:  # the page comes up at once and shows the build; the models load meanwhile
        startup.building("starting…")
        threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True).start()
    else:  # the models load before the page is served: its first answer is as fast as the next ones
        assistant.warm_up()
    web = build_app(assistant, config, startup)
    web.launch(prevent_thread_lock=True)
    print(f"News Q&A running on http://{config.host}:{config.port}/ (data dir {config.data_dir}); "
          f"REST API at /api, its docs at /api/docs", file=sys.stderr)
    if first_start:
        try:
            build_demo_index(assistant, SEEDS, startup)
        except Exception as error:
            log.exception("building the demo index failed")
            startup.done(f"building the demo index failed: {error}")
    resume_uploads(assistant, upload_dir(config.data_dir))
    if config.poll_check_s > 0:  # followed feeds are polled while questions are answered
        BackgroundPoller(assistant.collection, FeedStore(config.data_dir)).start()
    web.demo.block_thread()


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
