"""Twilio's magic test numbers (api-core.md §5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from textrelay.domain import errors, magic


@pytest.mark.parametrize(
    ("number", "error", "code"),
    [
        ("+15005550001", errors.InvalidFromNumber, 21212),
        ("+15005550007", errors.FromNotOwned, 21606),
        ("+15005550008", errors.SenderQueueFull, 21611),
    ],
)
def test_magic_senders(number: str, error: type[errors.TwilioError], code: int) -> None:
    with pytest.raises(errors.TwilioError) as raised:
        magic.check_sender(number)

    assert type(raised.value) is error
    assert raised.value.code == code
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("number", "error", "code"),
    [
        ("+15005550001", errors.InvalidToNumber, 21211),
        ("+15005550002", errors.ToUnreachable, 21612),
        ("+15005550003", errors.NoGeoPermission, 21408),
        ("+15005550004", errors.RecipientUnsubscribed, 21610),
        ("+15005550009", errors.ToNotMobile, 21614),
    ],
)
def test_magic_recipients(number: str, error: type[errors.TwilioError], code: int) -> None:
    with pytest.raises(errors.TwilioError) as raised:
        magic.check_recipient(number)

    assert type(raised.value) is error
    assert raised.value.code == code
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("check", "number"),
    [
        (magic.check_sender, "+15005550001"),
        (magic.check_sender, "+15005550007"),
        (magic.check_recipient, "+15005550001"),
        (magic.check_recipient, "+15005550002"),
        (magic.check_recipient, "+15005550003"),
        (magic.check_recipient, "+15005550009"),
    ],
)
def test_errors_that_name_a_number_name_the_magic_one(
    check: Callable[[str], None], number: str
) -> None:
    with pytest.raises(errors.TwilioError) as raised:
        check(number)

    assert number in raised.value.message


@pytest.mark.parametrize(
    "number",
    [
        magic.MAGIC_SENDER_OK,
        "+15005550006",
        "+15005550000",
        "+15005550005",
        "+15005550002",  # magic as a To, ordinary as a From
        "+15005550003",
        "+15005550004",
        "+15005550009",
        "+14155550100",
    ],
)
def test_other_senders_pass(number: str) -> None:
    magic.check_sender(number)


@pytest.mark.parametrize(
    "number",
    [
        "+15005550006",
        "+15005550000",
        "+15005550005",
        "+15005550007",  # magic as a From, ordinary as a To
        "+15005550008",
        "+14155550100",
    ],
)
def test_other_recipients_pass(number: str) -> None:
    magic.check_recipient(number)


def test_phone_number_magic_values() -> None:
    assert magic.MAGIC_SENDER_OK == "+15005550006"
    assert magic.MAGIC_NUMBER_OK == "+15005550006"
    assert magic.NUMBER_UNAVAILABLE == "+15005550000"
    assert magic.NUMBER_INVALID == "+15005550001"
    assert magic.AREA_CODE_EMPTY == "533"
    assert magic.AREA_CODE_MAGIC == "500"
