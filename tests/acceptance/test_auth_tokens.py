"""accounts.twilio.com/v1/AuthTokens through the official twilio client: the secondary auth
token created, authenticating beside the primary, promoted and deleted (docs/compatibility.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.receiver import Receiver
from textrelay.client import client as make_client
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

TOKEN = re.compile(r"[0-9a-f]{32}")
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def refused(call: Callable[[], object]) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as error:
        call()
    return error.value.status, error.value.code


def with_token(server: TextrelayServer, account: Account, token: str) -> Client:
    return make_client(server.base_url, account.sid, token)


def fetch_own(client: Client) -> str:
    sid: str = client.api.v2010.accounts(client.account_sid).fetch().sid
    return sid


def test_a_secondary_token_authenticates_beside_the_primary(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    created = client.accounts.v1.secondary_auth_token().create()

    assert created.account_sid == account.sid
    assert TOKEN.fullmatch(created.secondary_auth_token)
    assert created.secondary_auth_token != account.auth_token
    assert created.url == "https://accounts.twilio.com/v1/AuthTokens/Secondary"
    assert created.date_created is not None
    assert created.date_created.tzinfo == UTC
    assert created.date_updated == created.date_created
    assert fetch_own(with_token(server, account, created.secondary_auth_token)) == account.sid
    assert fetch_own(client) == account.sid


def test_the_json_has_twilios_fields_status_and_dates(
    server: TextrelayServer, account: Account
) -> None:
    auth = (account.sid, account.auth_token)
    created = httpx.post(f"{server.base_url}/v1/AuthTokens/Secondary", auth=auth)
    promoted = httpx.post(f"{server.base_url}/v1/AuthTokens/Promote", auth=auth)
    body = created.json()

    assert created.status_code == 201
    assert list(body) == [
        "account_sid",
        "date_created",
        "date_updated",
        "secondary_auth_token",
        "url",
    ]
    assert ISO_8601.fullmatch(body["date_created"])
    assert promoted.status_code == 200
    assert list(promoted.json()) == [
        "account_sid",
        "auth_token",
        "date_created",
        "date_updated",
        "url",
    ]
    assert promoted.json()["auth_token"] == body["secondary_auth_token"]
    assert promoted.json()["date_created"] == body["date_created"]
    assert ISO_8601.fullmatch(promoted.json()["date_updated"])


def test_promote_makes_the_secondary_the_only_token_and_signs_callbacks_with_it(
    server: TextrelayServer,
    client: Client,
    account: Account,
    sender: str,
    receiver: Receiver,
) -> None:
    secondary = client.accounts.v1.secondary_auth_token().create().secondary_auth_token
    new_client = with_token(server, account, secondary)

    promotion = new_client.accounts.v1.auth_token_promotion().update()

    assert promotion.account_sid == account.sid
    assert promotion.auth_token == secondary
    assert promotion.url == "https://accounts.twilio.com/v1/AuthTokens/Promote"
    assert refused(lambda: fetch_own(client)) == (401, 20003)
    fetched = new_client.api.v2010.accounts(account.sid).fetch()
    assert fetched.auth_token == secondary
    # The secondary is gone: promoting again finds nothing to promote.
    assert refused(lambda: new_client.accounts.v1.auth_token_promotion().update()) == (404, 20404)
    message = new_client.messages.create(
        to="+14155550123", from_=sender, body="signed", status_callback=receiver.url()
    )
    receiver.statuses(message.sid, count=1)
    callback = receiver.for_message(message.sid)[0]
    assert callback.valid_for(secondary)
    assert not callback.valid_for(account.auth_token)


def test_a_deleted_secondary_no_longer_authenticates(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    secondary = client.accounts.v1.secondary_auth_token().create().secondary_auth_token

    deleted = client.accounts.v1.secondary_auth_token().delete()

    assert deleted is True
    assert refused(lambda: fetch_own(with_token(server, account, secondary))) == (401, 20003)
    assert fetch_own(client) == account.sid
    assert refused(lambda: client.accounts.v1.secondary_auth_token().delete()) == (404, 20404)
    assert refused(lambda: client.accounts.v1.auth_token_promotion().update()) == (404, 20404)


def test_creating_again_replaces_the_secondary(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    first = client.accounts.v1.secondary_auth_token().create().secondary_auth_token
    second = client.accounts.v1.secondary_auth_token().create().secondary_auth_token

    assert first != second
    assert refused(lambda: fetch_own(with_token(server, account, first))) == (401, 20003)
    assert fetch_own(with_token(server, account, second)) == account.sid


def test_an_api_key_may_not_manage_auth_tokens(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    key = client.new_keys.create(friendly_name="ci")
    as_key = make_client(server.base_url, account.sid, key.secret, username=key.sid)

    assert refused(lambda: as_key.accounts.v1.secondary_auth_token().create()) == (401, 20003)
    assert refused(lambda: as_key.accounts.v1.secondary_auth_token().delete()) == (401, 20003)
    assert refused(lambda: as_key.accounts.v1.auth_token_promotion().update()) == (401, 20003)


def test_a_subaccounts_secondary_acts_on_the_subaccount_only(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sub = client.api.v2010.accounts.create(friendly_name="tenant")
    sub_client = make_client(server.base_url, sub.sid, sub.auth_token)
    secondary = sub_client.accounts.v1.secondary_auth_token().create().secondary_auth_token
    on_parent = make_client(server.base_url, account.sid, secondary, username=sub.sid)

    assert refused(lambda: fetch_own(on_parent)) == (401, 20003)
    assert refused(lambda: fetch_own(with_token(server, account, secondary))) == (401, 20003)
    # Promoting with the subaccount's credentials changes the subaccount's token alone.
    sub_client.accounts.v1.auth_token_promotion().update()
    assert fetch_own(client) == account.sid
    assert fetch_own(make_client(server.base_url, sub.sid, secondary)) == sub.sid


def test_wrong_credentials_are_refused(server: TextrelayServer, account: Account) -> None:
    stranger = make_client(server.base_url, account.sid, "0" * 32)

    assert refused(lambda: stranger.accounts.v1.secondary_auth_token().create()) == (401, 20003)
