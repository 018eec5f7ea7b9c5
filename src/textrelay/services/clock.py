"""The server's "now", which tests may move forward instead of sleeping (docs/control-api.md).

Every service reads time through ServiceContext.clock; this clock is the system clock plus an
offset that only grows. Moving it wakes the workers, so jobs due in the skipped time run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from textrelay.storage import Signal

MAX_ADVANCE_S = 400 * 86_400
"""Far enough for any schedule (Twilio's window is 35 days), bounded against typos."""


class AdjustableClock:
    def __init__(self, source: Callable[[], datetime]) -> None:
        self._source = source
        self.offset = timedelta(0)
        self.jobs_ready: Signal | None = None
        """Set by the composition root: notified when the clock moves."""
        self.moved = Signal()
        """Notified when the clock moves: wakes periodic work measured on it (retention)."""

    def __call__(self) -> datetime:
        return self._source() + self.offset

    def unadjusted(self) -> datetime:
        """The source clock without the offset: what job leases are measured on, so moving
        the clock makes scheduled work due but never ends a lease of a job in flight."""
        return self._source()

    def advance(self, seconds: float) -> datetime:
        if not 0 <= seconds <= MAX_ADVANCE_S:
            raise ValueError(f"advance by 0 to {MAX_ADVANCE_S} seconds")
        self.offset += timedelta(seconds=seconds)
        self.moved.notify()
        if self.jobs_ready is not None:
            self.jobs_ready.notify()
        return self()
