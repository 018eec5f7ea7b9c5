"""Message statuses, directions and the legal transitions between statuses.

Facts: shared/twilio/messaging-and-webhooks.md §3. The transition table is synthesised from
Twilio's docs (its own diagram is an image); the delivery pipeline enforces it.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    RECEIVING = "receiving"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    READ = "read"
    PARTIALLY_DELIVERED = "partially_delivered"
    CANCELED = "canceled"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND_API = "outbound-api"
    OUTBOUND_CALL = "outbound-call"
    OUTBOUND_REPLY = "outbound-reply"


S = MessageStatus

TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELED, S.FAILED}),
    S.ACCEPTED: frozenset({S.QUEUED, S.CANCELED, S.FAILED}),
    S.QUEUED: frozenset({S.SENDING, S.SENT, S.FAILED}),
    S.SENDING: frozenset({S.SENT, S.FAILED}),
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.FAILED}),
    S.DELIVERED: frozenset({S.READ}),
    S.UNDELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.READ: frozenset(),
    S.CANCELED: frozenset(),
    S.RECEIVING: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset(),
    S.PARTIALLY_DELIVERED: frozenset(),
}

# A message still in one of these may not be deleted (error 20009). `sent` counts as complete:
# many carriers never report delivery, and such a message would otherwise live forever.
IN_FLIGHT = frozenset({S.QUEUED, S.SENDING, S.ACCEPTED, S.SCHEDULED, S.RECEIVING})

# Statuses from which `Status=canceled` succeeds (companion §8): not yet handed to a sender.
CANCELABLE = frozenset({S.SCHEDULED, S.ACCEPTED})


def can_transition(current: MessageStatus, new: MessageStatus) -> bool:
    return new in TRANSITIONS[current]
