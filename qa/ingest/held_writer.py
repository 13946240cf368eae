"""The write lock of one long ingest, let go between its commits so that other writers get their turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack

from qa.storage.collection import Collection


class HeldWriter:
    """The collection's write lock, held through one ingest but let go for a moment after each of its commits
    (:meth:`hand_over`), so that another upload or a removal waiting for it is not held up for the whole of a
    big one. Between commits the ingest holds nothing uncommitted; the lock is taken again before it goes on."""

    def __init__(self, collection: Collection, purpose: str, wait: bool, on_wait: Callable[[str], None] | None,
                 handover_s: float) -> None:
        self.collection = collection
        self.purpose = purpose
        self.wait = wait
        self.on_wait = on_wait
        self.handover_s = handover_s
        self._held = ExitStack()

    def __enter__(self) -> HeldWriter:
        self._held.enter_context(self.collection.writer(self.purpose, self.wait, self.on_wait))
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.close()

    def hand_over(self) -> None:
        """Lets the lock go and takes it again, after a pause in which a writer waiting for it takes it first
        (a run that would not wait for the lock keeps it: it could not take it back)."""
        if not self.wait:
            return
        self._held.close()
        time.sleep(self.handover_s)
        self._held.enter_context(self.collection.writer(self.purpose, self.wait, self.on_wait))
