"""The outbound lifecycle: what a carrier plans for a message and how a status change applies.

Facts: shared/twilio/messaging-and-webhooks.md §3 (statuses), §10 (price), §11 (error codes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from textrelay.domain.messages import Message
from textrelay.domain.statuses import MessageStatus, can_transition

# Twilio's asynchronous delivery errors (§11), with the message textrelay stores beside them.
DELIVERY_ERRORS: dict[int, str] = {
    30001: "Queue overflow",
    30002: "Account suspended",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    30009: "Missing inbound segment",
    30010: "Message price exceeds max price",
    30011: "MMS not supported by the receiving phone number in this region",
    30019: "Content size exceeds carrier limit",
    30022: "US A2P 10DLC - Rate Limits Exceeded",
    30032: "Toll-Free Number Has Not Been Verified",
    30034: "US A2P 10DLC - Message from an Unregistered Number",
    30036: "Validity Period Expired",
}
UNKNOWN_ERROR = 30008
LANDLINE = 30006

FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.READ,
        MessageStatus.CANCELED,
        MessageStatus.RECEIVED,
    }
)

# Twilio posts a status callback for these (§4.1): never the initial status, and `sending`
# is not documented for REST sends, so textrelay records it in the history only.
CALLBACK_STATUSES = frozenset(
    {
        MessageStatus.QUEUED,
        MessageStatus.CANCELED,
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.READ,
    }
)


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


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """A status change a carrier will report, `delay_ms` after the one before it."""

    status: MessageStatus
    error_code: int | None = None
    delay_ms: int = 0


@dataclass(frozen=True, slots=True)
class Submission:
    """What a carrier answered to a submit: the changes it will report, in order.

    `manual`: each change waits for a step command (the simulator's manual mode) instead of
    its delay. No events: the carrier keeps the message where it is (Twilio's magic sender).
    """

    events: tuple[PlannedEvent, ...]
    manual: bool = False
    price: str | None = None
    """Twilio's `price` (negative, five decimals), filled in when the message is sent."""
    price_unit: str | None = None


class IllegalTransition(Exception):
    """The message is no longer in a status from which this change may happen."""


def advance(
    message: Message,
    status: MessageStatus,
    *,
    at: datetime,
    error_code: int | None = None,
    price: str | None = None,
    price_unit: str | None = None,
) -> Message:
    """The message after a status change at `at` (date_sent when it leaves, price and its
    unit when sent)."""
    if not can_transition(message.status, status):
        raise IllegalTransition(f"{message.sid}: {message.status} -> {status}")
    changes: dict[str, object] = {"status": status, "date_updated": at}
    if status is MessageStatus.SENT:
        changes["date_sent"] = at
    if price is not None:
        changes["price"] = price
        if price_unit:
            changes["price_unit"] = price_unit
    if error_code is not None:
        changes["error_code"] = error_code
        changes["error_message"] = DELIVERY_ERRORS.get(error_code, "Unknown error")
    return replace(message, **changes)  # type: ignore[arg-type]


def path_to(current: MessageStatus, outcome: MessageStatus) -> tuple[MessageStatus, ...]:
    """The statuses a message passes through from `current` to reach `outcome`.

    `queued` → `delivered` passes `sending` and `sent`; `failed` needs no `sent` first.
    Empty when `outcome` cannot be reached.
    """
    route: list[MessageStatus] = []
    status = current
    for _ in range(4):
        if status is outcome:
            return tuple(route)
        if can_transition(status, outcome):
            route.append(outcome)
            return tuple(route)
        following = _NEXT.get(status)
        if following is None:
            return ()
        route.append(following)
        status = following
    return ()


_NEXT = {
    MessageStatus.SCHEDULED: MessageStatus.QUEUED,
    MessageStatus.ACCEPTED: MessageStatus.QUEUED,
    MessageStatus.QUEUED: MessageStatus.SENDING,
    MessageStatus.SENDING: MessageStatus.SENT,
    MessageStatus.SENT: MessageStatus.DELIVERED,
}


def segment_price(per_segment: str, segments: int) -> str:
    """Twilio's `price` for a message: negative for a charge, five decimals (§10)."""
    units = round(float(per_segment) * 100_000) * max(segments, 1)
    return f"-{units // 100_000}.{units % 100_000:05d}"


def raw_dlr_done_date(at: datetime) -> str:
    """`RawDlrDoneDate`: the carrier's delivery-report time as YYMMDDhhmm (§4.3)."""
    return at.strftime("%y%m%d%H%M")
