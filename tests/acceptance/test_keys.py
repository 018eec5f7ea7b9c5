"""API keys through the official twilio client: create (secret shown once), fetch, list,
update, delete, and authenticating with a key (shared/twilio/api-core.md §2.6, §6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

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


def list_refused(client: Client, path: str) -> tuple[int, int]:
    """(HTTP status, Twilio code) of a refused list read.

    twilio-python's `list()` turns a non-200 page into a bare `TwilioException`, without the
    code, so the list URI is read with the client's own `fetch`, which raises
    `TwilioRestException` like every other call.
    """
    return refused(lambda: client.api.v2010.fetch("GET", path))


def under(client: Client, resource: str) -> str:
    """The list URI of `resource` under the account the client acts on."""
    return f"Accounts/{client.account_sid}/{resource}.json"


def test_create_returns_the_secret_once(client: Client, account: Account) -> None:
    created = client.new_keys.create(friendly_name="deploy bot")

    assert re.fullmatch(r"SK[0-9a-f]{32}", created.sid)
    assert created.friendly_name == "deploy bot"
    assert re.fullmatch(r"[0-9a-f]{32}", created.secret)
    assert created.date_created is not None
    assert created.date_updated is not None
    fetched = client.keys(created.sid).fetch()
    assert fetched.sid == created.sid
    assert fetched.friendly_name == "deploy bot"
    assert fetched.date_created == created.date_created
    raw = client.api.v2010.fetch("GET", f"Accounts/{account.sid}/Keys/{created.sid}.json")
    assert "secret" not in raw
    assert set(raw) == {"sid", "friendly_name", "date_created", "date_updated"}


def test_each_key_gets_its_own_secret(client: Client) -> None:
    first = client.new_keys.create(friendly_name="one")
    second = client.new_keys.create(friendly_name="two")

    assert first.sid != second.sid
    assert first.secret != second.secret


def test_create_without_friendly_name(client: Client) -> None:
    created = client.new_keys.create()

    assert created.sid.startswith("SK")
    assert created.friendly_name == ""


def test_friendly_name_over_64_characters_is_refused(client: Client) -> None:
    assert refused(lambda: client.new_keys.create(friendly_name="k" * 65)) == (400, 20001)


def test_list_holds_the_account_keys_only(server: TextrelayServer, client: Client) -> None:
    mine = {client.new_keys.create(friendly_name=f"key {i}").sid for i in range(3)}
    theirs = server.client(server.new_account()).new_keys.create(friendly_name="theirs")

    listed = client.keys.list()
    paged = [k.sid for k in client.keys.stream(page_size=2)]

    assert {k.sid for k in listed} == mine
    assert theirs.sid not in {k.sid for k in listed}
    assert sorted(paged) == sorted(mine)
    raw = client.api.v2010.fetch("GET", under(client, "Keys"))
    assert all("secret" not in k for k in raw["keys"])


def test_update_friendly_name(client: Client) -> None:
    created = client.new_keys.create(friendly_name="old name")

    updated = client.keys(created.sid).update(friendly_name="new name")

    assert updated.sid == created.sid
    assert updated.friendly_name == "new name"
    assert client.keys(created.sid).fetch().friendly_name == "new name"


def test_delete_then_fetch_is_not_found(client: Client) -> None:
    created = client.new_keys.create(friendly_name="short-lived")

    deleted = client.keys(created.sid).delete()

    assert deleted is True
    assert refused(lambda: client.keys(created.sid).fetch()) == (404, 20404)
    assert refused(lambda: client.keys(created.sid).update(friendly_name="x")) == (404, 20404)
    assert refused(lambda: client.keys(created.sid).delete()) == (404, 20404)
    assert created.sid not in {k.sid for k in client.keys.list()}


def test_unknown_key_is_not_found(client: Client) -> None:
    assert refused(lambda: client.keys("SK" + "0" * 32).fetch()) == (404, 20404)


def test_another_account_key_is_not_found(server: TextrelayServer, client: Client) -> None:
    theirs = server.client(server.new_account()).new_keys.create(friendly_name="theirs")

    assert refused(lambda: client.keys(theirs.sid).fetch()) == (404, 20404)
    assert refused(lambda: client.keys(theirs.sid).update(friendly_name="mine")) == (404, 20404)
    assert refused(lambda: client.keys(theirs.sid).delete()) == (404, 20404)


def test_a_key_authenticates_for_messages(
    server: TextrelayServer, client: Client, account: Account, sender: str
) -> None:
    key = client.new_keys.create(friendly_name="sender")
    with_key = server.client(account, username=key.sid, password=key.secret)

    message = with_key.messages.create(to="+14155550199", from_=sender, body="signed by a key")

    assert message.account_sid == account.sid
    assert message.status == "queued"
    assert [m.sid for m in with_key.messages.list()] == [message.sid]
    assert with_key.messages(message.sid).fetch().body == "signed by a key"
    assert [m.sid for m in client.messages.list()] == [message.sid]
    assert sender in {n.phone_number for n in with_key.incoming_phone_numbers.list()}


def test_a_key_cannot_use_accounts_or_keys(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    key = client.new_keys.create(friendly_name="standard")
    with_key = server.client(account, username=key.sid, password=key.secret)

    assert refused(lambda: with_key.api.v2010.accounts(account.sid).fetch()) == (401, 20003)
    assert refused(
        lambda: with_key.api.v2010.accounts(account.sid).update(friendly_name="renamed")
    ) == (401, 20003)
    assert refused(lambda: with_key.api.v2010.accounts.create(friendly_name="sub")) == (
        401,
        20003,
    )
    assert list_refused(with_key, "Accounts.json") == (401, 20003)
    assert list_refused(with_key, under(with_key, "Keys")) == (401, 20003)
    assert refused(lambda: with_key.new_keys.create(friendly_name="another")) == (401, 20003)
    assert refused(lambda: with_key.keys(key.sid).fetch()) == (401, 20003)
    assert refused(lambda: with_key.keys(key.sid).delete()) == (401, 20003)
    assert client.keys(key.sid).fetch().friendly_name == "standard"
    assert client.api.v2010.accounts(account.sid).fetch().friendly_name == account.friendly_name


def test_a_deleted_key_stops_working(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    key = client.new_keys.create(friendly_name="revoked")
    with_key = server.client(account, username=key.sid, password=key.secret)
    assert with_key.messages.list() == []

    client.keys(key.sid).delete()

    assert list_refused(with_key, under(with_key, "Messages")) == (401, 20003)
    assert refused(
        lambda: with_key.messages.create(to="+14155550199", from_="+15005550006", body="x")
    ) == (401, 20003)


def test_a_wrong_secret_is_refused(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    key = client.new_keys.create(friendly_name="guarded")
    other = client.new_keys.create(friendly_name="other")
    wrong_secret = server.client(account, username=key.sid, password="0" * 32)
    swapped_secret = server.client(account, username=key.sid, password=other.secret)
    unknown_key = server.client(account, username="SK" + "0" * 32, password=key.secret)

    for bad in (wrong_secret, swapped_secret, unknown_key):
        assert list_refused(bad, under(bad, "Messages")) == (401, 20003)
        send = partial(bad.messages.create, to="+14155550199", from_="+15005550006", body="x")
        assert refused(send) == (401, 20003)


def test_a_key_acts_only_on_its_own_account(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    key = client.new_keys.create(friendly_name="scoped")
    sub = client.api.v2010.accounts.create(friendly_name="child")
    other = server.new_account()
    on_sub = make_client(server.base_url, sub.sid, key.secret, username=key.sid)
    on_other = make_client(server.base_url, other.sid, key.secret, username=key.sid)

    assert list_refused(on_sub, under(on_sub, "Messages")) == (401, 20003)
    assert list_refused(on_other, under(on_other, "Messages")) == (401, 20003)
    assert refused(
        lambda: on_other.messages.create(to="+14155550199", from_="+15005550006", body="x")
    ) == (401, 20003)


def test_a_subaccount_key_authenticates_for_the_subaccount(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="keyed child")
    sub_client = make_client(server.base_url, sub.sid, sub.auth_token)
    key = sub_client.new_keys.create(friendly_name="child key")
    with_key = make_client(server.base_url, sub.sid, key.secret, username=key.sid)
    on_parent = make_client(server.base_url, account.sid, key.secret, username=key.sid)

    message = with_key.messages.create(to="+14155550199", from_="+15005550006", body="child")

    assert message.account_sid == sub.sid
    assert [k.sid for k in sub_client.keys.list()] == [key.sid]
    assert key.sid not in {k.sid for k in client.keys.list()}
    assert list_refused(on_parent, under(on_parent, "Messages")) == (401, 20003)
