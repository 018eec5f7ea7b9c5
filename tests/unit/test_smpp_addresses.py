"""SMPP addresses both ways (domain/smpp/addresses.py; shared/carriers/smpp-facts.md)."""

from __future__ import annotations

import pytest

from textrelay.domain.addresses import AddressError
from textrelay.domain.smpp.addresses import (
    NotAnSmsAddress,
    SmppAddress,
    inbound_address,
    outbound_destination,
    outbound_source,
)


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("+14155550100", SmppAddress(1, 1, "14155550100")),
        ("+447700900123", SmppAddress(1, 1, "447700900123")),
        ("4155550100", SmppAddress(1, 1, "14155550100")),  # read in the default region, US
        ("12345", SmppAddress(3, 0, "12345")),
        ("123", SmppAddress(3, 0, "123")),
        ("12345678", SmppAddress(3, 0, "12345678")),
        ("MyBrand", SmppAddress(5, 0, "MyBrand")),
        ("My Brand 1", SmppAddress(5, 0, "My Brand 1")),
    ],
)
def test_outbound_source(sender: str, expected: SmppAddress) -> None:
    assert outbound_source(sender) == expected


def test_the_short_code_ton_is_the_carriers() -> None:
    assert outbound_source("12345", short_code_ton=0) == SmppAddress(0, 0, "12345")
    assert outbound_destination("12345", short_code_ton=0) == SmppAddress(0, 0, "12345")
    # Only short codes: a number keeps TON 1.
    assert outbound_source("+14155550100", short_code_ton=0).ton == 1


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("+14155550100", SmppAddress(1, 1, "14155550100")),
        ("+33612345678", SmppAddress(1, 1, "33612345678")),
        ("12345", SmppAddress(3, 0, "12345")),
    ],
)
def test_outbound_destination(to: str, expected: SmppAddress) -> None:
    assert outbound_destination(to) == expected


@pytest.mark.parametrize(
    "address",
    [
        "whatsapp:+14155550100",
        "WhatsApp:+14155550100",
        "messenger:104794531907950",
        "",
        "a sender ID longer than eleven",
        "+1",
    ],
)
def test_what_smpp_cannot_carry(address: str) -> None:
    with pytest.raises(NotAnSmsAddress):
        outbound_source(address)
    with pytest.raises(NotAnSmsAddress):
        outbound_destination(address)


def test_a_sender_id_is_no_destination() -> None:
    with pytest.raises(NotAnSmsAddress):
        outbound_destination("MyBrand")


def test_not_an_sms_address_is_an_address_error() -> None:
    assert issubclass(NotAnSmsAddress, AddressError)
    assert issubclass(NotAnSmsAddress, ValueError)


@pytest.mark.parametrize(
    ("digits", "ton", "npi", "expected"),
    [
        ("14155550100", 1, 1, "+14155550100"),
        ("14155550100", 1, 0, "+14155550100"),
        ("+14155550100", 1, 1, "+14155550100"),  # an SMSC that adds the plus itself
        (" 14155550100 ", 1, 1, "+14155550100"),
        # TON 0 with NPI 1: international when long enough to be (the documented choice).
        ("447700900123", 0, 1, "+447700900123"),
        ("12345678", 0, 1, "+12345678"),
        ("1234567", 0, 1, "1234567"),
        ("447700900123", 0, 0, "447700900123"),  # NPI unknown too: kept as given
        ("4155550100", 2, 1, "4155550100"),  # national: no country to add
        ("12345", 3, 0, "12345"),
        ("12345", 0, 0, "12345"),
        ("12345", 6, 0, "12345"),
        ("MyBrand", 5, 0, "MyBrand"),
        ("MyBrand", 1, 1, "MyBrand"),  # letters cannot be international digits
        ("", 1, 1, ""),
    ],
)
def test_inbound_address(digits: str, ton: int, npi: int, expected: str) -> None:
    assert inbound_address(digits, ton, npi) == expected


def test_a_number_goes_out_and_comes_back_the_same() -> None:
    address = outbound_source("+14155550100")
    assert inbound_address(address.digits, address.ton, address.npi) == "+14155550100"
