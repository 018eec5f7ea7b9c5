"""IncomingPhoneNumbers through the official twilio client: provision, configure, list, filter,
release, move, and the magic test values (shared/twilio/api-core.md §2.5, §5)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from textrelay.client import client as make_client
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer


def refused(call: Callable[[], object]) -> tuple[int, int]:
    """(HTTP status, Twilio code) of the TwilioRestException that `call` raises."""
    with pytest.raises(TwilioRestException) as error:
        call()
    return error.value.status, error.value.code


def unique_number(area_code: str = "415") -> str:
    """A US/CA number in `area_code` with random subscriber digits, so no other test of the
    shared server holds it (numbers are unique across accounts)."""
    exchange = 200 + secrets.randbelow(800)
    line = secrets.randbelow(10000)
    return f"+1{area_code}{exchange:03d}{line:04d}"


def us_friendly_name(e164: str) -> str:
    """Twilio's default friendly name of a US number: `(415) 555-0100`."""
    return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"


def test_create_with_phone_number(client: Client, account: Account) -> None:
    wanted = unique_number()

    number = client.incoming_phone_numbers.create(phone_number=wanted)

    assert re.fullmatch(r"PN[0-9a-f]{32}", number.sid)
    assert number.account_sid == account.sid
    assert number.phone_number == wanted
    assert number.friendly_name == us_friendly_name(wanted)
    assert number.capabilities == {"voice": True, "sms": True, "mms": True, "fax": False}
    assert number.sms_method == "POST"
    assert number.sms_url is None
    assert number.status == "in-use"
    assert number.type == "local"
    assert number.origin == "twilio"
    assert number.api_version == "2010-04-01"
    assert number.uri == (
        f"/2010-04-01/Accounts/{account.sid}/IncomingPhoneNumbers/{number.sid}.json"
    )
    assert number.date_created is not None
    fetched = client.incoming_phone_numbers(number.sid).fetch()
    assert fetched.phone_number == wanted
    assert fetched.friendly_name == number.friendly_name
    assert fetched.capabilities == number.capabilities


def test_create_normalizes_the_phone_number_to_e164(client: Client) -> None:
    wanted = unique_number("628")
    spaced = f"+1 ({wanted[2:5]}) {wanted[5:8]}-{wanted[8:]}"

    number = client.incoming_phone_numbers.create(phone_number=spaced)

    assert number.phone_number == wanted


def test_create_with_area_code(client: Client) -> None:
    number = client.incoming_phone_numbers.create(area_code="628")

    assert re.fullmatch(r"\+1628[2-9]\d{6}", number.phone_number)
    assert number.friendly_name == us_friendly_name(number.phone_number)
    assert number.status == "in-use"


def test_area_code_numbers_are_distinct(client: Client) -> None:
    numbers = {client.incoming_phone_numbers.create(area_code="212").phone_number for _ in range(5)}

    assert len(numbers) == 5


def test_create_with_configuration(client: Client) -> None:
    number = client.incoming_phone_numbers.create(
        phone_number=unique_number(),
        friendly_name="Support line",
        sms_url="https://example.com/sms",
        sms_method="GET",
        status_callback="https://example.com/status",
    )

    assert number.friendly_name == "Support line"
    assert number.sms_url == "https://example.com/sms"
    assert number.sms_method == "GET"
    assert number.status_callback == "https://example.com/status"
    assert number.status_callback_method == "POST"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        pytest.param({"phone_number": "+15005550000"}, 21422, id="magic-unavailable"),
        pytest.param({"phone_number": "+15005550001"}, 21421, id="magic-invalid"),
        pytest.param({"area_code": "533"}, 21452, id="magic-no-numbers"),
        pytest.param({"phone_number": "+1asd"}, 21421, id="letters"),
        pytest.param({"phone_number": "+1415555"}, 21421, id="too-short"),
        pytest.param({"phone_number": "not a number"}, 21421, id="text"),
        # textrelay's choice: an area code must be three digits, not starting 0 or 1.
        pytest.param({"area_code": "12"}, 21452, id="area-code-too-short"),
        pytest.param({"area_code": "099"}, 21452, id="area-code-starting-0"),
    ],
)
def test_create_is_refused(client: Client, kwargs: dict[str, str], code: int) -> None:
    assert refused(lambda: client.incoming_phone_numbers.create(**kwargs)) == (400, code)
    assert client.incoming_phone_numbers.list() == []


