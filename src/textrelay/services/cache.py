"""A small read-through cache with a time-to-live, for lookups every request repeats.

Accounts (for authentication) and number ownership (for every create) are read on each request
but change rarely. Entries live `ttl_s` seconds; a change made through this process drops its
entry at once, and a change made by another process (several processes on one PostgreSQL) is
seen within `ttl_s`. docs/operations.md states the bound.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TTL_S = 1.0
_MAX_ENTRIES = 10_000


class TtlCache(Generic[K, V]):
    __slots__ = ("_entries", "_monotonic", "_ttl_s")

    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._monotonic() >= expires:
            del self._entries[key]
            return None
        return value

    async def get_or_load(self, key: K, load: Callable[[K], Awaitable[V | None]]) -> V | None:
        """The cached value, else `load(key)`, kept when it is not None."""
        value = self.get(key)
        if value is None:
            value = await load(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()  # crude but bounded; a full cache only costs lookups
        self._entries[key] = (self._monotonic() + self._ttl_s, value)

    def update(self, key: K, value: V) -> None:
        """A new value for a live entry, which keeps its expiry (a count kept up to date
        between reads must still be read again on time); nothing if there is none."""
        entry = self._entries.get(key)
        if entry is not None and self._monotonic() < entry[0]:
            self._entries[key] = (entry[0], value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class Presence:
    """Whether any row of some kind exists at all, known for `ttl_s` at a time.

    For checks most requests pass because nothing of the kind exists yet (no recipient has
    texted STOP): while the answer is "none", they skip their per-request probe. A change
    committed through this process calls `changed()` and is seen at once (an answer loaded
    while it happened is not kept); another process's change is seen within `ttl_s`.
    """

    __slots__ = ("_any", "_changes", "_expires", "_monotonic", "_ttl_s")

    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._any = True
        self._expires = 0.0
        self._changes = 0

    async def any(self, load: Callable[[], Awaitable[bool]]) -> bool:
        if self._monotonic() < self._expires:
            return self._any
        changes = self._changes
        found = await load()
        if changes == self._changes:
            self._any, self._expires = found, self._monotonic() + self._ttl_s
        return found

    def changed(self) -> None:
        self._changes += 1
        self._expires = 0.0
