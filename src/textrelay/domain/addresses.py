"""Message addresses: E.164 numbers, short codes, alphanumeric sender IDs and channel addresses.

Facts: shared/twilio/api-core.md §2.2 (To/From), messaging-and-webhooks.md §9 (channels).
Numbers are parsed with `phonenumbers`. Validity is "possible number" (right length for the
country), not "assigned number": Twilio accepts a well-formed number it cannot reach and fails
it later, at delivery, which is the carrier's business, not the API's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "US"

_DIALLABLE = re.compile(r"^\+?[0-9 ()\-.]{3,32}$")
_NANP_E164 = re.compile(r"^\+1[2-9][0-9]{9}$")
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 +\-_&]{1,11}$")


class AddressKind(StrEnum):
    PHONE_NUMBER = "phone_number"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"


CHANNEL_KINDS = frozenset({AddressKind.WHATSAPP, AddressKind.MESSENGER})


@dataclass(frozen=True, slots=True)
class Address:
    kind: AddressKind
    value: str
    """The address as it appears on the wire, e.g. `+14155550100` or `whatsapp:+1415…`."""
    number: str | None = None
    """The E.164 number inside a phone or WhatsApp address."""

    @property
    def is_channel(self) -> bool:
        return self.kind in CHANNEL_KINDS

    @property
    def channel_prefix(self) -> str | None:
        return self.kind.value if self.is_channel else None


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
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    # "ZZ" is unknown, "001" a non-geographic number (+800, +882…): neither is a country.
    return region if region and region not in ("ZZ", "001") else None


def _channel(text: str, default_region: str) -> Address | None:
    prefix, sep, rest = text.partition(":")
    if not sep:
        return None
    match prefix.lower():
        case "whatsapp":
            number = parse_e164(rest, default_region)
            return Address(AddressKind.WHATSAPP, f"whatsapp:{number}", number)
        case "messenger":
            if not rest.strip() or any(c.isspace() for c in rest):
                raise AddressError(text)
            return Address(AddressKind.MESSENGER, f"messenger:{rest}")
        case _:
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
