"""Wake-ups inside one process: workers waiting for jobs, read-back calls waiting for
messages. Raised after the commit that makes the news visible; other processes learn of jobs
through the database (PostgreSQL's NOTIFY) and of messages by polling."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """A level-triggered wake-up that any number of waiters share."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        # Waiters already woken keep running; later waiters wait for the next notify.
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """True if notified within `timeout_s`."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout_s, 0.0)):
                await event.wait()
                return True
        return False