def test_magic_area_code_500_buys_the_magic_number(server: TextrelayServer, client: Client) -> None:
    number = client.incoming_phone_numbers.create(area_code="500")
    try:
        assert number.phone_number == "+15005550006"
        assert number.friendly_name == "(500) 555-0006"
        # The one magic number is now taken, as any owned number is.
        other = server.client(server.new_account())
        assert refused(lambda: other.incoming_phone_numbers.create(area_code="500")) == (
            400,
            21422,
        )
    finally:
        client.incoming_phone_numbers(number.sid).delete()

    again = client.incoming_phone_numbers.create(phone_number="+15005550006")
    client.incoming_phone_numbers(again.sid).delete()
    assert again.phone_number == "+15005550006"


def test_missing_phone_number_and_area_code_is_refused(client: Client) -> None:
    assert refused(lambda: client.incoming_phone_numbers.create()) == (400, 20001)
    assert refused(lambda: client.incoming_phone_numbers.create(friendly_name="nothing")) == (
        400,
        20001,
    )


def test_a_number_already_owned_is_unavailable(server: TextrelayServer, client: Client) -> None:
    mine = client.incoming_phone_numbers.create(phone_number=unique_number())
    other = server.client(server.new_account())

    assert refused(
        lambda: client.incoming_phone_numbers.create(phone_number=mine.phone_number)
    ) == (400, 21422)
    assert refused(lambda: other.incoming_phone_numbers.create(phone_number=mine.phone_number)) == (
        400,
        21422,
    )
    assert [n.sid for n in client.incoming_phone_numbers.list()] == [mine.sid]
    assert other.incoming_phone_numbers.list() == []


def test_update_configuration(client: Client) -> None:
    number = client.incoming_phone_numbers.create(area_code="415")

    updated = client.incoming_phone_numbers(number.sid).update(
        friendly_name="Inbound SMS",
        sms_url="https://example.com/inbound",
        sms_method="GET",
        status_callback="https://example.com/callback",
    )

    assert updated.sid == number.sid
    assert updated.phone_number == number.phone_number
    assert updated.friendly_name == "Inbound SMS"
    assert updated.sms_url == "https://example.com/inbound"
    assert updated.sms_method == "GET"
    assert updated.status_callback == "https://example.com/callback"
    fetched = client.incoming_phone_numbers(number.sid).fetch()
    assert fetched.friendly_name == "Inbound SMS"
    assert fetched.sms_url == "https://example.com/inbound"
    assert fetched.sms_method == "GET"
    assert fetched.status_callback == "https://example.com/callback"


def test_update_keeps_what_it_is_not_given(client: Client) -> None:
    number = client.incoming_phone_numbers.create(
        area_code="415", sms_url="https://example.com/sms", sms_method="GET"
    )

    updated = client.incoming_phone_numbers(number.sid).update(friendly_name="renamed")

    assert updated.friendly_name == "renamed"
    assert updated.sms_url == "https://example.com/sms"
    assert updated.sms_method == "GET"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"sms_method": "PUT"}, id="sms-method"),
        pytest.param({"sms_method": "DELETE"}, id="sms-method-delete"),
        pytest.param({"status_callback_method": "PATCH"}, id="status-callback-method"),
        pytest.param({"sms_url": "ftp://example.com/sms"}, id="sms-url"),
        pytest.param({"friendly_name": "n" * 65}, id="friendly-name-too-long"),
    ],
)
def test_invalid_update_is_refused(client: Client, kwargs: dict[str, str]) -> None:
    number = client.incoming_phone_numbers.create(area_code="415")

    assert refused(lambda: client.incoming_phone_numbers(number.sid).update(**kwargs)) == (
        400,
        20001,
    )
    fetched = client.incoming_phone_numbers(number.sid).fetch()
    assert fetched.sms_method == "POST"
    assert fetched.sms_url is None
    assert fetched.friendly_name == us_friendly_name(number.phone_number)


