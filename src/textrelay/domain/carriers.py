"""What carriers and textrelay say to each other: a submit's answer, a delivery receipt, a
handset's message, and the record of the protocol units exchanged for a message.

The vocabulary is protocol-neutral: the SMPP adapter and the upstream (Twilio-compatible)
adapter both speak it, and the simulator answers with the same `Accepted`, carrying the reports
it plans (they ride the job queue, so they survive restarts and can be stepped by hand).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from textrelay.domain.lifecycle import Submission
from textrelay.domain.statuses import MessageStatus

SIMULATOR = "simulator"
"""The name of the built-in carrier; the only one when no carriers file is given."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The carrier took the message. `references` are its own ids, one per part it was sent
    in (a long message over SMPP is several `submit_sm`); its receipts name them."""

    references: tuple[str, ...]
    plan: Submission | None = None
    """The simulator's planned reports; None for a live carrier, which reports by receipt."""
    exchanged: tuple[ExchangedPdu, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """The carrier refused the message (or could not be reached).

    `retry`: a temporary refusal (throttled, queue full, system error, not bound): submit again
    after `retry_after_s`. Otherwise the message fails with `error_code`, unless a fallback
    carrier takes it.
    """

    error_code: int
    reason: str
    retry: bool = False
    retry_after_s: float = 0.0
    unreachable: bool = False
    """The carrier had no live connection: a fallback carrier is tried first."""
    slow_down: bool = False
    """The carrier is busy (throttled, queue full): try again later without counting it as a
    failed attempt."""
    exchanged: tuple[ExchangedPdu, ...] = ()


SubmitAnswer = Accepted | Rejected


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery report for one of a carrier's references."""

    reference: str
    status: MessageStatus
    """delivered, undelivered or failed (final), or sent (an intermediate report)."""
    error_code: int | None = None
    detail: str = ""
    """What the carrier said, for the console (e.g. `stat:UNDELIV err:001`)."""
    exchanged: tuple[ExchangedPdu, ...] = ()
    handset: str | None = None
    """The receipt's source address (the message's To), when the carrier gives it."""
    sender: str | None = None
    """The receipt's destination address (the message's From), when the carrier gives it."""


@dataclass(frozen=True, slots=True)
class Concatenation:
    """Where one part of a long handset message belongs."""

    reference: int
    total: int
    sequence: int


class NotSignedByCarrier(ValueError):
    """A request to a carrier's callback URL (an upstream's status callback or handset's
    message) whose signature is missing, or not made with the carrier's credentials over the
    URL textrelay gave the carrier for it."""


@dataclass(frozen=True, slots=True)
class MobileOriginated:
    """A handset's message as a carrier delivered it (one part, if it came in several)."""

    from_: str
    """E.164 (`+…`), or the carrier's address as given when it is not a number."""
    to: str
    body: str
    part: Concatenation | None = None
    exchanged: tuple[ExchangedPdu, ...] = ()
    media: tuple[tuple[str, bytes], ...] = ()
    """(content type, bytes) of each attachment the carrier fetched (an upstream's MMS)."""
    reference: str | None = None
    """The carrier's own id of the message, when it gives one (an upstream's MessageSid): a
    second delivery under the same id is a repeat, and is not stored again."""
    media_base_url: str = ""
    """Where the app's webhook says the attachments are: this textrelay, as the carrier
    reaches it."""


class Direction(StrEnum):
    SENT = "sent"
    RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class ExchangedPdu:
    """One protocol unit exchanged with a carrier, as the console shows it."""

    direction: Direction
    command: str
    """`submit_sm`, `submit_sm_resp`, `deliver_sm`, `POST Messages.json`, …"""
    fields: Mapping[str, str] = field(default_factory=dict)
    status: int | None = None
    """command_status (SMPP) or HTTP status of an answer."""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BindState:
    """One connection of a carrier, as `textrelay carriers` and the console show it."""

    name: str
    bound: bool
    in_flight: int = 0
    submitted: int = 0
    receipts: int = 0
    received: int = 0
    throughput_per_s: float = 0.0
    last_error: str | None = None
    process: int | None = None
    """The serving process of `serve --processes` that holds it; None when one serves."""


@dataclass(frozen=True, slots=True)
class CarrierState:
    name: str
    kind: str
    binds: tuple[BindState, ...] = ()
    counters: Mapping[str, int] = field(default_factory=dict)
    """Totals for the metrics endpoint: submitted, rejected, receipts, unmatched, received."""

    @property
    def up(self) -> bool:
        return not self.binds or any(bind.bound for bind in self.binds)


def whole_server(parts: Sequence[Sequence[CarrierState]]) -> list[CarrierState]:
    """The carriers of several serving processes as one server's: each carrier (in the first
    part's order) with every process's binds and its counters summed."""
    merged: dict[str, CarrierState] = {}
    for states in parts:
        for state in states:
            known = merged.get(state.name)
            if known is None:
                merged[state.name] = state
                continue
            counters = Counter(known.counters)
            counters.update(state.counters)
            merged[state.name] = CarrierState(
                state.name, known.kind, known.binds + state.binds, dict(counters)
            )
    return list(merged.values())


@dataclass(frozen=True, slots=True)
class PartReport:
    """One part of a message as a carrier took it, and the receipt that came for it, if any."""

    carrier: str
    reference: str
    part: int
    parts: int
    submitted_at: datetime | None
    receipt_status: MessageStatus | None
    receipt_error: int | None
    receipt_detail: str | None
    receipt_at: datetime | None


FINAL_RECEIPT_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED}
)


def combined_outcome(
    receipts: Sequence[tuple[MessageStatus | None, int | None]], parts: int
) -> tuple[MessageStatus, int | None] | None:
    """A message's outcome from the receipts of the parts it was sent in: failed or
    undelivered as soon as one part is (failed first), delivered when every part is; None
    while that cannot be told yet."""
    for worst in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        for status, error_code in receipts:
            if status is worst:
                return worst, error_code
    delivered = sum(1 for status, _ in receipts if status is MessageStatus.DELIVERED)
    if delivered >= max(parts, 1):
        return MessageStatus.DELIVERED, None
    return None


class CarrierSink(Protocol):
    """Where a carrier hands what arrives on its connections: receipts and handsets' messages.
    Each call returns once what it was given is committed (or refused), so an adapter that can
    acknowledge late (SMPP's deliver_sm_resp) acknowledges only what is stored."""

    async def receipts(self, carrier: str, receipts: Sequence[Receipt]) -> None:
        """Receipts that arrived together, in order: they share transactions (an SMSC sends
        them in bursts, and one transaction each would cap a bind at a few hundred a
        second)."""
        ...

    async def mobile_originated(self, carrier: str, message: MobileOriginated) -> None: ...
