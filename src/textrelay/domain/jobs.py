"""Jobs: the units of work the queue holds, one kind per promised side effect."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobKind(StrEnum):
    DISPATCH = "dispatch"
    """Hand a queued message to the carrier."""
    CARRIER = "carrier"
    """Apply the carrier's next planned status change (the simulator's delivery reports)."""
    CALLBACK = "callback"
    """POST one status callback."""
    INBOUND = "inbound"
    """Call the app's webhook for an incoming message and carry out its TwiML."""
    AUTO_REPLY = "auto_reply"
    """Send Twilio's default answer to STOP, START or HELP."""


@dataclass(frozen=True, slots=True)
class Job:
    seq: int
    kind: JobKind
    message_sid: str | None
    payload: dict[str, Any]
    attempts: int
    claim: str
    """The token of the claim that leased it; only its holder may finish or reschedule it."""
