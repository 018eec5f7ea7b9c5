"""Wake-ups inside one process: workers waiting for jobs, read-back calls waiting for
messages. Raised after the commit that makes the news visible; other processes learn of jobs
through the database (PostgreSQL's NOTIFY) and of messages by polling."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """A wake-up that any number of waiters share, counted so none is missed: a waiter notes
    `generation` before it looks for work and passes it to `wait`, which returns at once if a
    notify came in between."""

    __slots__ = ("_event", "generation")

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.generation = 0

    def notify(self) -> None:
        self.generation += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float, *, since: int | None = None) -> bool:
        """True if notified within `timeout_s` (or already, after generation `since`)."""
        if since is not None and since != self.generation:
            return True
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout_s, 0.0)):
                await event.wait()
                return True
        return False
