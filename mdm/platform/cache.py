"""What a worker process remembers between requests: the one cache module.

The busiest reading requests (a student's panel, every morning) would otherwise ask the database
the same questions on every request: is this login still good, which plan version is current.
A worker keeps such answers in one `WorkerCache`, held on the app (`app.extensions["mdm_cache"]`),
in named stores of two kinds:

- `Facts`: answers keyed by everything they depend on, so they never go stale: a verified token,
  the plan rows of one plan version, a feed rendered for one version.
  A bounded least-recently-used store forgets what is used least.
- `Remembered`: answers that a change in the database can make wrong: a school's panel state,
  the auth versions of the schools. An answer is used for at most CACHE_CHECK_SECONDS after it
  was read, so other workers see a change within that time; the worker that commits a change
  forgets the answer right after its commit (`forget_after_commit`), so its own next request sees
  it at once. That is the one way to forget. CACHE_CHECK_SECONDS = 0 remembers nothing here.

The cache has its own clock (`WorkerCache.clock`, monotonic seconds), so tests move time by hand.

Each store earns its place in bench/morning_bench.py's realistic morning (docs/benchmarks.md);
one that does not is removed (parsed query strings were: every panel open has its own `since`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

K = TypeVar("K")
V = TypeVar("V")
_FORGET_AFTER_COMMIT = "mdm_forget_after_commit"  # its key in Session.info


class Facts(Generic[K, V]):
    """A bounded, thread-safe least-recently-used store of answers that never go stale."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The answer, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        """Keep an answer, dropping the least recently used beyond the size."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


class Remembered(Generic[K, V]):
    """Answers that can change: each used for at most CACHE_CHECK_SECONDS after it was read,
    forgotten at once by the worker that commits a change of it."""

    def __init__(self, cache: WorkerCache, size: int) -> None:
        self._cache = cache
        # key -> (when its read started, how often the key had been forgotten by then, answer)
        self._answers: Facts[K, tuple[float, int, V]] = Facts(size)
        self._forgotten: dict[K, int] = {}  # how often each key was forgotten (one per school)
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The answer, unless it is older than CACHE_CHECK_SECONDS or was forgotten since it
        was read (a read that started before a change may have missed it)."""
        remembered = self._answers.get(key)
        if remembered is None or self._cache.check_seconds <= 0:
            return None
        started, forgotten, value = remembered
        if self._cache.clock() - started > self._cache.check_seconds:
            return None
        return value if forgotten == self._forgotten.get(key, 0) else None

    def get_or_read(self, key: K, read: Callable[[], V]) -> V:
        """The answer, read with `read` when it is not remembered (or too old)."""
        value = self.get(key)
        if value is None:
            started, forgotten = self._cache.clock(), self._forgotten.get(key, 0)
            value = read()
            self._answers.put(key, (started, forgotten, value))
        return value

    def forget(self, key: K) -> None:
        """Read the answer again at its next use."""
        with self._lock:
            self._forgotten[key] = self._forgotten.get(key, 0) + 1

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._answers.clear()
            self._forgotten.clear()


class WorkerCache:
    """Everything one worker remembers between requests, in named stores."""

    def __init__(self, check_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.check_seconds = check_seconds
        self.clock = clock
        self._stores: dict[str, Facts[object, object] | Remembered[object, object]] = {}
        self._lock = threading.Lock()

    def facts(self, name: str, size: int) -> Facts:  # type: ignore[type-arg]
        """The store of facts with this name, made on first use."""
        with self._lock:
            store = self._stores.setdefault(name, Facts(size))
        assert isinstance(store, Facts)
        return store

    def remembered(self, name: str, size: int) -> Remembered:  # type: ignore[type-arg]
        """The store of remembered answers with this name, made on first use."""
        with self._lock:
            store = self._stores.setdefault(name, Remembered(self, size))
        assert isinstance(store, Remembered)
        return store

    def clear(self) -> None:
        """Forget everything this worker remembers."""
        with self._lock:
            stores = list(self._stores.values())
        for store in stores:
            store.clear()


def init_app(app: Flask) -> None:
    """Give the app its worker cache."""
    app.extensions["mdm_cache"] = WorkerCache(float(app.config["CACHE_CHECK_SECONDS"]))


def worker_cache() -> WorkerCache:
    """The current app's worker cache."""
    return current_app.extensions["mdm_cache"]


def forget_after_commit(session: Session, forget: Callable[[], None]) -> None:
    """Run `forget` when this session's transaction ends (also on rollback: forgetting is safe)."""
    session.info.setdefault(_FORGET_AFTER_COMMIT, []).append(forget)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    for forget in session.info.pop(_FORGET_AFTER_COMMIT, []):
        forget()
