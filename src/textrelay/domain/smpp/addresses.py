"""SMPP addresses: a textrelay address as (TON, NPI, digits) on the way out, and the address a
carrier gives back as textrelay's wire form on the way in.

Facts: shared/carriers/smpp-facts.md "Addresses". Outbound, the kinds are those of
domain/addresses.py (`parse_sender`), so SMPP and the API agree on what a short code or a sender
ID is:

| address | TON | NPI | digits |
| --- | --- | --- | --- |
| E.164 `+14155550100` | 1 international | 1 ISDN | `14155550100` |
| short code `12345` (3-8 digits) | 3 network specific (a parameter: vendors differ) | 0 | `12345` |
| sender ID `MyBrand` (≤ 11 characters) | 5 alphanumeric | 0 | `MyBrand` |
| `whatsapp:…`, `messenger:…` | — NotAnSmsAddress | | |
"""

from __future__ import annotations

from dataclasses import dataclass

from textrelay.domain.addresses import AddressError, AddressKind, parse_sender

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_NETWORK_SPECIFIC = 3
TON_ALPHANUMERIC = 5
TON_ABBREVIATED = 6
NPI_UNKNOWN = 0
NPI_ISDN = 1

SHORT_CODE_TON = TON_NETWORK_SPECIFIC
"""The default TON of a short code. Carriers want 3 or 0 (smpp-facts.md): a carrier's setting
passes the one it wants."""

# An international number sent with TON 0 is still recognisable by its length: national
# numbers without their trunk prefix are as long, but short codes and service numbers are not.
# 8 digits is the shortest E.164 number in use (country code + subscriber number).
_MIN_INTERNATIONAL_DIGITS = 8


class NotAnSmsAddress(AddressError):
    """SMPP cannot carry the address: it belongs to another channel (`whatsapp:…`), cannot be
    that end of an SMS (a sender ID as a destination) or is no address at all."""


@dataclass(frozen=True, slots=True)
class SmppAddress:
    ton: int
    npi: int
    digits: str
    """The address as it goes in `source_addr` / `destination_addr` (no `+`)."""


def outbound_source(sender: str, *, short_code_ton: int = SHORT_CODE_TON) -> SmppAddress:
    """The `source_addr` of a message sent from `sender` (a textrelay `From`).

    NotAnSmsAddress for a channel address, and for text that is no sender at all.
    """
    try:
        address = parse_sender(sender)
    except AddressError as exc:
        raise NotAnSmsAddress(sender) from exc
    match address.kind:
        case AddressKind.PHONE_NUMBER:
            assert address.number is not None  # parse_sender sets it for every phone number
            return SmppAddress(TON_INTERNATIONAL, NPI_ISDN, address.number.removeprefix("+"))
        case AddressKind.SHORT_CODE:
            return SmppAddress(short_code_ton, NPI_UNKNOWN, address.value)
        case AddressKind.ALPHANUMERIC:
            return SmppAddress(TON_ALPHANUMERIC, NPI_UNKNOWN, address.value)
        case AddressKind.WHATSAPP | AddressKind.MESSENGER:
            raise NotAnSmsAddress(sender)


def outbound_destination(to: str, *, short_code_ton: int = SHORT_CODE_TON) -> SmppAddress:
    """The `destination_addr` of a message sent to `to` (a textrelay `To`): a phone number or
    a short code. NotAnSmsAddress for a channel address or a sender ID."""
    source = outbound_source(to, short_code_ton=short_code_ton)
    if source.ton == TON_ALPHANUMERIC:
        raise NotAnSmsAddress(to)
    return source


def inbound_address(digits: str, ton: int, npi: int) -> str:
    """The textrelay address of a carrier's `source_addr`/`destination_addr`.

    TON 1 is international: `+digits`. TON 0 with NPI 1 and at least 8 digits is read as
    international too: many SMSCs send every number with TON 0, and a message's `From` is far
    more useful as E.164 (it is what the API, opt-outs and replies match on); a national number
    without its trunk prefix would be misread, which is the SMSC's TON to correct. Anything
    else (short codes, sender IDs, national numbers) is kept as the carrier gave it.
    """
    cleaned = digits.strip()
    bare = cleaned.removeprefix("+")
    if not bare.isdecimal() or not bare.isascii():
        return cleaned
    if ton == TON_INTERNATIONAL:
        return f"+{bare}"
    if ton == TON_UNKNOWN and npi == NPI_ISDN and len(bare) >= _MIN_INTERNATIONAL_DIGITS:
        return f"+{bare}"
    return cleaned
