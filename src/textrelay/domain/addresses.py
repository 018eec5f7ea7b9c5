"""Message addresses: E.164 numbers, short codes, alphanumeric sender IDs and channel addresses,
and the channel rule: which channels exist, the channel of an address, which channels hold a
24-hour session window, how many segments a message counts on each.

Facts: shared/twilio/api-core.md §2.2 (To/From), messaging-and-webhooks.md §9 (channels).
Numbers are parsed with `phonenumbers`. Validity is "possible number" (right length for the
country), not "assigned number": Twilio accepts a well-formed number it cannot reach and fails
it later, at delivery, which is the carrier's business, not the API's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import phonenumbers

from textrelay.domain.segments import count_segments

DEFAULT_REGION = "US"

_DIALLABLE = re.compile(r"^\+?[0-9 ()\-.]{3,32}$")
_NANP_E164 = re.compile(r"^\+1[2-9][0-9]{9}$")
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 +\-_&]{1,11}$")


class Channel(StrEnum):
    """What a message travels on. SMS (and MMS) addresses are bare: numbers, short codes,
    sender IDs. Every other channel's address is the channel's name, a colon and an address
    of that channel: `whatsapp:+14155550100`, `messenger:104794531907950`."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"

    @property
    def is_prefixed(self) -> bool:
        """Addresses on this channel carry its name as a prefix (all but SMS)."""
        return self is not Channel.SMS

    @property
    def carries_phone_numbers(self) -> bool:
        """Its addresses are (or may be) E.164 numbers: SMS and WhatsApp, not Messenger's
        page-scoped IDs."""
        return self is not Channel.MESSENGER

    @property
    def has_session_window(self) -> bool:
        """A free-form message on this channel needs the recipient to have written in the
        last SESSION_WINDOW; a template does not (messaging-and-webhooks.md §9: 63016)."""
        return self in _SESSION_WINDOW_CHANNELS


_SESSION_WINDOW_CHANNELS = frozenset({Channel.WHATSAPP, Channel.MESSENGER})
SESSION_WINDOW = timedelta(hours=24)
_PREFIXED = {channel.value: channel for channel in Channel if channel.is_prefixed}


def split_channel(address: str) -> tuple[Channel, str]:
    """The channel of a wire address and the address within it: `whatsapp:+1415…` is
    (WHATSAPP, `+1415…`). An address without a channel's prefix is SMS's, whole (`+1415…`,
    `12345`, `MyBrand`, and `sms:…`, which names no channel). The prefix is read in any case."""
    prefix, sep, rest = address.partition(":")
    channel = _PREFIXED.get(prefix.lower()) if sep else None
    return (channel, rest) if channel is not None else (Channel.SMS, address)


def channel_of(address: str) -> Channel:
    """The channel of a wire address (split_channel)."""
    return split_channel(address)[0]


def segments_on(channel: Channel, body: str) -> int:
    """The segments a message of `body` counts: one on a prefixed channel, which carries a
    long message whole; on SMS, as the GSM-7/UCS-2 encoding splits it (segments.py)."""
    return 1 if channel.is_prefixed else count_segments(body).segments


def session_open(last_inbound_at: datetime | None, *, at: datetime) -> bool:
    """Whether a session window is open `at` a time, the recipient having last written at
    `last_inbound_at` (None: never)."""
    return last_inbound_at is not None and at - last_inbound_at <= SESSION_WINDOW


class AddressKind(StrEnum):
    PHONE_NUMBER = "phone_number"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"


_CHANNEL_OF_KIND = {
    AddressKind.WHATSAPP: Channel.WHATSAPP,
    AddressKind.MESSENGER: Channel.MESSENGER,
}


@dataclass(frozen=True, slots=True)
class Address:
    kind: AddressKind
    value: str
    """The address as it appears on the wire, e.g. `+14155550100` or `whatsapp:+1415…`."""
    number: str | None = None
    """The E.164 number inside a phone or WhatsApp address."""

    @property
    def channel(self) -> Channel:
        return _CHANNEL_OF_KIND.get(self.kind, Channel.SMS)

    @property
    def is_channel(self) -> bool:
        """On a channel other than SMS (its address has the channel's prefix)."""
        return self.channel.is_prefixed

    @property
    def channel_prefix(self) -> str | None:
        return self.channel.value if self.is_channel else None


