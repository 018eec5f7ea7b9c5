"""Addresses: numbers, short codes, alphanumeric IDs, channels."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from textrelay.domain.addresses import (
    AddressError,
    AddressKind,
    _canonical_e164,
    friendly_name_for,
    parse_e164,
    parse_recipient,
    parse_sender,
    region_of,
)


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+14155550100", "US", "+14155550100"),
        ("4155550100", "US", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "US", "+14155550100"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+390612345678", "US", "+390612345678"),  # Italy keeps its leading zero
    ],
)
def test_parse_e164(text: str, region: str, e164: str) -> None:
    assert parse_e164(text, region) == e164


@pytest.mark.parametrize("text", ["+1asd", "12", "+1415", "hello", "+" + "1" * 20, ""])
def test_parse_e164_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_e164(text)


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


def test_recipient_channels() -> None:
    whatsapp = parse_recipient("whatsapp:+14155550100")
    messenger = parse_recipient("messenger:104794531907950")

    assert (whatsapp.kind, whatsapp.value, whatsapp.number) == (
        AddressKind.WHATSAPP,
        "whatsapp:+14155550100",
        "+14155550100",
    )
    assert whatsapp.channel_prefix == "whatsapp"
    assert (messenger.kind, messenger.number) == (AddressKind.MESSENGER, None)
    with pytest.raises(AddressError):
        parse_recipient("sms:+14155550100")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("+14155550100", AddressKind.PHONE_NUMBER, "+14155550100"),
        ("12345", AddressKind.SHORT_CODE, "12345"),
        ("MyBrand", AddressKind.ALPHANUMERIC, "MyBrand"),
        ("My Brand", AddressKind.ALPHANUMERIC, "My Brand"),
        ("whatsapp:+14155550100", AddressKind.WHATSAPP, "whatsapp:+14155550100"),
    ],
)
def test_parse_sender(text: str, kind: AddressKind, value: str) -> None:
    sender = parse_sender(text)

    assert (sender.kind, sender.value) == (kind, value)


@pytest.mark.parametrize("text", ["TwelveChars1", "!!!", "+1asd", "1234567890123456789"])
def test_parse_sender_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_sender(text)


def test_region_and_friendly_name() -> None:
    assert region_of("+442079460018") == "GB"
    assert region_of("+14155550100") == "US"
    assert friendly_name_for("+18089255327") == "(808) 925-5327"
