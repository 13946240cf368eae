"""Reading news articles from files: discovery of candidate files and one reader per format.

``discover`` turns user-given files/folders into a list of readable files; ``read_file`` reads one
file into :class:`qa.types.Article` records, raising :class:`ArticleError` with a specific human
reason when a file cannot be used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from qa.types import Article

from .common import DEFAULT_MAX_BYTES, ArticleError, decode_text, read_bytes
from .discovery import SUPPORTED_SUFFIXES, Discovery, discover, unsupported_reason
from .html import read_html
from .pdf import read_pdf
from .plain import read_plain
from .records import read_json, read_jsonl

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ArticleError",
    "Discovery",
    "FileRead",
    "discover",
    "read_file",
]

log = logging.getLogger(__name__)


@dataclass
class FileRead:
    """The articles read from one file, plus problems with individual records in it."""

    path: Path
    articles: list[Article]
    problems: list[str] = field(default_factory=list)


def read_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> FileRead:
    """Reads one file into articles.

    Raises ArticleError with a specific reason for: a missing/unreadable file, a directory, an
    unsupported extension, an empty or whitespace-only file, a file over ``max_bytes``, binary or
    undecodable content in a text format, JSON/JSONL without a usable record, HTML without main
    text, an encrypted or broken PDF, and a PDF without extractable text. Errors from the parsing
    libraries are wrapped in ArticleError too.
    """
    path = Path(path)
    try:
        return _read(path, max_bytes)
    except ArticleError as exc:
        log.debug("cannot read %s: %s", path, exc)
        raise
    except MemoryError:
        raise
    except Exception as exc:  # third-party parsers raise anything; keep our contract
        log.warning("unexpected %s while reading %s", type(exc).__name__, path, exc_info=True)
        raise ArticleError(f"could not parse file: {type(exc).__name__}: {exc}") from exc


def _read(path: Path, max_bytes: int) -> FileRead:
    if path.is_dir():
        raise ArticleError("is a directory, not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(unsupported_reason(path))
    data = read_bytes(path, max_bytes)
    if not data.strip():
        raise ArticleError("file contains only whitespace")

    if suffix == ".pdf":
        return FileRead(path, [read_pdf(path, data)], [])
    if suffix in (".html", ".htm"):  # decoded there: the page may declare its charset
        return FileRead(path, [read_html(path, data)], [])

    # Every remaining format is text.
    text = decode_text(data)
    if not text.strip():
        raise ArticleError("file contains only whitespace")
    if suffix in (".json", ".jsonl"):
        reader = read_jsonl if suffix == ".jsonl" else read_json
        articles, problems = reader(path, text)
        for problem in problems:
            log.warning("%s: %s", path, problem)
        return FileRead(path, articles, problems)

    return FileRead(path, [read_plain(path, text, markdown=suffix == ".md")], [])
