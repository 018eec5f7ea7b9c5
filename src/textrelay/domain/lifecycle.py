"""The outbound lifecycle: what a carrier plans for a message and how a status change applies.

Facts: shared/twilio/messaging-and-webhooks.md §3 (statuses), §10 (price), §11 (error codes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from textrelay.domain import codes
from textrelay.domain.messages import Message
from textrelay.domain.statuses import MessageStatus, can_transition

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
        # Only the delivery family's titles are shown; any other code that fails a message
        # (21610, 21703, 63016, a media fetch's 11200/11751/12300) reads "Unknown error".
        entry = codes.DELIVERY_ERRORS.get(error_code, codes.UNKNOWN_ERROR)
        changes["error_message"] = entry.message
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
    # strftime's cost, on every delivered callback, for five two-digit numbers.
    return f"{at.year % 100:02d}{at.month:02d}{at.day:02d}{at.hour:02d}{at.minute:02d}"
