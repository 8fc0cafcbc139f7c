"""Counting attempts per key in a time window, in memory or in Redis (several instances).

An attempt is counted and checked in one step (`take`), so that parallel requests cannot all
pass the check before any of them is counted; a successful attempt is given back.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis


class FailureCounter(Protocol):
    """Counts recent attempts per key against a limit."""

    def take(self, key: str, limit: int) -> int | None:
        """Count one attempt, unless the key has `limit` attempts in the window already: then
        the seconds until one expires (nothing is counted); else None."""
        ...

    def give_back(self, key: str) -> None:
        """Uncount one attempt of the key (it succeeded)."""
        ...

    def clear(self, key: str) -> None:
        """Forget the key's attempts."""
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
        return hits

    def take(self, key: str, limit: int) -> int | None:
        now = self.clock()
        with self._lock:
            hits = self._prune(key, now)
            if len(hits) >= limit:
                return int(hits[0] + self.window - now) + 1
            hits.append(now)
            return None

    def give_back(self, key: str) -> None:
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()

    def clear(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class RedisCounter:
    """Fixed window in Redis (INCR with expiry), shared by every instance of the service."""

    def __init__(self, url: str, window: int, prefix: str = "mdm:fail:") -> None:
        self.window = window
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2)

    def take(self, key: str, limit: int) -> int | None:
        name = self.prefix + key
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, self.window, nx=True)
        pipe.ttl(name)
        count, _set, ttl = pipe.execute()
        if int(count) <= limit:
            return None
        self._redis.decr(name)
        return max(int(ttl), 1)

    def give_back(self, key: str) -> None:
        name = self.prefix + key
        if int(self._redis.decr(name)) < 0:
            self._redis.delete(name)

    def clear(self, key: str) -> None:
        self._redis.delete(self.prefix + key)


def make_counter(url: str, window: int) -> FailureCounter:
    """A counter for the configured storage URL ("memory://" or "redis://...")."""
    if url.startswith("memory://"):
        return MemoryCounter(window)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounter(url, window)
    raise ValueError(f"RATELIMIT_STORAGE_URL must be memory:// or a Redis URL, not {url!r}")


def take_all(counter: FailureCounter, limits: list[tuple[str, int]]) -> int | None:
    """Take an attempt of every key, or of none: the seconds to wait when one is at its limit."""
    taken: list[str] = []
    for key, limit in limits:
        retry_after = counter.take(key, limit)
        if retry_after is not None:
            for done in taken:
                counter.give_back(done)
            return retry_after
        taken.append(key)
    return None
