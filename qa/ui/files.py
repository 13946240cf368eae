"""Uploaded and pasted articles -> files under ``<data_dir>/uploads/`` with safe, generated names.

A client's file name is never used as a path: only a sanitized basename (letters, digits, ``._-``, no
leading dot, no ``..``, a supported lowercase extension) ever reaches the file system.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.articles import SUPPORTED_SUFFIXES

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
MAX_STEM = 80
MAX_TITLE = 300


class UploadError(ValueError):
    """The whole upload is refused (too many files, nothing given); the message is shown as is."""


@dataclass
class Accepted:
    """Files written to the uploads folder, and the ones refused with a reason (shown by display name)."""

    paths: list[Path] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def upload_dir(data_dir: Path) -> Path:
    """``<data_dir>/uploads``, created when missing."""
    folder = Path(data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def display_name(name: str) -> str:
    """The last path component of a client-supplied name, for messages only (escaped by the renderer)."""
    base = str(name).replace("\\", "/").rstrip("/").split("/")[-1]
    return "".join(ch for ch in base if ch.isprintable())[:120] or "(unnamed)"


def safe_filename(name: str, default_stem: str = "upload") -> str:
    """A safe basename for a client-supplied ``name``: directories, ``..``, odd characters stripped."""
    base = unicodedata.normalize("NFKC", display_name(name))
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
            shutil.copyfile(source, target)
        except OSError as error:
            accepted.rejected.append((shown, f"could not be saved ({error.strerror or 'I/O error'})"))
            continue
        accepted.paths.append(target)
    return accepted


def write_pasted(title: str, text: str, folder: Path, max_mb: float) -> Path:
    """Writes pasted article text as ``pasted-<time>-<slug>-<random>.txt``; UploadError when unusable."""
    title = " ".join((title or "").split())[:MAX_TITLE]
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not title:
        raise UploadError("Give the pasted article a title.")
    if not any(ch.isalnum() for ch in text):
        raise UploadError("Paste the article text first.")
    body = f"{title}\n\n{text}\n"
    if len(body.encode("utf-8")) > max_mb * 1024 * 1024:
        raise UploadError(f"The pasted text is over the {max_mb:g} MB upload limit.")
    slug = _UNSAFE.sub("-", unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower())
    slug = slug.strip("-.")[:40].strip("-.") or "article"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"pasted-{stamp}-{slug}-{secrets.token_hex(3)}.txt"
    path.write_text(body, encoding="utf-8")
    return path


def shorten_paths(folder: Path) -> Callable[[str], str]:
    """A function that shows paths under ``folder`` by their names only (for ingest reports)."""
    prefixes = sorted({str(folder) + os.sep, str(folder.resolve()) + os.sep}, key=len, reverse=True)

    def shorten(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    return shorten
