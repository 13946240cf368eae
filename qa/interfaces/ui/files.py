"""Uploaded and pasted articles -> files under ``<data_dir>/uploads/`` with safe, generated names.

A client's file name is never used as a path: only a sanitized basename (letters, digits, ``._-``, no
leading dot, no ``..``, a supported lowercase extension) ever reaches the file system.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.articles import SUPPORTED_SUFFIXES
from qa.storage.store import file_hash

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


@dataclass(frozen=True)
class Stored:
    """Where one accepted upload went: ``outcome`` is ``new`` (stored under its own name), ``beside`` (another
    file already had that name: stored under a numbered one), ``replaced`` (the user asked to replace the
    stored file of that name) or ``unchanged`` (the same content is already stored; nothing written)."""

    shown: str
    name: str
    outcome: str

    def describe(self) -> str:
        """One line for the upload's report."""
        if self.outcome == "beside":
            return f"{self.shown}: a different file has that name; this one was added beside it as {self.name}"
        if self.outcome == "replaced":
            return f"{self.shown}: replaced the stored {self.name}"
        if self.outcome == "unchanged":
            return f"{self.shown}: unchanged, the same file is already stored as {self.name}"
        return f"{self.shown}: stored as {self.name}"


@dataclass
class Accepted:
    """Files written to the uploads folder, and the ones refused with a reason (shown by display name)."""

    paths: list[Path] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    oversize: int = 0  # how many of the rejected were over the size limit
    stored: list[Stored] = field(default_factory=list)  # one per accepted file, in the order given


def upload_dir(data_dir: Path) -> Path:
    """``<data_dir>/uploads``, created when missing."""
    folder = Path(data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


TEMP_FOLDER = "tmp"  # under the data dir: temporary upload copies, one folder per server process
_SERVER_PREFIX = "server-"


def temp_dir(data_dir: Path) -> Path:
    """This process's folder for temporary upload copies, ``<data_dir>/tmp/server-<pid>``, created when missing;
    what a killed server left there is deleted by :func:`clean_temp` at the next start."""
    folder = Path(data_dir) / TEMP_FOLDER / f"{_SERVER_PREFIX}{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clean_temp(data_dir: Path) -> list[Path]:
    """Deletes the temporary upload folders of server processes that are no longer running (a server that
    was killed never cleaned its own), and anything else lying there; returns what was deleted. Another running
    server's folder is left alone; this process's own is deleted too (call this at start, before anything is
    put there: a process id can be reused, e.g. by a container's server, always process 1)."""
    root = Path(data_dir) / TEMP_FOLDER
    if not root.is_dir():
        return []
    removed = []
    for folder in sorted(root.iterdir()):
        pid = folder.name.removeprefix(_SERVER_PREFIX)
        if folder.name.startswith(_SERVER_PREFIX) and pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
            continue
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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


def control_characters(name: str) -> bool:
    """True when a client-supplied file name holds control characters (a NUL, a newline, an escape...)."""
    return any(unicodedata.category(ch) == "Cc" for ch in str(name))


def save_uploads(files: Sequence[str | Path], folder: Path, max_mb: float, max_files: int,
                 names: Sequence[str] | None = None, replace: bool = False) -> Accepted:
    """Copies uploaded temp files into ``folder`` under sanitized names, enforcing type, size and count.

    ``names`` are the names the client gave (default: the files' own names). A file whose name is taken by a
    different stored file is added beside it under a numbered name, or replaces it when ``replace`` is asked;
    the same content as the stored file is left as it is. Each outcome is in :attr:`Accepted.stored`.
    """
    given = [(Path(f), str(n)) for f, n in zip(files, files if names is None else names) if f]
    if not given:
        raise UploadError("Choose one or more files to upload first.")
    if len(given) > max_files:
        raise UploadError(f"Too many files: {len(given)} were given, at most {max_files} are accepted per upload.")
    limit = int(max_mb * 1024 * 1024)
    accepted = Accepted()
    folder = folder.resolve()
    for source, client_name in given:
        shown = display_name(client_name)
        refusal = _refusal(source, client_name, max_mb, limit)
        if refusal is not None:
            reason, oversize = refusal
            accepted.oversize += oversize
            accepted.rejected.append((shown, reason))
            continue
        try:
            stored = _store(source, folder, safe_filename(client_name), replace, accepted.paths)
        except OSError as error:
            accepted.rejected.append((shown, f"could not be saved ({error.strerror or 'I/O error'})"))
            continue
        accepted.stored.append(Stored(shown, stored.name, stored.outcome))
        if stored.path not in accepted.paths:
            accepted.paths.append(stored.path)
    return accepted


def _refusal(source: Path, client_name: str, max_mb: float, limit: int) -> tuple[str, bool] | None:
    """Why an upload is refused before it is stored, and whether for its size; None when it is not."""
    if control_characters(client_name):
        return "the file name contains control characters; rename the file and upload it again", False
    suffix = os.path.splitext(safe_filename(client_name))[1]
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type (use {', '.join(sorted(SUPPORTED_SUFFIXES))})", False
    try:
        size = source.stat().st_size
    except OSError:
        return "the upload could not be read", False
    if size > limit:
        return f"{size / 1048576:.1f} MB is over the {max_mb:g} MB upload limit", True
    return None


@dataclass(frozen=True)
class _Placed:
    path: Path
    outcome: str

    @property
    def name(self) -> str:
        return self.path.name


def _store(source: Path, folder: Path, name: str, replace: bool, this_upload: Sequence[Path]) -> _Placed:
    """Puts ``source`` into ``folder`` as ``name``, beside a different file of that name (numbered), in its
    place when ``replace`` (never a file of this same upload), or nowhere when the same content is stored."""
    stem, suffix = os.path.splitext(name)
    target = folder / name
    for candidate in _numbered(folder, stem, suffix):
        if not os.path.lexists(candidate):
            break
        if _same_content(source, candidate):
            return _Placed(candidate, "unchanged")
    if replace and target.is_file() and not target.is_symlink() and target not in this_upload:
        _copy_in(source, target, replace=True)
        return _Placed(target, "replaced")
    for candidate in _numbered(folder, stem, suffix):
        try:
            _copy_in(source, candidate, replace=False)
        except FileExistsError:  # taken meanwhile (or before): the next number
            continue
        return _Placed(candidate, "new" if candidate == target else "beside")
    raise AssertionError("unreachable: the numbered names never run out")


def _numbered(folder: Path, stem: str, suffix: str) -> Iterator[Path]:
    """``stem.suffix``, then ``stem-2.suffix``, ``stem-3.suffix``…"""
    yield folder / f"{stem}{suffix}"
    for number in itertools.count(2):
        yield folder / f"{stem}-{number}{suffix}"


def _same_content(source: Path, stored: Path) -> bool:
    """True when ``stored`` is a regular file (never followed through a link) with the bytes of ``source``."""
    try:
        if stored.is_symlink() or not stored.is_file() or stored.stat().st_size != source.stat().st_size:
            return False
        return file_hash(source) == file_hash(stored)
    except OSError:
        return False



def _copy_in(source: Path, target: Path, replace: bool) -> None:
    """Copies ``source`` to ``target`` through a hidden temp file: renamed over ``target`` when ``replace``
    (a symlink planted there is replaced, never written through), else linked to it, which fails with
    FileExistsError when the name is taken. A reader never sees half a file."""
    handle, temp = tempfile.mkstemp(prefix=_INCOMING, dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as data:
            shutil.copyfileobj(data, out)
        if replace:
            os.replace(temp, target)
        else:
            os.link(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)


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
