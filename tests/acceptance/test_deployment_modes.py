"""Deployment modes (issue 15 #4): the permission matrix of the test bench and of server-wide
state, for every kind of caller, in emulator and in gateway mode, on both databases.

The rule (docs/operations.md, "Modes"):
- the operator (`Authorization: Bearer <admin token>`) may use all of it, on any account;
- a wrong bearer token authenticates nobody: 401 / 20003;
- emulator mode: an account uses the test bench on its own data; server-wide state (the clock,
  the carriers' state) only the server's main account changes or reads;
- gateway mode: every account credential, the main account's included, gets 403 / 20403.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from textrelay.settings import Settings, SettingsError
from textrelay.testing import TextrelayServer

API = "/2010-04-01/Accounts"
CONTROL = "/textrelay/v1"
ADMIN_TOKEN = secrets.token_hex(32)


@dataclass(frozen=True)
class Tenant:
    sid: str
    token: str
    number: str
    sms_sid: str


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    auth: tuple[str, str] | None
    tenant: Tenant | None
    """Whose data the caller reaches as its own; None for the operator and for nobody."""
    main: bool = False
    """The server's main account, the one that owns server-wide state in emulator mode."""


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: Callable[[Tenant], str]
    body: Callable[[Tenant], dict[str, Any] | None]
    server_wide: bool = False


OPERATIONS = [
    Operation("read own simulator", "GET", lambda t: f"{CONTROL}/Simulator", lambda t: None),
    Operation(
        "change simulator",
        "POST",
        lambda t: f"{CONTROL}/Accounts/{t.sid}/Simulator",
        lambda t: {"send_delay_ms": 3},
    ),
    Operation(
        "add a rule",
        "POST",
        lambda t: f"{CONTROL}/Accounts/{t.sid}/Simulator/Rules",
        lambda t: {"to_prefix": "+1999", "outcome": "failed", "error_code": 30006},
    ),
    Operation("read the clock", "GET", lambda t: f"{CONTROL}/Clock", lambda t: None),
    Operation(
        "inject inbound",
        "POST",
        lambda t: f"{CONTROL}/Accounts/{t.sid}/Inbound",
        lambda t: {"from": "+14155550199", "to": t.number, "body": "hi"},
    ),
    Operation(
        "step a message",
        "POST",
        lambda t: f"{CONTROL}/Accounts/{t.sid}/Messages/{t.sms_sid}/Step",
        lambda t: {},
    ),
    Operation(
        "provision a short code",
        "POST",
        lambda t: f"{CONTROL}/Accounts/{t.sid}/ShortCodes",
        lambda t: {"short_code": f"{secrets.randbelow(900_000) + 100_000}"},
    ),
    Operation("reset", "POST", lambda t: f"{CONTROL}/Accounts/{t.sid}/Reset", lambda t: {}),
    Operation(
        "move the clock",
        "POST",
        lambda t: f"{CONTROL}/Clock",
        lambda t: {"advance_s": 1},
        server_wide=True,
    ),
    Operation("read the carriers", "GET", lambda t: f"{CONTROL}/Carriers", lambda t: None, True),
]


def _expected(mode: str, caller: Caller, operation: Operation) -> int:
    if caller.name == "wrong bearer":
        return 401
    if caller.name == "operator":
        return 200
    if mode == "gateway":
        return 403
    if operation.server_wide and not caller.main:
        return 403
    return 200


def _tenant(http: httpx.Client, sid: str, token: str) -> Tenant:
    auth = (sid, token)
    number = http.post(
        f"{API}/{sid}/IncomingPhoneNumbers.json", auth=auth, data={"AreaCode": "415"}
    )
    assert number.status_code == 201, number.text
    phone = number.json()["phone_number"]
    sms = http.post(
        f"{API}/{sid}/Messages.json",
        auth=auth,
        data={"To": "+14155550100", "From": phone, "Body": "hello"},
    )
    assert sms.status_code == 201, sms.text
    return Tenant(sid, token, phone, sms.json()["sid"])


@pytest.fixture(params=["emulator", "gateway"])
def world(
    request: pytest.FixtureRequest, isolated_server: Callable[..., TextrelayServer]
) -> Iterator[tuple[str, httpx.Client, dict[str, Tenant], list[Caller]]]:
    mode: str = request.param
    # Manual progression: the messages stay queued for the step operations.
    server = isolated_server(deployment_mode=mode, admin_token=ADMIN_TOKEN, simulator_mode="manual")
    main = server.main_account
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        made = http.post(
            f"{API}.json", auth=(main.sid, main.auth_token), data={"FriendlyName": "sub"}
        )
        assert made.status_code == 201, made.text
        other = server.new_account("another tenant")
        tenants = {
            "main": _tenant(http, main.sid, main.auth_token),
            "sub": _tenant(http, made.json()["sid"], made.json()["auth_token"]),
            "other": _tenant(http, other.sid, other.auth_token),
        }
        key = http.post(
            f"{API}/{tenants['sub'].sid}/Keys.json",
            auth=(tenants["sub"].sid, tenants["sub"].token),
        ).json()
        callers = [
            Caller("main account", {}, (main.sid, main.auth_token), tenants["main"], main=True),
            Caller("subaccount", {}, (tenants["sub"].sid, tenants["sub"].token), tenants["sub"]),
            Caller("subaccount's key", {}, (key["sid"], key["secret"]), tenants["sub"]),
            Caller(
                "other top-level account",
                {},
                (tenants["other"].sid, tenants["other"].token),
                tenants["other"],
            ),
            Caller("operator", {"Authorization": f"Bearer {ADMIN_TOKEN}"}, None, None),
            Caller("wrong bearer", {"Authorization": f"Bearer {'0' * 64}"}, None, None),
        ]
        yield mode, http, tenants, callers


