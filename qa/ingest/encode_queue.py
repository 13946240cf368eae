"""Embedding in the background while an ingest reads on: a bounded queue of length-sorted slices.

An ingest hands each article's chunk texts to :class:`EncodeQueue` as soon as they are cut; every
``slice_size`` texts go to one background thread, which embeds them (sorted by length within the slice, so
a batch pads to nearly its own length; :meth:`embeddings.Encoder.encode` restores their order). Meanwhile
the ingest reads, parses and chunks the next files. At most ``ahead`` slices wait or run at once: when the
reader gets further ahead, it waits for the oldest, so memory stays bounded whatever the corpus.

Nothing here commits: the ingest takes the vectors (:meth:`EncodeQueue.take`) at exactly the points where it
embedded them before, and commits as before. An error while embedding is raised to the ingest there (or
at the next hand-over), before anything of its batch is committed, so the collection keeps its previous
state. With ``ahead`` 0 everything is embedded on the calling thread, one slice after the other.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from embeddings import Encoder

log = logging.getLogger(__name__)


class EncodeQueue:
    """Texts in, vectors out in the same order; the embedding runs ahead in a background thread."""

    def __init__(self, encoder: Encoder, slice_size: int, ahead: int) -> None:
        if slice_size < 1 or ahead < 0:
            raise ValueError(f"slice size must be >= 1 and slices ahead >= 0 (got {slice_size}, {ahead})")
        self.encoder = encoder
        self.slice_size = slice_size
        self.ahead = ahead
        self._waiting: list[str] = []  # handed in, not yet in a slice
        self._running: deque[Future[np.ndarray]] = deque()  # slices in the background, oldest first
        self._done: list[np.ndarray] = []  # embedded slices not yet taken, in order
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ingest-encode") if ahead else None

    @property
    def embedded(self) -> int:
        """Texts embedded and not yet taken (slices that finished, in order)."""
        while self._running and self._running[0].done():
            self._done.append(self._running.popleft().result())  # raises the slice's error, if any
        return sum(len(vectors) for vectors in self._done)

    def add(self, texts: Sequence[str]) -> None:
        """Queues ``texts``; each full slice starts embedding (waiting first while ``ahead`` slices are out)."""
        self._waiting.extend(texts)
        while len(self._waiting) >= self.slice_size:
            self._start(self._waiting[: self.slice_size])
            del self._waiting[: self.slice_size]

    def take(self, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Every queued text's vector, ``(n, dimension)`` in the order added; waits for the slices still out,
        calling ``progress`` with the count embedded as each one finishes. The queue is empty afterwards."""
        if self._waiting:
            self._start(self._waiting)
            self._waiting = []
        if progress is not None:
            progress(self.embedded)
        while self._running:
            self._done.append(self._running.popleft().result())
            if progress is not None:
                progress(self.embedded)
        done, self._done = self._done, []
        return np.vstack(done) if done else np.zeros((0, self.encoder.dimension), dtype=np.float32)

    def close(self) -> None:
        """Drops what is queued and waits for the slice being embedded (an ingest that failed or ended)."""
        for future in self._running:
            future.cancel()
        self._running.clear()
        self._waiting, self._done = [], []
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _start(self, texts: list[str]) -> None:
        if self._executor is None:  # nothing ahead: embed here and now
            self._done.append(self._encode(texts))
            return
        if len(self._running) >= self.ahead:
            self._done.append(self._running.popleft().result())
        self._running.append(self._executor.submit(self._encode, texts))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts, slice_size=len(texts))