class AddressError(ValueError):
    """The text is not an address of the kinds allowed where it was given."""


def parse_e164(text: str, default_region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a dialable number, or AddressError.

    A number without a leading `+` is read in `default_region` (Twilio assumes the sender's
    country for such numbers).
    """
    e164 = _cached_e164(text.strip(), default_region)
    if e164 is None:
        raise AddressError(text)
    return e164


# libphonenumber's parse is the costliest step of a message create; the same senders and
# recipients recur, and the function is pure, so its answers are kept.
@lru_cache(maxsize=8192)
def _cached_e164(cleaned: str, default_region: str) -> str | None:
    try:
        return _parse_e164(cleaned, default_region)
    except AddressError:
        return None


def _canonical_e164(cleaned: str) -> str | None:
    """`cleaned` itself when it is a North American number already in E.164, checked without
    libphonenumber's full parse (7x faster; recipients rarely repeat, so the cache above does
    not help them). Only +1: elsewhere libphonenumber may rewrite national prefixes, and
    only its full parse knows how. None means "not sure": the full parse decides."""
    # +1 and ten digits, the first 2-9, is exactly what libphonenumber calls a possible NANP
    # number (its only possible length there is 10); the unit tests hold the two together.
    return cleaned if _NANP_E164.match(cleaned) else None


def _parse_e164(cleaned: str, default_region: str) -> str:
    canonical = _canonical_e164(cleaned)
    if canonical is not None:
        return canonical
    if not _DIALLABLE.match(cleaned):
        raise AddressError(cleaned)
    try:
        parsed = phonenumbers.parse(cleaned, None if cleaned.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError(cleaned) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise AddressError(cleaned)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)
def region_of(e164: str) -> str | None:
    """ISO 3166 alpha-2 country of an E.164 number, when libphonenumber knows it."""
    try:
        return region_in(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def region_in(number: phonenumbers.PhoneNumber) -> str | None:
    """ISO 3166 alpha-2 country of a parsed number, when libphonenumber knows it."""
    region = phonenumbers.region_code_for_number(number)
    # "ZZ" is unknown, "001" a non-geographic number (+800, +882…): neither is a country.
    return region if region and region not in ("ZZ", "001") else None


def _channel(text: str, default_region: str) -> Address | None:
    """A channel address; None when `text` has no colon; AddressError when its prefix names
    no channel (`sms:…`, `rcs:…`) or what follows is not an address of the channel."""
    if ":" not in text:
        return None
    channel, rest = split_channel(text)
    match channel:
        case Channel.WHATSAPP:
            number = parse_e164(rest, default_region)
            return Address(AddressKind.WHATSAPP, f"{Channel.WHATSAPP}:{number}", number)
        case Channel.MESSENGER:
            if not rest.strip() or any(c.isspace() for c in rest):
                raise AddressError(text)
            return Address(AddressKind.MESSENGER, f"{Channel.MESSENGER}:{rest}")
        case Channel.SMS:
            raise AddressError(text)


def parse_recipient(text: str, default_region: str = DEFAULT_REGION) -> Address:
    """A `To` address: a phone number or a channel address."""
    channel = _channel(text.strip(), default_region)
    if channel is not None:
        return channel
    number = parse_e164(text, default_region)
    return Address(AddressKind.PHONE_NUMBER, number, number)


def parse_sender(text: str) -> Address:
    """A `From` address: phone number, short code, alphanumeric sender ID or channel address."""
    cleaned = text.strip()
    channel = _channel(cleaned, DEFAULT_REGION)
    if channel is not None:
        return channel
    if _SHORT_CODE.match(cleaned):
        return Address(AddressKind.SHORT_CODE, cleaned)
    if cleaned.startswith("+") or (_DIALLABLE.match(cleaned) and not _has_letter(cleaned)):
        number = parse_e164(cleaned)
        return Address(AddressKind.PHONE_NUMBER, number, number)
    if _ALPHANUMERIC.match(cleaned) and _has_letter(cleaned):
        return Address(AddressKind.ALPHANUMERIC, cleaned)
    raise AddressError(text)


def _has_letter(text: str) -> bool:
    return any(c.isalpha() for c in text)


def friendly_name_for(e164: str) -> str:
    """Twilio's default friendly name for a number: `(808) 925-5327` in the US, else national."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
