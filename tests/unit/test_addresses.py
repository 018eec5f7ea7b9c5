"""Addresses: numbers, short codes, alphanumeric IDs, channels (api-core.md §2.2, §5;
messaging-and-webhooks.md §9)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest

from textrelay.domain.addresses import (
    DEFAULT_REGION,
    SESSION_WINDOW,
    Address,
    AddressError,
    AddressKind,
    Channel,
    _canonical_e164,
    channel_of,
    friendly_name_for,
    parse_e164,
    parse_recipient,
    parse_sender,
    region_of,
    segments_on,
    session_open,
    split_channel,
)
from textrelay.domain.segments import count_segments


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+14155550100", "+14155550100"),
        ("14155550100", "+14155550100"),
        ("4155550100", "+14155550100"),  # no '+': read as a US number
        ("(415) 555-0100", "+14155550100"),
        ("415-555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("1-415-555-0100", "+14155550100"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+1 415 555 0100", "+14155550100"),
        ("  +14155550100\n", "+14155550100"),
        ("+442079460018", "+442079460018"),
        ("+44 20 7946 0018", "+442079460018"),
        ("+390612345678", "+390612345678"),  # Italy keeps its leading zero
        ("+15005550006", "+15005550006"),  # the magic numbers are possible numbers
    ],
)
def test_parse_e164(text: str, e164: str) -> None:
    assert DEFAULT_REGION == "US"
    assert parse_e164(text) == e164


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("020 7946 0018", "GB", "+442079460018"),
        ("06 1234 5678", "IT", "+390612345678"),
        ("+14155550100", "GB", "+14155550100"),  # a '+' number ignores the region
    ],
)
def test_parse_e164_in_a_region(text: str, region: str, e164: str) -> None:
    assert parse_e164(text, region) == e164


@pytest.mark.parametrize(
    "text",
    [
        "+1asd",
        "1-800-FLOWERS",
        "hello",
        "",
        "   ",
        "12",
        "+1415",
        "+1415555010",  # one digit short
        "+141555501000",  # one digit long
        "+" + "1" * 20,
        "++14155550100",
        "+1 415 555 0100 ext 7",
        "+1_415_555_0100",
    ],
)
def test_parse_e164_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_e164(text)


def test_address_error_is_a_value_error() -> None:
    assert issubclass(AddressError, ValueError)


def test_fast_path_agrees_with_libphonenumber() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        text = "+1" + "".join(str(rng.randint(0, 9)) for _ in range(rng.choice([9, 10, 11])))
        fast = _canonical_e164(text)
        if fast is None:
            continue
        parsed = phonenumbers.parse(text, None)
        assert phonenumbers.is_possible_number(parsed)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == fast


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "+14155550100",
            Address(AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ),
        (
            "(415) 555-0100",
            Address(AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ),
        (
            "whatsapp:+14155550100",
            Address(AddressKind.WHATSAPP, "whatsapp:+14155550100", "+14155550100"),
        ),
        (
            "whatsapp:+1 (415) 555-0100",
            Address(AddressKind.WHATSAPP, "whatsapp:+14155550100", "+14155550100"),
        ),
        (
            "WhatsApp:+14155550100",
            Address(AddressKind.WHATSAPP, "whatsapp:+14155550100", "+14155550100"),
        ),
        (
            "messenger:104794531907950",
            Address(AddressKind.MESSENGER, "messenger:104794531907950", None),
        ),
    ],
)
def test_parse_recipient(text: str, expected: Address) -> None:
    assert parse_recipient(text) == expected


def test_recipient_in_a_region() -> None:
    assert parse_recipient("020 7946 0018", "GB").number == "+442079460018"
    assert parse_recipient("whatsapp:020 7946 0018", "GB").number == "+442079460018"


@pytest.mark.parametrize(
    "text",
    [
        "sms:+14155550100",
        "rcs:agent",
        "whatsapp:",
        "whatsapp:+1asd",
        "messenger:",
        "messenger:   ",
        "messenger:12 34",
        "+1asd",
        "12345",  # a short code is a sender, not a recipient
        "MyBrand",
    ],
)
def test_parse_recipient_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_recipient(text)


def test_channel_properties() -> None:
    whatsapp = parse_recipient("whatsapp:+14155550100")
    messenger = parse_recipient("messenger:104794531907950")
    phone = parse_recipient("+14155550100")

    assert (whatsapp.is_channel, whatsapp.channel_prefix) == (True, "whatsapp")
    assert (messenger.is_channel, messenger.channel_prefix) == (True, "messenger")
    assert (phone.is_channel, phone.channel_prefix) == (False, None)


@pytest.mark.parametrize(
    ("text", "kind", "value", "number"),
    [
        ("+14155550100", AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ("+1 (415) 555-0100", AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        # All-digit strings too long for a short code are phone numbers.
        ("4155550100", AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ("14155550100", AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ("415-555-0100", AddressKind.PHONE_NUMBER, "+14155550100", "+14155550100"),
        ("12345", AddressKind.SHORT_CODE, "12345", None),
        (" 894546 ", AddressKind.SHORT_CODE, "894546", None),
        ("MyBrand", AddressKind.ALPHANUMERIC, "MyBrand", None),
        ("My Brand", AddressKind.ALPHANUMERIC, "My Brand", None),
        ("Shop&Go", AddressKind.ALPHANUMERIC, "Shop&Go", None),
        ("A1-B2_C3+D", AddressKind.ALPHANUMERIC, "A1-B2_C3+D", None),
        ("ElevenChars", AddressKind.ALPHANUMERIC, "ElevenChars", None),
        ("12345678A", AddressKind.ALPHANUMERIC, "12345678A", None),
        ("whatsapp:+14155550100", AddressKind.WHATSAPP, "whatsapp:+14155550100", "+14155550100"),
        ("messenger:1234567890", AddressKind.MESSENGER, "messenger:1234567890", None),
    ],
)
def test_parse_sender(text: str, kind: AddressKind, value: str, number: str | None) -> None:
    sender = parse_sender(text)

    assert (sender.kind, sender.value, sender.number) == (kind, value, number)


@pytest.mark.parametrize(
    "text",
    [
        "TwelveChars1",  # alphanumeric sender IDs are at most 11 characters
        "My Brand Co.",
        "Café",
        "!!!",
        "+1asd",
        "+MyBrand",
        "1234567890123456789",  # all digits: read as a number, and not a possible one
        "123456789",
        "",
        "sms:+14155550100",
    ],
)
def test_parse_sender_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_sender(text)


@pytest.mark.parametrize(
    ("e164", "region"),
    [
        ("+14155550100", "US"),
        ("+16135550123", "CA"),
        ("+442079460018", "GB"),
        ("+390612345678", "IT"),
        ("+15005550006", "US"),
    ],
)
def test_region_of(e164: str, region: str) -> None:
    assert region_of(e164) == region


def test_region_of_unknown() -> None:
    assert region_of("not a number") is None


@pytest.mark.parametrize("e164", ["+80012345678", "+882345678901"])
def test_region_of_a_non_geographic_number_is_none(e164: str) -> None:
    # Its contract is an ISO 3166 alpha-2 code or None; services/messaging.py passes the
    # answer to parse_e164 as default_region, where '001' refuses every national number.
    assert region_of(e164) is None


@pytest.mark.parametrize(
    ("e164", "name"),
    [
        ("+18089255327", "(808) 925-5327"),
        ("+15005550006", "(500) 555-0006"),  # api-core.md §5: AreaCode=500 buys this name
        ("+14155550100", "(415) 555-0100"),
    ],
)
def test_friendly_name_for(e164: str, name: str) -> None:
    assert friendly_name_for(e164) == name


# --- the channel rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "channel", "inner"),
    [
        ("whatsapp:+14155550100", Channel.WHATSAPP, "+14155550100"),
        ("messenger:104794531907950", Channel.MESSENGER, "104794531907950"),
        ("WhatsApp:+14155550100", Channel.WHATSAPP, "+14155550100"),  # any case, as parsed
        ("+14155550100", Channel.SMS, "+14155550100"),
        ("12345", Channel.SMS, "12345"),
        ("MyBrand", Channel.SMS, "MyBrand"),
        ("sms:+14155550100", Channel.SMS, "sms:+14155550100"),  # "sms" is no prefix
        ("rcs:agent", Channel.SMS, "rcs:agent"),
        ("", Channel.SMS, ""),
    ],
)
def test_split_channel(address: str, channel: Channel, inner: str) -> None:
    assert split_channel(address) == (channel, inner)
    assert channel_of(address) is channel


@pytest.mark.parametrize(
    ("channel", "prefixed", "session_window", "phone_numbers"),
    [
        (Channel.SMS, False, False, True),
        (Channel.WHATSAPP, True, True, True),
        (Channel.MESSENGER, True, True, False),
    ],
)
def test_what_each_channel_is(
    channel: Channel, prefixed: bool, session_window: bool, phone_numbers: bool
) -> None:
    assert channel.is_prefixed is prefixed
    assert channel.has_session_window is session_window
    assert channel.carries_phone_numbers is phone_numbers


def test_the_channels_are_these() -> None:
    # A new channel is a deliberate act: its prefix, window and segments all follow from here.
    assert [c.value for c in Channel] == ["sms", "whatsapp", "messenger"]


@pytest.mark.parametrize(
    "text",
    [
        "+14155550100",
        "whatsapp:+14155550100",
        "WHATSAPP:+1 415 555 0100",
        "messenger:104794531907950",
    ],
)
def test_a_parsed_address_is_on_the_channel_of_its_value(text: str) -> None:
    address = parse_recipient(text)

    assert address.channel is channel_of(address.value)
    assert address.value.startswith(f"{address.channel}:") is address.channel.is_prefixed


def test_senders_are_on_sms_unless_prefixed() -> None:
    kinds = {text: parse_sender(text).channel for text in ("12345", "MyBrand", "+14155550100")}

    assert set(kinds.values()) == {Channel.SMS}
    assert parse_sender("messenger:1234567890").channel is Channel.MESSENGER


@pytest.mark.parametrize("body", ["hi", "x" * 161, "é" * 71, "ü😀" * 200])
def test_a_message_on_a_channel_is_one_segment(body: str) -> None:
    assert segments_on(Channel.WHATSAPP, body) == 1
    assert segments_on(Channel.MESSENGER, body) == 1
    assert segments_on(Channel.SMS, body) == count_segments(body).segments


def test_segments_on_sms_split_a_long_body() -> None:
    assert segments_on(Channel.SMS, "x" * 161) == 2


def test_the_session_window_is_24_hours_inclusive() -> None:
    now = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)

    assert SESSION_WINDOW.total_seconds() == 24 * 3600
    assert session_open(now - timedelta(hours=1), at=now)
    assert session_open(now - SESSION_WINDOW, at=now)
    assert not session_open(now - SESSION_WINDOW - timedelta(microseconds=1), at=now)
    assert not session_open(None, at=now)
