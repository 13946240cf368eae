"""Uploaded and pasted articles -> files under ``<data_dir>/uploads/`` with safe, generated names.

A client's file name is never used as a path: only a sanitized basename (letters, digits, ``._-``, no
leading dot, no ``..``, a supported lowercase extension) ever reaches the file system.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from qa.articles import SUPPORTED_SUFFIXES

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
MAX_STEM = 80
MAX_TITLE = 300
MAX_SHOWN = 120
_INCOMING = ".incoming-"  # an upload being copied in; hidden, so never ingested half-written


class UploadError(ValueError):
    """The whole upload is refused (too many files, nothing given); the message is shown as is."""


class UploadTooLarge(UploadError):
    """The upload is over the size limit."""


@dataclass
class Accepted:
    """Files written to the uploads folder, and the ones refused with a reason (shown by display name)."""

    paths: list[Path] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    oversize: int = 0  # how many of the rejected were over the size limit


def upload_dir(data_dir: Path) -> Path:
    """``<data_dir>/uploads``, created when missing."""
    folder = Path(data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _basename(name: str) -> str:
    base = str(name).replace("\\", "/").rstrip("/").split("/")[-1]
    return "".join(ch for ch in base if ch.isprintable())


def display_name(name: str) -> str:
    """The last path component of a client-supplied name, for messages only (escaped by the renderer);
    a long one is shortened in the middle, so that its extension still shows."""
    base = _basename(name)
    if len(base) > MAX_SHOWN:
        stem, suffix = os.path.splitext(base)
        suffix = suffix if len(suffix) <= 12 else ""
        base = f"{stem[: MAX_SHOWN - len(suffix) - 1]}…{suffix}"
    return base or "(unnamed)"


def safe_filename(name: str, default_stem: str = "upload") -> str:
    """A safe basename for a client-supplied ``name``: directories, ``..``, odd characters stripped; a long
    name loses the end of its stem, never its extension."""
    base = unicodedata.normalize("NFKC", _basename(name))
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower() if _SUFFIX.match(suffix.lower()) else ""
    stem = _DOTS.sub(".", _UNSAFE.sub("_", stem)).strip("._-")[:MAX_STEM].strip("._-")
    return f"{stem or default_stem}{suffix}"


def save_uploads(files: list[str | Path], folder: Path, max_mb: float, max_files: int) -> Accepted:
    """Copies uploaded temp files into ``folder`` under sanitized names, enforcing type, size and count."""
    files = [f for f in files if f]
    if not files:
        raise UploadError("Choose one or more files to upload first.")
    if len(files) > max_files:
        raise UploadError(f"Too many files: {len(files)} were given, at most {max_files} are accepted per upload.")
    limit = int(max_mb * 1024 * 1024)
    accepted = Accepted()
    folder = folder.resolve()
    for source in files:
        source = Path(source)
        shown = display_name(source.name)
        name = safe_filename(source.name)
        suffix = os.path.splitext(name)[1]
        if suffix not in SUPPORTED_SUFFIXES:
            accepted.rejected.append((shown, f"unsupported file type (use {', '.join(sorted(SUPPORTED_SUFFIXES))})"))
            continue
        try:
            size = source.stat().st_size
        except OSError:
            accepted.rejected.append((shown, "the upload could not be read"))
            continue
        if size > limit:
            accepted.oversize += 1
            accepted.rejected.append((shown, f"{size / 1048576:.1f} MB is over the {max_mb:g} MB upload limit"))
            continue
        # A later upload under the same name is a new version of that article (it replaces it); two
        # files of one upload that clean up to the same name are both kept.
        target = folder / name
        stem, number = os.path.splitext(name)[0], 2
        while target in accepted.paths:
            target, number = folder / f"{stem}-{number}{suffix}", number + 1
        if target.parent != folder:  # cannot happen with a sanitized basename; belt and braces
            accepted.rejected.append((shown, "invalid file name"))
            continue
        try:
            _copy_in(source, target)
        except OSError as error:
            accepted.rejected.append((shown, f"could not be saved ({error.strerror or 'I/O error'})"))
            continue
        accepted.paths.append(target)
    return accepted


def _copy_in(source: Path, target: Path) -> None:
    """Copies ``source`` to ``target`` through a hidden temp file and a rename: a reader never sees half a
    file, and a symlink planted at ``target`` is replaced, never written through."""
    handle, temp = tempfile.mkstemp(prefix=_INCOMING, dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def discard_cached(paths: list[str | Path], cache_dir: str | Path) -> None:
    """Deletes the web framework's temp copies of uploads (only those inside ``cache_dir``), once saved."""
    cache = Path(cache_dir).resolve()
    for raw in paths:
        path = Path(raw).resolve()
        if not path.is_relative_to(cache) or path == cache:
            continue
        path.unlink(missing_ok=True)
        if path.parent != cache:
            with contextlib.suppress(OSError):  # the per-upload folder goes when it holds nothing else
                path.parent.rmdir()


def unindexed(folder: Path, indexed_files: Collection[str]) -> list[Path]:
    """Files in the uploads ``folder`` that no ingest has recorded (an ingest was interrupted, or they
    could not be read); half-copied temp files found there are deleted."""
    if not folder.is_dir():
        return []
    left = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(_INCOMING):
            path.unlink(missing_ok=True)
        elif path.is_file() and not path.is_symlink() and str(path.resolve()) not in indexed_files:
            left.append(path)
    return left

def write_pasted(title: str, text: str, folder: Path, max_mb: float) -> Path:
    """Writes pasted article text as ``pasted-<time>-<slug>-<random>.txt``; UploadError when unusable."""
    title, text = _checked(title, text)
    body = f"{title}\n\n{text}\n"
    _check_size(body, max_mb)
    path = folder / _generated_name("pasted", title, ".txt")
    path.write_text(body, encoding="utf-8")
    return path


def write_record(title: str, text: str, folder: Path, max_mb: float, date: str | None = None,
                 source: str | None = None, url: str | None = None) -> Path:
    """Writes an article sent as JSON (title, text and optional metadata) as ``api-<time>-<slug>-<random>.json``,
    read back like any ``.json`` article file; UploadError when unusable."""
    title, text = _checked(title, text)
    record = {"title": title, "text": text, **{k: v for k, v in (("date", date), ("source", source), ("url", url))
                                                if v}}
    body = json.dumps(record, ensure_ascii=False)
    _check_size(body, max_mb)
    path = folder / _generated_name("api", title, ".json")
    path.write_text(body + "\n", encoding="utf-8")
    return path


def _checked(title: str, text: str) -> tuple[str, str]:
    title = " ".join((title or "").split())[:MAX_TITLE]
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not title:
        raise UploadError("Give the article a title.")
    if not any(ch.isalnum() for ch in text):
        raise UploadError("The article text is empty.")
    return title, text


def _check_size(body: str, max_mb: float) -> None:
    if len(body.encode("utf-8")) > max_mb * 1024 * 1024:
        raise UploadTooLarge(f"The article is over the {max_mb:g} MB upload limit.")


def _generated_name(prefix: str, title: str, suffix: str) -> str:
    slug = _UNSAFE.sub("-", unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower())
    slug = slug.strip("-.")[:40].strip("-.") or "article"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{slug}-{secrets.token_hex(3)}{suffix}"


def shorten_paths(folder: Path) -> Callable[[str], str]:
    """A function that shows paths under ``folder`` by their names only (for ingest reports)."""
    prefixes = sorted({str(folder) + os.sep, str(folder.resolve()) + os.sep}, key=len, reverse=True)

    def shorten(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    return shorten
