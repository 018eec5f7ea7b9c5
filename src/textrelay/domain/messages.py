"""The Message resource as textrelay holds it (shared/twilio/api-core.md §2.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from textrelay.domain.statuses import Direction, MessageStatus

API_VERSION = "2010-04-01"
DEFAULT_VALIDITY_PERIOD_S = 36000


@dataclass(frozen=True, slots=True)
class SendOptions:
    """Create parameters that shape delivery but are not fields of the Message resource."""

    status_callback: str | None = None
    application_sid: str | None = None
    validity_period_s: int | None = None
    """None: the default of DEFAULT_VALIDITY_PERIOD_S (Twilio's 36000 seconds)."""
    provide_feedback: bool = False
    smart_encoded: bool = False
    content_sid: str | None = None
    content_variables: str | None = None
    schedule_type: str | None = None
    send_at: datetime | None = None
    send_as_mms: bool = False
    shorten_urls: bool = False
    force_delivery: bool = False
    content_retention: str | None = None
    address_retention: str | None = None
    persistent_action: tuple[str, ...] = ()
    traffic_type: str | None = None
    risk_check: str | None = None
    attempt: int | None = None
    max_price: str | None = None
    fallback_from: str | None = None
    media_urls: tuple[str, ...] = ()
    pinned_from: str | None = None
    """A scheduled message's From, given at create: it is sent from it instead of a sender
    the service chooses (the resource shows `from` null until then, as Twilio's does)."""
    queue_overflow: bool = False
    """Created while its account's queue was full (services/queue_limit.py): it fails with
    30001 at its dispatch instead of being sent."""


@dataclass(frozen=True, slots=True)
class Message:
    sid: str
    account_sid: str
    direction: Direction
    status: MessageStatus
    from_: str | None
    to: str
    body: str
    num_segments: int
    num_media: int
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None
    messaging_service_sid: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    price: str | None = None
    price_unit: str | None = "USD"
    tags: dict[str, str] = field(default_factory=dict)
    options: SendOptions = field(default_factory=SendOptions)

    @property
    def valid_until(self) -> datetime:
        """When the message's validity period ends: ValidityPeriod (Twilio's 36000 s by
        default) counted from SendAt for a scheduled message, else from its creation."""
        period = self.options.validity_period_s or DEFAULT_VALIDITY_PERIOD_S
        start = self.options.send_at or self.date_created
        return start + timedelta(seconds=period)


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One entry of a message's status history."""

    status: MessageStatus
    error_code: int | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """The Messages list's filters (To, From, DateSent with its `<` and `>` forms)."""

    to: str | None = None
    from_: str | None = None
    date_sent_from: datetime | None = None
    """Inclusive lower bound on date_sent."""
    date_sent_until: datetime | None = None
    """Exclusive upper bound on date_sent."""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The console log's filters: wider than the API's, over one account's messages."""

    direction: str | None = None
    """`inbound`, or `outbound` for every outbound direction."""
    status: str | None = None
    to: str | None = None
    from_: str | None = None
    service_sid: str | None = None
    error_code: int | None = None
    text: str | None = None
    """Found anywhere in the body (case-insensitive on ASCII)."""
    created_from: datetime | None = None
    created_until: datetime | None = None
