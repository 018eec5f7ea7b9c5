"""Accounts and subaccounts through the official twilio client: fetch, create, list, update,
suspend, close, and who may act on which account (shared/twilio/api-core.md §2.1, §6)."""

from __future__ import annotations

import re
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


def list_refused(client: Client, path: str, **query: str) -> tuple[int, int]:
    """(HTTP status, Twilio code) of a refused list read.

    twilio-python's `list()` turns a non-200 page into a bare `TwilioException`, without the
    code, so the list URI is read with the client's own `fetch`, which raises
    `TwilioRestException` like every other call.
    """
    return refused(lambda: client.api.v2010.fetch("GET", path, params=query or None))


def under(client: Client, resource: str) -> str:
    """The list URI of `resource` under the account the client acts on."""
    return f"Accounts/{client.account_sid}/{resource}.json"


def as_account(server: TextrelayServer, sid: str, auth_token: str) -> Client:
    """A client acting as `sid` with that account's own credentials."""
    return make_client(server.base_url, sid, auth_token)


def parent_on(server: TextrelayServer, parent: Account, sub_sid: str) -> Client:
    """A client with the parent's credentials and the subaccount's SID in the path (§6)."""
    return make_client(server.base_url, sub_sid, parent.auth_token, username=parent.sid)


def test_fetch_own_account(client: Client, account: Account) -> None:
    fetched = client.api.v2010.accounts(account.sid).fetch()

    assert fetched.sid == account.sid
    assert fetched.status == "active"
    assert fetched.type in ("Trial", "Full")
    assert fetched.owner_account_sid == account.sid
    assert fetched.auth_token == account.auth_token
    assert fetched.friendly_name == account.friendly_name
    assert fetched.uri == f"/2010-04-01/Accounts/{account.sid}.json"
    assert fetched.subresource_uris["messages"] == (
        f"/2010-04-01/Accounts/{account.sid}/Messages.json"
    )
    assert fetched.subresource_uris["short_codes"] == (
        f"/2010-04-01/Accounts/{account.sid}/SMS/ShortCodes.json"
    )
    assert fetched.date_created is not None
    assert fetched.date_updated is not None


def test_create_subaccount(server: TextrelayServer, client: Client, account: Account) -> None:
    parent = client.api.v2010.accounts(account.sid).fetch()

    sub = client.api.v2010.accounts.create(friendly_name="Customer 42")

    assert re.fullmatch(r"AC[0-9a-f]{32}", sub.sid)
    assert sub.sid != account.sid
    assert sub.friendly_name == "Customer 42"
    assert sub.owner_account_sid == account.sid
    assert sub.status == "active"
    assert sub.type == parent.type
    assert re.fullmatch(r"[0-9a-f]{32}", sub.auth_token)
    assert sub.auth_token != account.auth_token
    assert sub.uri == f"/2010-04-01/Accounts/{sub.sid}.json"
    own_view = as_account(server, sub.sid, sub.auth_token).api.v2010.accounts(sub.sid).fetch()
    assert own_view.owner_account_sid == account.sid
    assert own_view.friendly_name == "Customer 42"


def test_create_subaccount_default_friendly_name(client: Client, account: Account) -> None:
    sub = client.api.v2010.accounts.create()

    assert re.fullmatch(
        r"SubAccount Created at \d{4}-\d{2}-\d{2} \d{2}:\d{2} (am|pm)", sub.friendly_name
    )
    expected = "SubAccount Created at " + sub.date_created.strftime("%Y-%m-%d %I:%M %p").lower()
    assert sub.friendly_name == expected
    assert sub.owner_account_sid == account.sid


def test_create_subaccount_friendly_name_over_64_characters_is_refused(client: Client) -> None:
    assert refused(lambda: client.api.v2010.accounts.create(friendly_name="x" * 65)) == (
        400,
        20001,
    )
    assert client.api.v2010.accounts.create(friendly_name="x" * 64).friendly_name == "x" * 64


