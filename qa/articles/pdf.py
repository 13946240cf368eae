"""PDF articles: the text layer of every page via pypdf (no OCR)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from qa.types import Article

from .common import (
    ArticleError,
    clean_body,
    clean_line,
    derive_title,
    normalise_date,
    path_id,
    source_path,
)

log = logging.getLogger(__name__)

# A first line longer than this is running text, not a title.
_MAX_TITLE_LINE = 200


def read_pdf(path: Path, data: bytes) -> Article:
    """Reads a PDF's text into an Article; raises ArticleError for encrypted, broken or image-only
    PDFs."""
    from pypdf import PdfReader  # deferred: only needed when a PDF is actually read
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ArticleError(f"not a readable PDF: {_reason(exc)}") from exc
    if reader.is_encrypted:
        try:
            # Many "protected" PDFs only restrict printing/copying and open with an empty password.
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise ArticleError(f"encrypted PDF (cannot decrypt: {_reason(exc)})") from exc
        if not opened:
            raise ArticleError("encrypted PDF (a password is needed to open it)")

    pages: list[str] = []
    try:
        page_list = list(reader.pages)
    except FileNotDecryptedError as exc:
        raise ArticleError("encrypted PDF (a password is needed to open it)") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ArticleError(f"not a readable PDF: {_reason(exc)}") from exc
    for number, page in enumerate(page_list, start=1):
        try:
            pages.append(page.extract_text() or "")
        except Exception as exc:  # pypdf raises many types on damaged pages
            if isinstance(exc, MemoryError):
                raise
            # One damaged page should not cost us the rest of the document.
            log.warning("%s: page %d: text extraction failed: %s", path, number, _reason(exc))
    text = clean_body("\n\n".join(pages))
    if not text:
        raise ArticleError("PDF has no extractable text (scanned image?)")

    title, date, author = _metadata(reader, path)
    if not title:
        first = text.split("\n", 1)[0]
        title = clean_line(first) if len(first) <= _MAX_TITLE_LINE else derive_title(first)
    return Article(
        id=path_id(path),
        title=title,
        text=text,
        source_path=source_path(path),
        date=date,
        author=author,
    )


def _metadata(reader: object, path: Path) -> tuple[str | None, str | None, str | None]:
    """Title, ISO creation date and author from the document info, tolerating broken entries."""
    try:
        meta = getattr(reader, "metadata", None)
    except Exception as exc:  # a broken info dict must not lose the text
        log.debug("%s: unreadable PDF metadata: %s", path, exc)
        return None, None, None
    if not meta:
        return None, None, None
    title = author = date = None
    try:
        title = clean_line(str(meta.title)) if meta.title else None
        author = clean_line(str(meta.author)) if meta.author else None
    except Exception as exc:  # malformed text strings in the info dict
        log.debug("%s: unreadable PDF title/author: %s", path, exc)
    try:
        created = meta.creation_date  # parsed datetime; raises on malformed "D:..." strings
        date = normalise_date(created)
    except Exception:  # pypdf raises on malformed "D:..." dates; try our own parser
        date = normalise_date(meta.get("/CreationDate"))
    # Producers often store the file name or "untitled" as the title; prefer the text then.
    if title and (
        title.lower() in {"untitled", "untitled document"}
        or title.lower().endswith((".doc", ".docx", ".pdf", ".indd", ".tex"))
    ):
        title = None
    return title or None, date, author or None


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
