"""First start: build the demo index from ``seeds/`` while the page shows that it is doing so."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

from qa.assistant import Assistant
from qa.ingest.pipeline import Ingestor, IngestProgress, IngestReport
from qa.interfaces.ui.files import clean_temp, temp_dir, unindexed

log = logging.getLogger(__name__)


class Startup:
    """Whether the app can answer yet, and what it is doing meanwhile; shared by every session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = True
        self._message = ""
        self._started = 0.0
        self._done = threading.Event()
        self._done.set()

    @property
    def ready(self) -> bool:
        """True once the index can be searched."""
        with self._lock:
            return self._ready

    def building(self, message: str = "starting…") -> None:
        """Marks the app as busy building its index."""
        with self._lock:
            self._ready, self._message, self._started = False, message, time.monotonic()
            self._done.clear()

    def progress(self, message: str) -> None:
        """Updates the line shown in the page while building."""
        with self._lock:
            self._message = message

    def done(self, message: str = "") -> None:
        """Marks the app as ready."""
        with self._lock:
            self._ready, self._message = True, message
            self._done.set()

    def wait(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for the index to be ready; True when it is."""
        return self._done.wait(timeout)

    def message(self) -> str:
        """What the page shows while building, with the time spent so far."""
        with self._lock:
            if self._ready:
                return self._message
            return f"{self._message} · {time.monotonic() - self._started:.0f} s so far"


def build_demo_index(assistant: Assistant, seeds: Path, startup: Startup) -> IngestReport:
    """Ingests ``seeds`` with a tqdm bar in the terminal and progress lines for the page."""
    from tqdm import tqdm

    startup.building(f"reading {seeds.name}/")
    bar = tqdm(total=0, unit="file", desc="Building the demo index", file=sys.stderr)

    def progress(p: IngestProgress) -> None:
        bar.total = p.files_total
        bar.set_postfix_str(f"{p.chunks_embedded} chunks")
        bar.update(p.files_done - bar.n)
        if p.chunks_pending:
            total = p.chunks_embedded + p.chunks_pending
            startup.progress(f"embedding {p.chunks_embedded} of {total} passages")
        else:
            startup.progress(f"{p.files_done} of {p.files_total} files read")

    try:
        report = Ingestor(assistant.collection).ingest([seeds], progress=progress)
    finally:
        bar.close()
    print(f"demo index: {report.summary()}", file=sys.stderr)
    startup.done(report.summary())
    return report


def prepare_temp(data_dir: Path) -> Path:
    """Deletes the temporary upload copies a killed server left under ``data_dir``, then makes this process's
    temp folder there the web framework's upload cache too (``GRADIO_TEMP_DIR``, read when the page is built),
    so that no upload is ever copied outside the data dir. Returns that folder."""
    for leftover in clean_temp(data_dir):
        log.warning("deleted the temporary uploads a stopped server left in %s", leftover)
    folder = temp_dir(data_dir)
    cache = folder / "gradio"
    cache.mkdir(parents=True, exist_ok=True)  # exports are written there before any upload has made it
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    return folder


def resume_uploads(assistant: Assistant, folder: Path) -> IngestReport | None:
    """Ingests uploads that a stopped server had saved but not indexed; deletes (and logs) any that still
    cannot be indexed, so that nothing lies in the uploads folder unaccounted for. None when none were left."""
    collection = assistant.collection
    left = unindexed(folder, set(collection.store.file_paths()))
    if not left:
        return None
    log.warning("ingesting %d upload(s) interrupted by a stop: %s", len(left), ", ".join(p.name for p in left))
    report = None
    try:
        report = Ingestor(collection).ingest(left)
        log.warning("interrupted uploads: %s", report.summary())
    except Exception:
        log.exception("ingesting the interrupted uploads failed")
    for path in unindexed(folder, set(collection.store.file_paths())):
        if path in left:
            log.warning("upload %s could not be ingested and was deleted; upload it again", path.name)
            path.unlink(missing_ok=True)
    return report
