"""Counting failures per key in a time window, in memory or in Redis (several instances)."""

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis


class FailureCounter(Protocol):
    """Counts recent failures per key."""

    def count(self, key: str) -> tuple[int, int]:
        """(failures in the window, seconds until the oldest one expires)."""
        ...

    def add(self, key: str) -> None:
        """Record one failure."""
        ...

    def clear(self, key: str) -> None:
        """Forget the failures (after a success)."""
        ...


class MemoryCounter:
    """Sliding window in this process's memory: right for one process, wrong for several."""

    def __init__(self, window: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock  # monotonic seconds; tests move it by hand
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return deque()
        return hits

    def count(self, key: str) -> tuple[int, int]:
        now = self.clock()
        with self._lock:
            hits = self._prune(key, now)
            retry = int(hits[0] + self.window - now) + 1 if hits else 0
            return len(hits), retry

    def add(self, key: str) -> None:
        with self._lock:
            self._hits.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class RedisCounter:
    """Fixed window in Redis (INCR with expiry), shared by every instance of the service."""

    def __init__(self, url: str, window: int, prefix: str = "mdm:fail:") -> None:
        self.window = window
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2)

    def count(self, key: str) -> tuple[int, int]:
        pipe = self._redis.pipeline()
        pipe.get(self.prefix + key)
        pipe.ttl(self.prefix + key)
        value, ttl = pipe.execute()
        return int(value or 0), max(int(ttl), 1) if value else 0

    def add(self, key: str) -> None:
        pipe = self._redis.pipeline()
        pipe.incr(self.prefix + key)
        pipe.expire(self.prefix + key, self.window, nx=True)
        pipe.execute()

    def clear(self, key: str) -> None:
        self._redis.delete(self.prefix + key)


def make_counter(url: str, window: int) -> FailureCounter:
    """A counter for the configured storage URL ("memory://" or "redis://...")."""
    if url.startswith("memory://"):
        return MemoryCounter(window)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounter(url, window)
    raise ValueError(f"RATELIMIT_STORAGE_URL must be memory:// or a Redis URL, not {url!r}")
