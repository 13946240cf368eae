"""Shared helpers for the article readers: errors, ids, size limits, decoding, dates, text cleanup."""

from __future__ import annotations

import email.utils
import hashlib
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

DEFAULT_MAX_BYTES = 25 * 1024 * 1024


class ArticleError(Exception):
    """A file (or one record in it) that cannot be read as an article; str(e) is a specific, human reason."""


# --- ids and paths -------------------------------------------------------------------------------


def path_id(path: Path) -> str:
    """Stable id for a file: the first 16 hex digits of sha1 over its resolved path."""
    return hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:16]


def source_path(path: Path) -> str:
    """The ``Article.source_path`` value for a file: its resolved path as a string."""
    return str(path.resolve())


# --- reading bytes -------------------------------------------------------------------------------


def human_size(n: int) -> str:
    """A byte count as a short human string, e.g. ``2.5 MB`` or ``120 bytes``."""
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}"
    return f"{n} bytes"  # unreachable; keeps type checkers happy


def describe_os_error(exc: OSError) -> str:
    """A short human reason for an OS error while opening or reading a file."""
    if isinstance(exc, FileNotFoundError):
        return "file not found (it may have been moved or deleted)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read file: {exc.strerror or exc}"


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Reads a regular file's bytes, enforcing ``max_bytes``; raises ArticleError with the reason."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ArticleError(describe_os_error(exc)) from exc
    if path.is_dir():
        raise ArticleError("is a directory, not a file")
    if st.st_size > max_bytes:
        raise ArticleError(
            f"file too large: {human_size(st.st_size)} ({st.st_size} bytes) exceeds the limit of "
            f"{human_size(max_bytes)} ({max_bytes} bytes)"
        )
    try:
        with path.open("rb") as fh:
            # Read one byte past the limit: the file may have grown since stat().
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ArticleError(describe_os_error(exc)) from exc
    if len(data) > max_bytes:
        raise ArticleError(
            f"file too large: more than {human_size(max_bytes)} ({max_bytes} bytes) (it grew while being read)"
        )
    if not data:
        raise ArticleError("empty file (0 bytes)")
    return data


# --- decoding ------------------------------------------------------------------------------------

# Controls that legitimately occur in text files; everything else in Cc counts as "binary-ish".
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")
# Line/paragraph separators that would otherwise leak through str.splitlines() into the text.
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Remaining controls and invisible format chars we drop outright (BOMs mid-file, zero-width spaces).
_DROP_CHARS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u200b-\u200d\u2060\ufeff]")
_BINARY_CONTROL_SHARE = 0.05
_MAX_NON_ASCII_SHARE_FALLBACK = 0.3


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:100_000]
    bad = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS)
    return bad / len(sample)


def normalise_newlines(text: str) -> str:
    """Turns every line-break convention into ``\\n`` and drops stray control/invisible characters."""
    return _DROP_CHARS.sub("", _LINE_BREAKS.sub("\n", text))


def decode_text(data: bytes, extra_encodings: tuple[str, ...] = ()) -> str:
    """Decodes file bytes to text with ``\\n`` line endings.

    UTF-8 (BOM stripped) first, then any ``extra_encodings`` (e.g. an HTML meta charset), then
    cp1252/latin-1 when the bytes still look like text. Raises ArticleError for binary content.
    """
    if b"\x00" in data[:1_000_000]:
        # UTF-16/32 would also contain NULs, but news files in those encodings carry a BOM.
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return _finish(data.decode("utf-16"))
            except UnicodeDecodeError:
                pass
        raise ArticleError("binary content, not text (contains NUL bytes)")
    try:
        return _finish(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    for enc in extra_encodings:
        try:
            return _finish(data.decode(enc))
        except (UnicodeDecodeError, LookupError):
            continue
    non_ascii = sum(1 for b in data[:1_000_000] if b >= 0x80) / min(len(data), 1_000_000)
    if non_ascii > _MAX_NON_ASCII_SHARE_FALLBACK and len(data) >= 64:
        # Legacy single-byte text is mostly ASCII; this much high-bit data is binary or an
        # unknown multi-byte encoding, and guessing would produce mojibake in the index.
        raise ArticleError(
            f"undecodable text: not valid UTF-8 and {non_ascii:.0%} of bytes are non-ASCII, "
            "so it does not look like cp1252/latin-1 either"
        )
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte.
        text = data.decode("latin-1")
    return _finish(text)


def _finish(text: str) -> str:
    if _control_share(text) > _BINARY_CONTROL_SHARE:
        raise ArticleError("binary content, not text (too many control characters)")
    return normalise_newlines(text)


# --- text cleanup --------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def clean_body(text: str) -> str:
    """Normalises body text: lines trimmed, paragraphs separated by exactly one blank line."""
    text = normalise_newlines(text)
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def clean_line(text: str) -> str:
    """Collapses all whitespace in a one-line value (title, author...) to single spaces."""
    return " ".join(normalise_newlines(text).split())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def derive_title(text: str, limit: int = 80) -> str:
    """A fallback title: the first line's first sentence, cut at a word boundary near ``limit``."""
    first = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    first = _SENTENCE_END.split(first, maxsplit=1)[0]
    first = clean_line(first)
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0] or first[:limit]
    return cut.rstrip(" ,;:-") + "…"


def paragraphs_to_blank_lines(text: str) -> str:
    """Treats every line as its own paragraph (extractor output) and cleans the result."""
    return clean_body("\n\n".join(text.split("\n")))


# --- dates ---------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})?(\d{2})?")
_WEEKDAY = re.compile(r"^(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
_STRPTIME_FORMATS = (
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d %B, %Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
)


def normalise_date(value: object) -> str | None:
    """Returns ``YYYY-MM-DD`` for a parseable date value, else None (never raises)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    s = clean_line(value)
    if not s:
        return None
    m = _ISO_DATE.match(s) or _PDF_DATE.match(s)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)).isoformat()
        except ValueError:
            return None
    try:
        # Python 3.10's fromisoformat rejects a trailing "Z" (3.11+ accepts it).
        iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
        return datetime.fromisoformat(iso).date().isoformat()
    except ValueError:
        pass
    try:
        # RFC 2822, as in feeds and e-mail headers: "Fri, 30 Jan 2026 10:00:00 +0900".
        return email.utils.parsedate_to_datetime(s).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    s = _WEEKDAY.sub("", s)
    # "Jan. 30, 2026" and "30th January 2026" -> forms strptime understands.
    s = re.sub(r"\b([A-Za-z]{3,9})\.", r"\1", s)
    s = re.sub(r"\b(\d{1,2})(st|nd|rd|th)\b", r"\1", s)
    s = re.sub(r"\s*(T|\s)\d{1,2}:\d{2}.*$", "", s)  # drop a trailing time of day
    for fmt in _STRPTIME_FORMATS:
        try:
            return datetime.strptime(s, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def mtime_date(path: Path) -> str | None:
    """The file's modification date as ``YYYY-MM-DD`` (local time), or None if unavailable."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()
    except (OSError, OverflowError, ValueError):
        return None
