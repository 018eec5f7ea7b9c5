"""Every answer carries its request's id in `Twilio-Request-Id`, as Twilio's do
(shared/twilio/api-core.md §1): `RQ` + 32 hex digits, or the `X-Request-Id` a proxy in front
gave the request when that is short and plain (docs/operations.md "Logs")."""

from __future__ import annotations

import re

import httpx

from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

_RQ = re.compile(r"RQ[0-9a-f]{32}")


def test_each_answer_has_a_request_id_of_its_own(server: TextrelayServer, account: Account) -> None:
    auth = (account.sid, account.auth_token)
    messages = f"{server.base_url}/2010-04-01/Accounts/{account.sid}/Messages.json"
    answers = [
        httpx.get(messages, auth=auth),  # Starlette
        httpx.post(messages, auth=auth, data={"To": "+14155550100"}),  # the front door, 400
        httpx.post(messages, auth=(account.sid, "0" * 32), data={}),  # 401
        httpx.get(f"{server.base_url}/nowhere"),  # 404
        httpx.get(f"{server.base_url}/healthz"),
    ]
    ids = [answer.headers["Twilio-Request-Id"] for answer in answers]
    assert [answer.status_code for answer in answers] == [200, 400, 401, 404, 200]
    assert all(_RQ.fullmatch(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_plain_incoming_request_id_is_kept_and_any_other_replaced(
    server: TextrelayServer,
) -> None:
    kept = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": "lb-4f2a:17"})
    replaced = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": "a b<c>"})

    assert kept.headers["Twilio-Request-Id"] == "lb-4f2a:17"
    assert _RQ.fullmatch(replaced.headers["Twilio-Request-Id"])
