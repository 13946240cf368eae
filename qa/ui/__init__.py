"""The web app's presentation layer: HTML rendering, upload handling and static assets (no gradio import here).

Everything shown in the page that comes from articles, files or errors passes through :mod:`qa.ui.render`,
which escapes it; the app (``app.py``) only wires these helpers to Gradio components.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def asset(name: str) -> str:
    """The text of a static asset shipped next to this module (``style.css``, ``cite.js``)."""
    return (_HERE / name).read_text(encoding="utf-8")
