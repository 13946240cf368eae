"""The web app's layer: HTML rendering, uploads, the REST API (FastAPI), the page's handlers and static assets.

Only :mod:`qa.interfaces.ui.page` imports gradio. Everything shown in the page that comes from articles, files or errors
passes through :mod:`qa.interfaces.ui.render`, which escapes it; ``app.py`` lays out the page and wires the handlers.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def asset(name: str) -> str:
    """The text of a static asset shipped next to this module (``style.css``, ``cite.js``)."""
    return (_HERE / name).read_text(encoding="utf-8")
