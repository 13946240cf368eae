"""A lock that lets waiting threads in strictly in the order they arrived."""

from __future__ import annotations

import threading
from types import TracebackType


class TurnLock:
    """Mutual exclusion granted first come, first served (a ticket lock).

    ``threading.Lock`` lets any waiter in when it is released, so under load an unlucky request can lose
    the race again and again; with model inference behind it that showed up as a long latency tail.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> TurnLock:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._changed.wait()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._changed:
            self._serving += 1
            self._changed.notify_all()