def test_list_returns_the_caller_and_its_subaccounts_only(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    first = client.api.v2010.accounts.create(friendly_name="first")
    second = client.api.v2010.accounts.create(friendly_name="second")
    other = server.new_account()
    other_sub = server.client(other).api.v2010.accounts.create(friendly_name="not yours")

    listed = {a.sid for a in client.api.v2010.accounts.list()}
    seen_by_sub = [
        a.sid for a in as_account(server, first.sid, first.auth_token).api.v2010.accounts.list()
    ]

    assert listed == {account.sid, first.sid, second.sid}
    assert other.sid not in listed
    assert other_sub.sid not in listed
    assert seen_by_sub == [first.sid]


def test_list_pages_through_subaccounts(client: Client, account: Account) -> None:
    subs = {client.api.v2010.accounts.create(friendly_name=f"paged {i}").sid for i in range(4)}

    streamed = [a.sid for a in client.api.v2010.accounts.stream(page_size=2)]

    assert set(streamed) == subs | {account.sid}
    assert len(streamed) == 5


def test_list_filters_by_friendly_name_and_status(client: Client, account: Account) -> None:
    alpha = client.api.v2010.accounts.create(friendly_name="alpha")
    beta = client.api.v2010.accounts.create(friendly_name="beta")
    client.api.v2010.accounts.create(friendly_name="alphabet")
    client.api.v2010.accounts(beta.sid).update(status="suspended")

    named = client.api.v2010.accounts.list(friendly_name="alpha")
    suspended = client.api.v2010.accounts.list(status="suspended")
    active = {a.sid for a in client.api.v2010.accounts.list(status="active")}
    both = client.api.v2010.accounts.list(friendly_name="beta", status="active")

    assert [a.sid for a in named] == [alpha.sid]
    assert [a.sid for a in suspended] == [beta.sid]
    assert suspended[0].status == "suspended"
    assert account.sid in active
    assert alpha.sid in active
    assert beta.sid not in active
    assert both == []


def test_list_with_an_unknown_status_is_refused(client: Client) -> None:
    assert list_refused(client, "Accounts.json", Status="frozen") == (400, 20001)


def test_update_friendly_name(client: Client, account: Account) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="before")

    renamed_sub = client.api.v2010.accounts(sub.sid).update(friendly_name="after")
    renamed_self = client.api.v2010.accounts(account.sid).update(friendly_name="my main")

    assert renamed_sub.friendly_name == "after"
    assert renamed_sub.status == "active"
    assert client.api.v2010.accounts(sub.sid).fetch().friendly_name == "after"
    assert renamed_self.friendly_name == "my main"
    assert client.api.v2010.accounts(account.sid).fetch().friendly_name == "my main"


def test_parent_suspends_a_subaccount_then_reactivates_it(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="on and off")
    sub_client = as_account(server, sub.sid, sub.auth_token)
    parent_client = parent_on(server, account, sub.sid)

    suspended = client.api.v2010.accounts(sub.sid).update(status="suspended")

    assert suspended.status == "suspended"
    assert client.api.v2010.accounts(sub.sid).fetch().status == "suspended"
    # The subaccount's own credentials stop working (api-core.md §6: 20003).
    assert list_refused(sub_client, under(sub_client, "Messages")) == (401, 20003)
    assert refused(lambda: sub_client.api.v2010.accounts(sub.sid).fetch()) == (401, 20003)
    # Its resources are out of reach even with the parent's credentials: 20005.
    assert list_refused(parent_client, under(parent_client, "Messages")) == (401, 20005)
    assert refused(
        lambda: parent_client.messages.create(to="+14155550199", from_="+15005550006", body="x")
    ) == (401, 20005)

    reactivated = client.api.v2010.accounts(sub.sid).update(status="active")

    assert reactivated.status == "active"
    assert sub_client.messages.list() == []
    assert parent_client.messages.list() == []


def test_a_closed_subaccount_cannot_be_reopened(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="closing down")

    closed = client.api.v2010.accounts(sub.sid).update(status="closed")

    assert closed.status == "closed"
    assert refused(lambda: client.api.v2010.accounts(sub.sid).update(status="active")) == (
        400,
        20001,
    )
    assert refused(lambda: client.api.v2010.accounts(sub.sid).update(status="suspended")) == (
        400,
        20001,
    )
    assert client.api.v2010.accounts(sub.sid).fetch().status == "closed"
    sub_client = as_account(server, sub.sid, sub.auth_token)
    parent_client = parent_on(server, account, sub.sid)
    assert list_refused(sub_client, under(sub_client, "Messages")) == (401, 20003)
    assert list_refused(parent_client, under(parent_client, "Messages")) == (401, 20005)


def test_an_account_cannot_change_its_own_status(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="self-suspender")
    sub_client = as_account(server, sub.sid, sub.auth_token)

    assert refused(lambda: sub_client.api.v2010.accounts(sub.sid).update(status="suspended")) == (
        400,
        20001,
    )
    assert refused(lambda: sub_client.api.v2010.accounts(sub.sid).update(status="closed")) == (
        400,
        20001,
    )
    assert refused(lambda: client.api.v2010.accounts(account.sid).update(status="closed")) == (
        400,
        20001,
    )
    assert client.api.v2010.accounts(sub.sid).fetch().status == "active"
    assert client.api.v2010.accounts(account.sid).fetch().status == "active"


def test_an_unknown_status_is_refused(client: Client) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="odd status")

    assert refused(lambda: client.api.v2010.accounts(sub.sid).update(status="paused")) == (
        400,
        20001,
    )


