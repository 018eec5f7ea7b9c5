"""The small interfaces services use to reach the outside (STYLE.md rule 6).

app.py plugs in the concrete adapters: textrelay.carriers for Carrier, textrelay.webhooks for
WebhookTransport.
"""

from __future__ import annotations

from typing import Protocol

from textrelay.domain.delivery import Submission
from textrelay.domain.messages import Message
from textrelay.domain.webhooks import WebhookOutcome, WebhookRequest


class Carrier(Protocol):
    async def submit(self, message: Message) -> Submission:
        """Hand a message over; the status changes the carrier will report for it."""
        ...


class WebhookTransport(Protocol):
    async def deliver(self, request: WebhookRequest) -> WebhookOutcome:
        """Make every HTTP attempt one webhook's policy allows; never raises for the
        receiver's behaviour."""
        ...