def _call(
    http: httpx.Client, caller: Caller, operation: Operation, tenant: Tenant
) -> httpx.Response:
    body = operation.body(tenant)
    return http.request(
        operation.method,
        operation.path(tenant),
        headers=caller.headers,
        auth=caller.auth,
        json=body,
    )


def test_each_caller_reaches_the_test_bench_and_server_wide_state_as_its_mode_allows(
    world: tuple[str, httpx.Client, dict[str, Tenant], list[Caller]],
) -> None:
    mode, http, tenants, callers = world
    wrong = []
    # Operation by operation, so every step comes before any reset deletes the messages.
    for operation in OPERATIONS:
        for caller in callers:
            # The operator acts on the other tenant's data; everyone else on their own.
            tenant = caller.tenant or tenants["other"]
            answer = _call(http, caller, operation, tenant)
            got = 200 if answer.is_success else answer.status_code
            expected = _expected(mode, caller, operation)
            if got != expected:
                wrong.append(f"{mode}: {caller.name} {operation.name}: {got} {answer.text}")
            elif expected in (401, 403):
                assert answer.json()["code"] == {401: 20003, 403: 20403}[expected], answer.text
    assert wrong == []


def test_no_account_reaches_another_tenants_test_bench_in_either_mode(
    world: tuple[str, httpx.Client, dict[str, Tenant], list[Caller]],
) -> None:
    _mode, http, tenants, callers = world
    sub = next(c for c in callers if c.name == "subaccount")
    for victim in (tenants["main"], tenants["other"]):
        for operation in OPERATIONS:
            if operation.path(victim) == operation.path(tenants["sub"]):
                continue  # a path without an account: the caller's own
            answer = _call(http, sub, operation, victim)
            assert (answer.status_code, answer.json()["code"]) == (401, 20003), operation.name


def test_a_subaccount_changes_only_its_own_simulator_never_the_server_wide_one(
    world: tuple[str, httpx.Client, dict[str, Tenant], list[Caller]],
) -> None:
    mode, http, tenants, callers = world
    operator = next(c for c in callers if c.name == "operator")
    sub = next(c for c in callers if c.name == "subaccount")
    assert sub.auth is not None
    before = http.get(f"{CONTROL}/Simulator", headers=operator.headers).json()
    answer = http.post(f"{CONTROL}/Simulator", auth=sub.auth, json={"delivery_delay_ms": 4321})
    assert answer.status_code == (200 if mode == "emulator" else 403), answer.text
    assert http.get(f"{CONTROL}/Simulator", headers=operator.headers).json() == before
    theirs = http.get(
        f"{CONTROL}/Accounts/{tenants['other'].sid}/Simulator", headers=operator.headers
    ).json()
    assert theirs["delivery_delay_ms"] != 4321


def test_the_operator_injects_a_handset_message_into_any_tenants_number(
    world: tuple[str, httpx.Client, dict[str, Tenant], list[Caller]],
) -> None:
    _mode, http, tenants, callers = world
    operator = next(c for c in callers if c.name == "operator")
    target = tenants["sub"]
    answer = http.post(
        f"{CONTROL}/Accounts/{target.sid}/Inbound",
        headers=operator.headers,
        json={"from": "+14155550123", "to": target.number, "body": "from the operator"},
    )
    assert answer.status_code == 201, answer.text
    message = answer.json()["message"]
    assert message["account_sid"] == target.sid
    fetched = http.get(
        f"{API}/{target.sid}/Messages/{message['sid']}.json", auth=(target.sid, target.token)
    )
    assert fetched.json()["body"] == "from the operator"
    unknown = http.post(
        f"{CONTROL}/Accounts/AC{'0' * 32}/Inbound",
        headers=operator.headers,
        json={"from": "+14155550123", "to": target.number, "body": "x"},
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)


def test_gateway_mode_hides_and_refuses_the_consoles_test_bench(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(deployment_mode="gateway")
    with httpx.Client(base_url=server.base_url, timeout=10) as browser:
        browser.get(server.console_url)
        account = browser.get("/console/account")
        assert account.status_code == 200
        assert "Simulator" not in account.text
        assert "/console/reset" not in account.text
        csrf = account.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        for path, form in (
            ("/console/simulator", {"mode": "manual"}),
            ("/console/reset", {}),
            ("/console/phones/+14155550100/text", {"to": "+14155550101", "body": "x"}),
        ):
            answer = browser.post(path, data={"csrf": csrf, **form})
            assert answer.status_code == 403, path
    emulator = isolated_server()
    with httpx.Client(base_url=emulator.base_url, timeout=10) as browser:
        browser.get(emulator.console_url)
        assert "/console/reset" in browser.get("/console/account").text


def test_an_admin_token_too_short_to_trust_is_refused_at_start() -> None:
    with pytest.raises(
        SettingsError, match="TEXTRELAY_ADMIN_TOKEN: an admin token has at least 24"
    ):
        Settings.load({}, {"TEXTRELAY_ADMIN_TOKEN": "short"})
    assert Settings.load({}, {"TEXTRELAY_ADMIN_TOKEN": ADMIN_TOKEN}).admin_token == ADMIN_TOKEN
