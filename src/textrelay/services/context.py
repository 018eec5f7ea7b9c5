"""What every service needs from the composition root: storage, time and new SIDs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from textrelay.domain.sids import SidGenerator
from textrelay.services.cache import Presence
from textrelay.services.signals import Signal
from textrelay.storage import Store

Clock = Callable[[], datetime]
"""Returns the current UTC time; tests may pass a settable one."""


@dataclass(frozen=True, slots=True)
class ServiceContext:
    store: Store
    sids: SidGenerator
    clock: Clock
    jobs_ready: Signal = field(default_factory=Signal)
    """Notified after a commit that inserted jobs: wakes this process's workers."""
    messages_changed: Signal = field(default_factory=Signal)
    """Notified after a commit that created or changed a message: wakes read-back waits."""
    opt_outs: Presence = field(default_factory=Presence)
    """Whether any recipient has opted out at all: until one has, creates skip their probe."""

    def now(self) -> datetime:
        # Twilio's timestamps have whole seconds; keeping ours whole makes stored values and
        # rendered values agree, so a date filter matches what the client saw.
        return self.clock().replace(microsecond=0)