def test_list_filters_by_phone_number_and_friendly_name(client: Client) -> None:
    first = client.incoming_phone_numbers.create(
        phone_number=unique_number("415"), friendly_name="Sales"
    )
    second = client.incoming_phone_numbers.create(
        phone_number=unique_number("628"), friendly_name="Support"
    )
    digits = first.phone_number[2:]  # ten digits, no +1
    wildcard = digits[:3] + "*" + digits[4:]

    assert {n.sid for n in client.incoming_phone_numbers.list()} == {first.sid, second.sid}
    assert [n.sid for n in client.incoming_phone_numbers.list(phone_number=first.phone_number)] == [
        first.sid
    ]
    assert [n.sid for n in client.incoming_phone_numbers.list(phone_number=digits[-7:])] == [
        first.sid
    ]
    assert [n.sid for n in client.incoming_phone_numbers.list(phone_number=wildcard)] == [first.sid]
    assert [n.sid for n in client.incoming_phone_numbers.list(friendly_name="Support")] == [
        second.sid
    ]
    assert client.incoming_phone_numbers.list(friendly_name="Supp") == []
    assert client.incoming_phone_numbers.list(phone_number="+1999") == []


def test_list_pages(client: Client) -> None:
    sids = {client.incoming_phone_numbers.create(area_code="415").sid for _ in range(5)}

    streamed = [n.sid for n in client.incoming_phone_numbers.stream(page_size=2)]

    assert len(streamed) == 5
    assert set(streamed) == sids


def test_typed_collections(client: Client, account: Account) -> None:
    local = client.incoming_phone_numbers.local.create(phone_number=unique_number("415"))
    mobile = client.incoming_phone_numbers.mobile.create(phone_number=unique_number("628"))
    toll_free = client.incoming_phone_numbers.toll_free.create(phone_number=unique_number("833"))

    # The typed instances carry no `type` field in twilio-python; the main resource does.
    def type_of(sid: str) -> str:
        kind: str = client.incoming_phone_numbers(sid).fetch().type
        return kind

    assert type_of(local.sid) == "local"
    assert type_of(mobile.sid) == "mobile"
    assert type_of(toll_free.sid) == "toll-free"
    assert local.account_sid == account.sid
    assert local.status == "in-use"
    assert [n.sid for n in client.incoming_phone_numbers.local.list()] == [local.sid]
    assert [n.sid for n in client.incoming_phone_numbers.mobile.list()] == [mobile.sid]
    assert [n.sid for n in client.incoming_phone_numbers.toll_free.list()] == [toll_free.sid]
    assert {n.sid for n in client.incoming_phone_numbers.list()} == {
        local.sid,
        mobile.sid,
        toll_free.sid,
    }


def test_typed_collection_list_filters(client: Client) -> None:
    wanted = client.incoming_phone_numbers.local.create(
        phone_number=unique_number("415"), friendly_name="front desk"
    )
    client.incoming_phone_numbers.local.create(phone_number=unique_number("415"))

    named = client.incoming_phone_numbers.local.list(friendly_name="front desk")
    by_number = client.incoming_phone_numbers.local.list(phone_number=wanted.phone_number)

    assert [n.sid for n in named] == [wanted.sid]
    assert [n.sid for n in by_number] == [wanted.sid]


def test_toll_free_number_through_the_main_collection_is_typed(client: Client) -> None:
    number = client.incoming_phone_numbers.create(phone_number=unique_number("888"))

    assert number.type == "toll-free"
    assert [n.sid for n in client.incoming_phone_numbers.toll_free.list()] == [number.sid]
    assert client.incoming_phone_numbers.local.list() == []


def test_typed_collection_create_needs_a_phone_number(client: Client) -> None:
    assert refused(lambda: client.incoming_phone_numbers.local.create(phone_number="")) == (
        400,
        20001,
    )
    assert refused(
        lambda: client.incoming_phone_numbers.mobile.create(phone_number="+15005550001")
    ) == (400, 21421)


