"""Messaging Services, their sender pools and short codes, and how a service picks a sender.

Facts: shared/twilio/messaging-and-webhooks.md §1 (the resource), §1.5-1.6 (pools and their
errors), §2 (sending through a service and sender selection); api-core.md §2.7 (short codes).
docs/messaging-services.md states the selection rules textrelay guarantees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from textrelay.domain.addresses import Channel

USECASES = frozenset(
    {"notifications", "marketing", "verification", "discussion", "poll", "undeclared"}
)
SCAN_MESSAGE_CONTENT = frozenset({"inherit", "enable", "disable"})
WEBHOOK_METHODS = frozenset({"GET", "POST"})
MAX_FRIENDLY_NAME = 64
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9 +\-_&]{1,11}$")
NANP_REGIONS = frozenset({"US", "CA"})


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Every setting of a Messaging Service but its name (§1.2). Defaults where Twilio is
    silent follow its spec examples, except sticky sender and geomatch (UNCONFIRMED there;
    see docs/messaging-services.md)."""

    inbound_request_url: str | None = None
    inbound_method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    sticky_sender: bool = True
    mms_converter: bool = True
    smart_encoding: bool = False
    scan_message_content: str = "inherit"
    fallback_to_long_code: bool = True
    area_code_geomatch: bool = True
    validity_period: int = 36000
    synchronous_validation: bool = True
    usecase: str = "undeclared"
    use_inbound_webhook_on_number: bool = False


@dataclass(frozen=True, slots=True)
class MessagingServiceResource:
    sid: str
    account_sid: str
    friendly_name: str
    settings: ServiceSettings
    date_created: datetime
    date_updated: datetime


class SenderKind(StrEnum):
    PHONE_NUMBER = "phone_number"
    SHORT_CODE = "short_code"
    ALPHA_SENDER = "alpha_sender"


@dataclass(frozen=True, slots=True)
class PoolSender:
    """One sender in a service's pool."""

    sid: str
    service_sid: str
    account_sid: str
    kind: SenderKind
    address: str
    """E.164 number, short code digits, or the alphanumeric sender ID."""
    country_code: str | None
    capabilities: tuple[str, ...]
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True, slots=True)
class ShortCode:
    sid: str
    account_sid: str
    short_code: str
    friendly_name: str
    country_code: str
    date_created: datetime
    date_updated: datetime
    api_version: str = "2010-04-01"
    sms_url: str | None = None
    sms_method: str = "POST"
    sms_fallback_url: str | None = None
    sms_fallback_method: str = "POST"
    capabilities: tuple[str, ...] = field(default=("SMS", "MMS"))


def is_alpha_sender(text: str) -> bool:
    """≤ 11 of A-Z a-z 0-9 space - + _ &, not all digits (§1.5)."""
    return bool(_ALPHA_SENDER.match(text)) and not text.replace(" ", "").isdigit()


# --- sender selection (§2) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    """E.164 (or a channel address)."""
    region: str | None
    """ISO country of the number, when known."""
    channel: str = Channel.SMS
    """The recipient's channel (addresses.channel_of)."""


def choose_sender(
    pool: Sequence[PoolSender],
    recipient: Recipient,
    *,
    area_code_geomatch: bool,
    sticky: str | None,
    draw: Callable[[int], int],
) -> PoolSender | None:
    """The sender a service uses for `recipient`, or None when none can reach it (21703).

    1. The sticky sender, if the recipient has one and it is still in the pool.
    2. A short code of the recipient's country.
    3. An alphanumeric sender ID, except to the US and Canada (carriers there refuse them).
    4. A long code or toll-free number of the recipient's country; within US/CA numbers, one
       with the recipient's area code first when area-code geomatch is on.
    5. Otherwise a US number, then any number.
    Among equals, `draw(n)` picks one (spread evenly; seeded runs repeat the choice).
    """
    if recipient.channel != Channel.SMS:
        return None  # WhatsApp and Messenger senders arrive with channel senders (issue 5)
    if sticky is not None:
        for sender in pool:
            if sender.address == sticky:
                return sender
    region = recipient.region
    short_codes = [s for s in pool if s.kind is SenderKind.SHORT_CODE and s.country_code == region]
    if short_codes:
        return _pick(short_codes, draw)
    if region not in NANP_REGIONS:
        alphas = [s for s in pool if s.kind is SenderKind.ALPHA_SENDER]
        if alphas:
            return _pick(alphas, draw)
    numbers = [s for s in pool if s.kind is SenderKind.PHONE_NUMBER]
    same_country = [s for s in numbers if s.country_code == region]
    if same_country:
        if area_code_geomatch and region in NANP_REGIONS:
            area = _area_code(recipient.address)
            local = [s for s in same_country if _area_code(s.address) == area]
            if local:
                return _pick(local, draw)
        return _pick(same_country, draw)
    if area_code_geomatch and region in NANP_REGIONS:
        nanp = [s for s in numbers if s.country_code in NANP_REGIONS]
        if nanp:
            return _pick(nanp, draw)
    us = [s for s in numbers if s.country_code == "US"]
    if us:
        return _pick(us, draw)
    return _pick(numbers, draw) if numbers else None


def _pick(candidates: Sequence[PoolSender], draw: Callable[[int], int]) -> PoolSender:
    return candidates[draw(len(candidates)) % len(candidates)]


def _area_code(e164: str) -> str | None:
    return e164[2:5] if e164.startswith("+1") and len(e164) == 12 else None
