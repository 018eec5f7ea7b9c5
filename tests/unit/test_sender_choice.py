"""How a Messaging Service picks the sender for a recipient (domain/messaging_services.
choose_sender; messaging-and-webhooks.md §2, docs/messaging-services.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from textrelay.domain.messaging_services import (
    PoolSender,
    Recipient,
    SenderKind,
    choose_sender,
)

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
K = SenderKind

US_415 = "+14155550100"
US_212 = "+12125550100"
CA_613 = "+16135550123"
GB = "+447400123456"
FR = "+33612345678"


def sender(
    address: str, kind: SenderKind = K.PHONE_NUMBER, country: str | None = None
) -> PoolSender:
    return PoolSender(
        sid=f"PN{address}",
        service_sid="MG" + "0" * 32,
        account_sid="AC" + "0" * 32,
        kind=kind,
        address=address,
        country_code=country,
        capabilities=("SMS",),
        date_created=AT,
        date_updated=AT,
    )


US_NUMBER_415 = sender("+14155559999", country="US")
US_NUMBER_212 = sender("+12125559999", country="US")
CA_NUMBER = sender("+16135559999", country="CA")
GB_NUMBER = sender("+447400999999", country="GB")
US_SHORT_CODE = sender("12345", K.SHORT_CODE, "US")
GB_SHORT_CODE = sender("67890", K.SHORT_CODE, "GB")
ALPHA = sender("ACME", K.ALPHA_SENDER)


def first(count: int) -> int:
    return 0


def last(count: int) -> int:
    return count - 1


def choose(
    pool: Sequence[PoolSender],
    to: str,
    region: str | None,
    *,
    geomatch: bool = True,
    sticky: str | None = None,
    draw: Callable[[int], int] = first,
    channel: str = "sms",
) -> str | None:
    chosen = choose_sender(
        pool,
        Recipient(to, region, channel=channel),
        area_code_geomatch=geomatch,
        sticky=sticky,
        draw=draw,
    )
    return None if chosen is None else chosen.address


EVERYTHING = [
    ALPHA,
    GB_NUMBER,
    CA_NUMBER,
    US_NUMBER_212,
    US_NUMBER_415,
    GB_SHORT_CODE,
    US_SHORT_CODE,
]


# --- 1. sticky sender -----------------------------------------------------------------------


def test_the_sticky_sender_comes_before_every_other_rule() -> None:
    assert choose(EVERYTHING, US_415, "US", sticky=GB_NUMBER.address) == GB_NUMBER.address


def test_a_sticky_sender_no_longer_in_the_pool_is_ignored() -> None:
    assert choose(EVERYTHING, US_415, "US", sticky="+19995550000") == US_SHORT_CODE.address


# --- 2. short codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "region", "expected"),
    [(US_415, "US", US_SHORT_CODE), (GB, "GB", GB_SHORT_CODE)],
)
def test_a_short_code_of_the_recipients_country_comes_first(
    to: str, region: str, expected: PoolSender
) -> None:
    assert choose(EVERYTHING, to, region) == expected.address


def test_a_short_code_of_another_country_is_never_used() -> None:
    assert choose([GB_SHORT_CODE, US_NUMBER_415], US_415, "US") == US_NUMBER_415.address
    assert choose([GB_SHORT_CODE], US_415, "US") is None


# --- 3. alphanumeric sender IDs -----------------------------------------------------------


@pytest.mark.parametrize(("to", "region"), [(GB, "GB"), (FR, "FR")])
def test_an_alpha_sender_comes_before_numbers_outside_the_us_and_canada(
    to: str, region: str
) -> None:
    assert choose([GB_NUMBER, US_NUMBER_415, ALPHA], to, region) == ALPHA.address


@pytest.mark.parametrize(("to", "region"), [(US_415, "US"), (CA_613, "CA")])
def test_no_alpha_sender_reaches_the_us_or_canada(to: str, region: str) -> None:
    assert choose([ALPHA, GB_NUMBER], to, region) == GB_NUMBER.address
    assert choose([ALPHA], to, region) is None


# --- 4. numbers of the recipient's country, area code first -------------------------------------


def test_a_number_of_the_recipients_country_comes_before_others() -> None:
    pool = [US_NUMBER_415, GB_NUMBER]

    assert choose(pool, GB, "GB", draw=first) == GB_NUMBER.address
    assert choose(pool, GB, "GB", draw=last) == GB_NUMBER.address


def test_geomatch_prefers_a_number_with_the_recipients_area_code() -> None:
    pool = [US_NUMBER_212, US_NUMBER_415]

    assert choose(pool, US_415, "US", draw=first) == US_NUMBER_415.address
    assert choose(pool, US_212, "US", draw=last) == US_NUMBER_212.address


def test_without_geomatch_any_number_of_the_country_may_be_chosen() -> None:
    pool = [US_NUMBER_212, US_NUMBER_415]

    assert choose(pool, US_415, "US", geomatch=False, draw=first) == US_NUMBER_212.address
    assert choose(pool, US_415, "US", geomatch=False, draw=last) == US_NUMBER_415.address


def test_with_no_number_of_that_area_code_any_number_of_the_country_is_chosen() -> None:
    pool = [US_NUMBER_212, CA_NUMBER]

    assert choose(pool, US_415, "US") == US_NUMBER_212.address


def test_geomatch_crosses_to_the_other_nanp_country_before_leaving_north_america() -> None:
    pool = [GB_NUMBER, CA_NUMBER]

    assert choose(pool, US_415, "US", draw=first) == CA_NUMBER.address
    assert choose(pool, US_415, "US", geomatch=False, draw=first) == GB_NUMBER.address


# --- 5. fallbacks -----------------------------------------------------------------------------


def test_otherwise_a_us_number() -> None:
    pool = [GB_NUMBER, US_NUMBER_212, CA_NUMBER]

    assert choose(pool, FR, "FR", draw=first) == US_NUMBER_212.address
    assert choose(pool, FR, "FR", draw=last) == US_NUMBER_212.address


def test_otherwise_any_number() -> None:
    pool = [GB_NUMBER, CA_NUMBER]

    assert choose(pool, FR, "FR", draw=first) == GB_NUMBER.address
    assert choose(pool, FR, "FR", draw=last) == CA_NUMBER.address


def test_a_recipient_of_no_known_country_gets_an_alpha_sender_then_a_us_number() -> None:
    assert choose([GB_NUMBER, ALPHA], "+999", None) == ALPHA.address
    assert choose([GB_NUMBER, US_NUMBER_212], "+999", None) == US_NUMBER_212.address


# --- no eligible sender ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "to", "region", "channel"),
    [
        pytest.param([], US_415, "US", "sms", id="an empty pool"),
        pytest.param([ALPHA, GB_SHORT_CODE], US_415, "US", "sms", id="nothing that reaches US"),
        pytest.param(EVERYTHING, "whatsapp:+14155550100", "US", "whatsapp", id="a channel"),
    ],
)
def test_no_sender_that_can_reach_the_recipient_is_none(
    pool: list[PoolSender], to: str, region: str, channel: str
) -> None:
    assert choose(pool, to, region, channel=channel) is None


def test_a_sticky_sender_does_not_make_a_channel_reachable() -> None:
    assert (
        choose(EVERYTHING, "whatsapp:+1415", "US", sticky=ALPHA.address, channel="whatsapp") is None
    )


# --- the draw ---------------------------------------------------------------------------------


def test_the_draw_is_asked_once_with_the_number_of_equal_candidates() -> None:
    asked: list[int] = []

    def draw(count: int) -> int:
        asked.append(count)
        return 1

    chosen = choose([GB_NUMBER, US_NUMBER_212, US_NUMBER_415, CA_NUMBER], FR, "FR", draw=draw)

    assert asked == [2]  # the two US numbers
    assert chosen == US_NUMBER_415.address


def test_a_draw_past_the_end_wraps_around() -> None:
    pool = [US_NUMBER_212, US_NUMBER_415]

    assert choose(pool, FR, "FR", draw=lambda count: count + 1) == US_NUMBER_415.address


def test_no_draw_is_needed_for_a_sticky_sender() -> None:
    def never(count: int) -> int:
        raise AssertionError("drew for a sticky sender")

    assert (
        choose(EVERYTHING, US_415, "US", sticky=CA_NUMBER.address, draw=never) == CA_NUMBER.address
    )
