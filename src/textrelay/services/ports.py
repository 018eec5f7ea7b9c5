"""The small interfaces services use to reach the outside (STYLE.md rule 6).

app.py plugs in the concrete adapters: textrelay.carriers for Carrier, textrelay.webhooks for
WebhookTransport.
"""

from __future__ import annotations

from typing import Protocol

from textrelay.domain.lifecycle import Submission
from textrelay.domain.media import FetchedMedia, MediaFailure
from textrelay.domain.messages import Message
from textrelay.domain.webhooks import WebhookOutcome, WebhookRequest


class Carrier(Protocol):
    """Where outbound messages go. The simulator plans its reports at submit time (they ride
    the job queue); a carrier on a live connection (SMPP) answers `sent` and later hands its
    delivery receipts to DeliveryService.apply_receipt, and inbound messages to the inbound
    service (issue 5)."""

    async def submit(self, message: Message) -> Submission:
        """Hand a message over; the status changes the carrier will report for it."""
        ...


class WebhookTransport(Protocol):
    async def deliver(self, request: WebhookRequest) -> WebhookOutcome:
        """Make every HTTP attempt one webhook's policy allows; never raises for the
        receiver's behaviour."""
        ...


class MediaFetcher(Protocol):
    async def fetch(self, url: str, budget_bytes: int) -> FetchedMedia | MediaFailure:
        """The media at `url` within `budget_bytes`, or why it cannot be sent."""
        ...


class MediaStore(Protocol):
    """Where media bytes live (a directory by default), keyed by Media SID."""

    async def put(self, sid: str, content: bytes) -> None: ...

    async def get(self, sid: str) -> bytes | None: ...

    async def delete(self, sid: str) -> None: ...
