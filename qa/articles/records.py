"""JSON and JSON Lines articles: one record per line (``.jsonl``) or an object/list (``.json``).

A record needs a non-empty string ``text``; ``id``, ``title``, ``date``, ``source``, ``url``,
``author``, ``dateline`` and ``license`` are optional. Unknown fields (``genre``, ``via``...) are
ignored. A bad record is reported as a problem and skipped; the file fails only when no record
is usable. Problems name ``line N`` (1-based) for JSONL and ``record N`` (0-based list position)
for JSON; records without an id get ``<path hash>-<0-based line or list index>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
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

_OPTIONAL_STR_FIELDS = ("title", "date", "source", "url", "author", "dateline", "license")
# At most this many problems are quoted in the "no usable records" error.
_MAX_QUOTED_PROBLEMS = 3


class RecordError(ValueError):
    """One record that cannot become an article; the message has no location prefix."""


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", bool: "boolean"}.get(type(value), type(value).__name__)


def _optional_str(record: dict[str, object], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if name == "author" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ", ".join(v for v in value if v.strip())  # several authors
    if not isinstance(value, str):
        raise RecordError(f"field '{name}' must be a string, got {_type_name(value)}")
    return clean_line(value) or None


def _record_id(record: dict[str, object]) -> str | None:
    value = record.get("id")
    if value is None:
        return None
    # bool is an int subclass, but True/False are never meant as ids.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"field 'id' must be a string or integer, got {_type_name(value)}")
    return clean_line(str(value)) or None


def record_to_article(record: object, path: Path, fallback_id: str) -> Article:
    """Validates one decoded JSON value and turns it into an Article; raises RecordError."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {_type_name(record)}")
    if "text" not in record:
        raise RecordError("missing required field 'text'")
    raw_text = record["text"]
    if not isinstance(raw_text, str):
        raise RecordError(f"field 'text' must be a string, got {_type_name(raw_text)}")
    text = clean_body(raw_text)
    if not text:
        raise RecordError("field 'text' is empty")
    record_id = _record_id(record)
    fields = {name: _optional_str(record, name) for name in _OPTIONAL_STR_FIELDS}
    return Article(
        id=record_id or fallback_id,
        title=fields["title"] or derive_title(text),
        text=text,
        source_path=source_path(path),
        date=normalise_date(fields["date"]),
        source=fields["source"],
        url=fields["url"],
        author=fields["author"],
        dateline=fields["dateline"],
        license=fields["license"],
    )


def _collect(path: Path, items: Iterator[tuple[str, int, object]]) -> tuple[list[Article], list[str]]:
    """Converts (location label, index, value) items; skips bad ones and duplicate ids."""
    base = path_id(path)
    articles: list[Article] = []
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for label, index, value in items:
        try:
            article = record_to_article(value, path, f"{base}-{index}")
        except RecordError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if article.id in first_seen:
            problems.append(f"{label}: duplicate id '{article.id}' (first on {first_seen[article.id]})")
            continue
        first_seen[article.id] = label
        articles.append(article)
    return articles, problems


def _jsonl_items(text: str, problems: list[str]) -> Iterator[tuple[str, int, object]]:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            problems.append(f"line {lineno}: invalid JSON (nested too deeply)")
            continue
        # The id suffix is the 0-based line index, so it stays put when other lines change.
        yield f"line {lineno}", lineno - 1, value


def read_jsonl(path: Path, text: str) -> tuple[list[Article], list[str]]:
    """Reads JSON Lines text: returns the usable articles and per-line problems.

    Raises ArticleError when no line gives a usable article.
    """
    parse_problems: list[str] = []
    articles, record_problems = _collect(path, _jsonl_items(text, parse_problems))
    problems = sorted(parse_problems + record_problems, key=_line_number)
    if not articles:
        raise ArticleError(_no_usable(problems))
    return articles, problems


def _line_number(problem: str) -> int:
    # Problems all start with "line N:"; keep them in file order for the user.
    try:
        return int(problem.split(":", 1)[0].split()[-1])
    except ValueError:
        return 0


def read_json(path: Path, text: str) -> tuple[list[Article], list[str]]:
    """Reads a ``.json`` file: one article object, a list of them, or ``{"articles": [...]}``.

    Returns the usable articles and per-record problems; raises ArticleError when the JSON is
    invalid or no record is usable.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArticleError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise ArticleError("invalid JSON: nested too deeply") from exc
    if isinstance(value, dict) and "text" not in value and isinstance(value.get("articles"), list):
        value = value["articles"]
    if isinstance(value, dict):
        try:
            return [record_to_article(value, path, path_id(path))], []
        except RecordError as exc:
            raise ArticleError(f"no usable records: {exc}") from exc
    if not isinstance(value, list):
        raise ArticleError(f"expected a JSON object or a list of objects, got {_type_name(value)}")
    if not value:
        raise ArticleError("no usable records: the JSON list is empty")
    articles, problems = _collect(path, ((f"record {i}", i, item) for i, item in enumerate(value)))
    if not articles:
        raise ArticleError(_no_usable(problems))
    return articles, problems


def _no_usable(problems: list[str]) -> str:
    if not problems:
        return "no usable records: the file has no JSON records"
    quoted = "; ".join(problems[:_MAX_QUOTED_PROBLEMS])
    more = len(problems) - _MAX_QUOTED_PROBLEMS
    return f"no usable records: {quoted}" + (f" (and {more} more)" if more > 0 else "")