def test_a_subaccount_cannot_create_subaccounts(server: TextrelayServer, client: Client) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="no grandchildren")
    sub_client = as_account(server, sub.sid, sub.auth_token)

    assert refused(lambda: sub_client.api.v2010.accounts.create(friendly_name="grandchild")) == (
        401,
        20003,
    )


def test_parent_credentials_reach_the_subaccount_resources(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="managed")
    parent_client = parent_on(server, account, sub.sid)

    number = parent_client.incoming_phone_numbers.create(area_code="415")
    message = parent_client.messages.create(
        to="+14155550199", from_=number.phone_number, body="on behalf"
    )

    assert number.account_sid == sub.sid
    assert message.account_sid == sub.sid
    assert message.uri == f"/2010-04-01/Accounts/{sub.sid}/Messages/{message.sid}.json"
    assert [m.sid for m in parent_client.messages.list()] == [message.sid]
    assert parent_client.messages(message.sid).fetch().body == "on behalf"
    sub_client = as_account(server, sub.sid, sub.auth_token)
    assert [m.sid for m in sub_client.messages.list()] == [message.sid]
    # Under the parent's own path the subaccount's message is somebody else's: not found.
    assert client.messages.list() == []
    assert refused(lambda: client.messages(message.sid).fetch()) == (404, 20404)


def test_subaccount_credentials_cannot_reach_the_parent_or_a_sibling(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="me")
    sibling = client.api.v2010.accounts.create(friendly_name="my sibling")
    on_parent = make_client(server.base_url, account.sid, sub.auth_token, username=sub.sid)
    on_sibling = make_client(server.base_url, sibling.sid, sub.auth_token, username=sub.sid)

    assert list_refused(on_parent, under(on_parent, "Messages")) == (401, 20003)
    assert refused(lambda: on_parent.api.v2010.accounts(account.sid).fetch()) == (401, 20003)
    assert list_refused(on_parent, under(on_parent, "IncomingPhoneNumbers")) == (401, 20003)
    assert list_refused(on_sibling, under(on_sibling, "Messages")) == (401, 20003)
    assert refused(lambda: on_sibling.api.v2010.accounts(sibling.sid).fetch()) == (401, 20003)
    assert refused(
        lambda: on_sibling.api.v2010.accounts(sibling.sid).update(friendly_name="hijacked")
    ) == (401, 20003)
    assert client.api.v2010.accounts(sibling.sid).fetch().friendly_name == "my sibling"


def test_another_top_level_account_is_out_of_reach(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    other = server.new_account()
    other_client = server.client(other)
    other_number = other_client.incoming_phone_numbers.create(area_code="415")
    other_message = other_client.messages.create(
        to="+14155550199", from_=other_number.phone_number, body="private"
    )
    other_sub = other_client.api.v2010.accounts.create(friendly_name="theirs")
    trespasser = make_client(server.base_url, other.sid, account.auth_token, username=account.sid)

    assert refused(lambda: client.api.v2010.accounts(other.sid).fetch()) == (401, 20003)
    assert refused(
        lambda: client.api.v2010.accounts(other.sid).update(friendly_name="mine now")
    ) == (401, 20003)
    assert refused(lambda: client.api.v2010.accounts(other_sub.sid).fetch()) == (401, 20003)
    assert list_refused(trespasser, under(trespasser, "Messages")) == (401, 20003)
    assert refused(lambda: trespasser.messages(other_message.sid).fetch()) == (401, 20003)
    assert list_refused(trespasser, under(trespasser, "IncomingPhoneNumbers")) == (401, 20003)
    assert refused(
        lambda: trespasser.messages.create(
            to="+14155550199", from_=other_number.phone_number, body="spoof"
        )
    ) == (401, 20003)
    assert [m.sid for m in other_client.messages.list()] == [other_message.sid]
    assert other_client.api.v2010.accounts(other.sid).fetch().friendly_name == other.friendly_name


def test_bad_credentials_are_refused(server: TextrelayServer, account: Account) -> None:
    wrong_token = make_client(server.base_url, account.sid, "0" * 32)
    unknown_account = make_client(server.base_url, "AC" + "0" * 32, account.auth_token)
    not_a_sid = make_client(server.base_url, account.sid, account.auth_token, username="admin")

    assert refused(lambda: wrong_token.api.v2010.accounts(account.sid).fetch()) == (401, 20003)
    assert list_refused(wrong_token, under(wrong_token, "Messages")) == (401, 20003)
    assert list_refused(unknown_account, under(unknown_account, "Messages")) == (401, 20003)
    assert list_refused(not_a_sid, under(not_a_sid, "Messages")) == (401, 20003)
