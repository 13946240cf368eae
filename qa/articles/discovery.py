"""Expands the paths a user gives (files and folders) into the article files we can read."""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".pdf"})
# Deeper than this is almost certainly a link maze, not an article collection.
_MAX_DEPTH = 64


@dataclass
class Discovery:
    """The outcome of expanding paths: readable candidates plus what was skipped and why."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


_LEGAL_FILES = frozenset({"NOTICE", "LICENSE", "LICENCE", "COPYING", "AUTHORS"})


def unsupported_reason(path: Path) -> str:
    """The skip reason for a file whose extension we do not read."""
    suffix = path.suffix.lower()
    shown = f"'{suffix}'" if suffix else "(no extension)"
    return f"unsupported file type {shown} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})"


def _stat_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "path does not exist"
    return f"cannot access: {exc.strerror or exc}"


def _inside(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Walker:
    """Collects files; remembers directories by (device, inode) so symlinks cannot loop.

    A symlink is followed only when its target lies inside one of ``roots`` (the real paths of the
    files and folders being ingested), unless ``follow_symlinks``: otherwise anyone who can drop a link
    into an ingested folder could make the operator's private files searchable.
    """

    def __init__(self, roots: list[str], follow_symlinks: bool) -> None:
        self.found: dict[str, Path] = {}  # resolved path -> path as discovered
        self.skipped: list[tuple[Path, str]] = []
        self.seen_dirs: set[tuple[int, int]] = set()
        self.roots = roots
        self.follow_symlinks = follow_symlinks

    def leads_outside(self, link: Path) -> bool:
        """True (and the link is listed as skipped) when ``link`` points outside the ingested paths."""
        if self.follow_symlinks:
            return False
        target = os.path.realpath(link)
        if _inside(target, self.roots):
            return False
        self.skipped.append((link, f"symlink to {target}, outside the paths being ingested "
                                   "(not followed; --follow-symlinks allows it)"))
        return True

    def add_file(self, path: Path) -> None:
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            self.skipped.append((path, unsupported_reason(path)))
            return
        try:
            key = str(path.resolve())
        except (OSError, RuntimeError) as exc:  # RuntimeError: loop on older Pythons
            self.skipped.append((path, f"cannot resolve path: {exc}"))
            return
        self.found.setdefault(key, path)

    def add_path(self, path: Path) -> None:
        """Handles one top-level path; hidden names are honoured here because the user asked."""
        if path.is_symlink() and self.leads_outside(path):
            return
        try:
            st = path.stat()
        except OSError as exc:
            reason = _stat_error(exc)
            if reason == "path does not exist" and os.path.islink(path):
                reason = "broken symlink (its target does not exist)"
            self.skipped.append((path, reason))
            return
        if stat.S_ISDIR(st.st_mode):
            self.walk(path, st)
        elif stat.S_ISREG(st.st_mode):
            self.add_file(path)
        else:
            self.skipped.append((path, "not a regular file or folder"))

    def walk(self, root: Path, root_stat: os.stat_result) -> None:
        """Depth-first walk; a directory reached again through a link to one of its own
        ancestors is reported as a symlink loop, any other revisit is skipped silently."""
        # Stack of (folder, its stat, (dev, ino) of the folders above it on this branch).
        stack: list[tuple[Path, os.stat_result, frozenset[tuple[int, int]]]] = [(root, root_stat, frozenset())]
        while stack:
            folder, st, ancestors = stack.pop()
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                self.skipped.append((folder, "symlink loop (links back to a parent folder)"))
                continue
            if ident in self.seen_dirs:
                continue  # same folder reached by another route; its files are already listed
            if len(ancestors) >= _MAX_DEPTH:
                self.skipped.append((folder, f"folder nesting deeper than {_MAX_DEPTH} levels"))
                continue
            self.seen_dirs.add(ident)
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self.skipped.append((folder, _stat_error(exc)))
                continue
            below = ancestors | {ident}
            subfolders: list[tuple[Path, os.stat_result, frozenset[tuple[int, int]]]] = []
            for entry in entries:
                if entry.name.startswith(".") or entry.name.upper() in _LEGAL_FILES:
                    # Hidden entries (.git, .DS_Store) and licence notes shipped beside articles are never articles.
                    continue
                child = folder / entry.name
                if entry.is_symlink() and self.leads_outside(child):
                    continue
                try:
                    child_st = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    reason = _stat_error(exc)
                    if reason == "path does not exist" and entry.is_symlink():
                        reason = "broken symlink (its target does not exist)"
                    self.skipped.append((child, reason))
                    continue
                if stat.S_ISDIR(child_st.st_mode):
                    subfolders.append((child, child_st, below))
                elif stat.S_ISREG(child_st.st_mode):
                    self.add_file(child)
                else:
                    self.skipped.append((child, "not a regular file or folder"))
            # Reversed so that popping visits subfolders in name order.
            stack.extend(reversed(subfolders))


def discover(paths: Iterable[Path | str], follow_symlinks: bool = False) -> Discovery:
    """Expands files and folders (recursively) into supported files.

    ``files`` is sorted and deduplicated by resolved path; ``skipped`` lists (path, reason) for
    unsupported types, missing paths, symlink loops, symlinks leading outside ``paths`` (followed only
    with ``follow_symlinks``), unreadable folders and the like. Hidden files and folders found inside
    folders are ignored silently.
    """
    given = [Path(raw).expanduser() for raw in paths]
    # A link named on the command line (as a shell glob does) is no root: it must lead inside another one.
    roots = [os.path.realpath(path) for path in given if not path.is_symlink()]
    walker = _Walker(roots, follow_symlinks)
    for path in given:
        walker.add_path(path)
    files = sorted(walker.found.values())
    for path, reason in walker.skipped:
        log.info("skipped %s: %s", path, reason)
    log.debug("discovered %d files, skipped %d paths", len(files), len(walker.skipped))
    return Discovery(files=files, skipped=walker.skipped)
