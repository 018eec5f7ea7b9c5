"""What every service needs from the composition root: storage, time and new SIDs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from textrelay.domain.sids import SidGenerator
from textrelay.services.cache import Presence
from textrelay.storage import Signal, Store

__all__ = ["Clock", "ServiceContext", "Signal"]

Clock = Callable[[], datetime]
"""Returns the current UTC time; tests may pass a settable one."""


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    sids: SidGenerator
    clock: Clock
    opt_outs: Presence = field(default_factory=Presence)
    """Whether any recipient has opted out at all: until one has, creates skip their probe."""

    @property
    def jobs_ready(self) -> Signal:
        """Raised by the store after a commit that inserted or freed jobs (and by the clock
        when it moves): wakes this process's workers."""
        return self.store.jobs_ready

    @property
    def messages_changed(self) -> Signal:
        """Raised by the store after a commit that changed a message: wakes read-back waits
        and the console's live pages."""
        return self.store.messages_changed

    def now(self) -> datetime:
        # Twilio's timestamps have whole seconds; keeping ours whole makes stored values and
        # rendered values agree, so a date filter matches what the client saw.
        return self.clock().replace(microsecond=0)
