"""What a worker process remembers of the database between requests, and how it stays fresh.

The busiest reading requests (a student's panel, every morning) would otherwise ask the database
the same questions on every request: is this login still good, which plan version is current.
A worker remembers the answers, under two rules that keep them honest:

- the worker that commits a change forgets what it remembered of it right after the commit
  (`after_commit`), so its own next request sees the change;
- every other worker looks again when what it remembers is older than `CACHE_CHECK_SECONDS`
  (one small query per second and worker, not one per request), so a logout, a disabled
  account or a new timetable reaches all workers within that time. 0 looks on every request.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

K = TypeVar("K")
V = TypeVar("V")
_CALLBACKS = "mdm_after_commit"


def check_seconds() -> float:
    """How old a remembered answer may get before the worker looks again (CACHE_CHECK_SECONDS)."""
    return float(current_app.config["CACHE_CHECK_SECONDS"])


def now() -> float:
    """The clock remembered answers are aged by."""
    return time.monotonic()


def after_commit(session: Session, forget: Callable[[], None]) -> None:
    """Run `forget` when this session's transaction ends (also on rollback: forgetting is safe)."""
    session.info.setdefault(_CALLBACKS, []).append(forget)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for forget in session.info.pop(_CALLBACKS, []):
        forget()


class LRUCache(Generic[K, V]):
    """A small thread-safe least-recently-used cache of one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The cached value, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Keep a value, dropping the least recently used beyond the size."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