def test_release_then_fetch_is_not_found(server: TextrelayServer, client: Client) -> None:
    number = client.incoming_phone_numbers.create(area_code="415")

    released = client.incoming_phone_numbers(number.sid).delete()

    assert released is True
    assert refused(lambda: client.incoming_phone_numbers(number.sid).fetch()) == (404, 20404)
    assert refused(lambda: client.incoming_phone_numbers(number.sid).delete()) == (404, 20404)
    assert refused(lambda: client.incoming_phone_numbers(number.sid).update(friendly_name="x")) == (
        404,
        20404,
    )
    assert client.incoming_phone_numbers.list() == []
    # A released number is free to provision again.
    other = server.client(server.new_account())
    again = other.incoming_phone_numbers.create(phone_number=number.phone_number)
    assert again.phone_number == number.phone_number
    assert again.sid != number.sid


def test_unknown_number_sid_is_not_found(client: Client) -> None:
    assert refused(lambda: client.incoming_phone_numbers("PN" + "0" * 32).fetch()) == (
        404,
        20404,
    )


def test_another_account_number_is_invisible(server: TextrelayServer, client: Client) -> None:
    theirs = server.client(server.new_account()).incoming_phone_numbers.create(area_code="415")

    assert refused(lambda: client.incoming_phone_numbers(theirs.sid).fetch()) == (404, 20404)
    assert refused(
        lambda: client.incoming_phone_numbers(theirs.sid).update(friendly_name="mine")
    ) == (404, 20404)
    assert refused(lambda: client.incoming_phone_numbers(theirs.sid).delete()) == (404, 20404)
    assert client.incoming_phone_numbers.list() == []
    assert client.incoming_phone_numbers.list(phone_number=theirs.phone_number) == []


def test_move_a_number_to_a_subaccount(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="gets a number")
    number = client.incoming_phone_numbers.create(area_code="415", friendly_name="moving")
    sub_client = make_client(server.base_url, sub.sid, sub.auth_token)

    moved = client.incoming_phone_numbers(number.sid).update(account_sid=sub.sid)

    assert moved.sid == number.sid
    assert moved.account_sid == sub.sid
    assert moved.phone_number == number.phone_number
    assert moved.friendly_name == "moving"
    assert moved.uri == f"/2010-04-01/Accounts/{sub.sid}/IncomingPhoneNumbers/{number.sid}.json"
    assert refused(lambda: client.incoming_phone_numbers(number.sid).fetch()) == (404, 20404)
    assert client.incoming_phone_numbers.list() == []
    assert [n.sid for n in sub_client.incoming_phone_numbers.list()] == [number.sid]
    sent = sub_client.messages.create(to="+14155550199", from_=number.phone_number, body="hi")
    assert sent.from_ == number.phone_number
    # The parent no longer owns it: Twilio's "mismatch between From and account" (21660).
    assert refused(
        lambda: client.messages.create(to="+14155550199", from_=number.phone_number, body="hi")
    ) == (400, 21660)


def test_move_a_number_back_to_the_parent(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="gives a number back")
    parent_on_sub = make_client(server.base_url, sub.sid, account.auth_token, username=account.sid)
    number = parent_on_sub.incoming_phone_numbers.create(area_code="415")

    moved = parent_on_sub.incoming_phone_numbers(number.sid).update(account_sid=account.sid)

    assert moved.account_sid == account.sid
    assert [n.sid for n in client.incoming_phone_numbers.list()] == [number.sid]
    assert parent_on_sub.incoming_phone_numbers.list() == []


def test_a_number_cannot_move_to_an_account_out_of_reach(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    number = client.incoming_phone_numbers.create(area_code="415")
    other = server.new_account()

    assert refused(
        lambda: client.incoming_phone_numbers(number.sid).update(account_sid=other.sid)
    ) == (401, 20003)
    assert client.incoming_phone_numbers(number.sid).fetch().account_sid == account.sid
    assert server.client(other).incoming_phone_numbers.list() == []
