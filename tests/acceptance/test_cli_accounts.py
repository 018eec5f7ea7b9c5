"""`textrelay accounts` as an operator runs it: a subprocess on the database a running server
uses, the server answering the official twilio client as each change lands (within its
one-second authentication cache)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.waiting import eventually
from textrelay.client import client as make_client
from textrelay.testing import TextrelayServer

TEXTRELAY = [sys.executable, "-m", "textrelay"]
CACHE_BOUND_S = 5.0
"""Well past the server's one-second authentication cache."""


def accounts(server: TextrelayServer, *args: str) -> subprocess.CompletedProcess[str]:
    """`textrelay accounts ARGS` on the server's database (named by the variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTRELAY_")}
    env["TEXTRELAY_DATABASE_URL"] = server.settings.database_url
    return subprocess.run(
        [*TEXTRELAY, "accounts", *args], capture_output=True, text=True, env=env, timeout=60
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def printed(output: str, label: str) -> str:
    found = re.search(rf"^{label}:\s+(\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def created(server: TextrelayServer, *args: str) -> tuple[str, str]:
    output = succeeded(accounts(server, "create", *args))
    return printed(output, "account sid"), printed(output, "auth token")


def answer(server: TextrelayServer, sid: str, token: str) -> tuple[int, int] | None:
    """None if the account's own fetch succeeds with these credentials, else (status, code)."""
    try:
        make_client(server.base_url, sid, token).api.v2010.accounts(sid).fetch()
    except TwilioRestException as exc:
        return exc.status, exc.code
    return None


def becomes(
    server: TextrelayServer, sid: str, token: str, expected: tuple[int, int] | None
) -> None:
    eventually(
        lambda: answer(server, sid, token),
        until=lambda seen: seen == expected,
        timeout_s=CACHE_BOUND_S,
        what=f"{sid} answering {expected}",
    )


def listed(server: TextrelayServer) -> dict[str, dict[str, Any]]:
    records = json.loads(succeeded(accounts(server, "list", "--json")))
    return {record["sid"]: record for record in records}


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit status 1 and one line on stderr saying `message`, never a traceback."""
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]


@pytest.fixture
def server(isolated_server: Callable[..., TextrelayServer]) -> TextrelayServer:
    return isolated_server()


def test_an_account_created_by_cli_is_suspended_reactivated_and_closed_for_good(
    server: TextrelayServer,
) -> None:
    sid, token = created(server, "--friendly-name", "Tenant A")

    assert answer(server, sid, token) is None
    assert listed(server)[sid] | {"date_created": "", "date_updated": ""} == {
        "sid": sid,
        "status": "active",
        "type": "Full",
        "friendly_name": "Tenant A",
        "owner_account_sid": sid,
        "is_subaccount": False,
        "has_secondary_auth_token": False,
        "date_created": "",
        "date_updated": "",
    }
    assert succeeded(accounts(server, "suspend", sid)).strip() == f"{sid} suspended"
    becomes(server, sid, token, (401, 20003))
    assert succeeded(accounts(server, "reactivate", sid)).strip() == f"{sid} active"
    becomes(server, sid, token, None)
    assert succeeded(accounts(server, "close", sid)).strip() == f"{sid} closed"
    becomes(server, sid, token, (401, 20003))
    refused(
        accounts(server, "reactivate", sid),
        f"Account {sid} is closed, and a closed account cannot be reopened",
    )
    assert listed(server)[sid]["status"] == "closed"


def test_closing_a_main_account_closes_its_subaccounts(server: TextrelayServer) -> None:
    sid, token = created(server)
    sub = make_client(server.base_url, sid, token).api.v2010.accounts.create(friendly_name="sub")

    table = succeeded(accounts(server, "list")).splitlines()
    closed = succeeded(accounts(server, "close", sid)).splitlines()

    assert table[0].split() == ["SID", "STATUS", "TYPE", "FRIENDLY", "NAME", "PARENT"]
    main_row = next(i for i, line in enumerate(table) if line.startswith(sid))
    assert table[main_row + 1].startswith(f"  {sub.sid} ")
    assert table[main_row + 1].endswith(sid)
    assert closed == [f"{sid} closed", f"{sub.sid} closed"]
    becomes(server, sub.sid, sub.auth_token, (401, 20003))
    assert listed(server)[sub.sid]["status"] == "closed"


def test_rotate_token_kills_the_old_token_at_once(server: TextrelayServer) -> None:
    sid, old = created(server)
    assert answer(server, sid, old) is None

    new = printed(succeeded(accounts(server, "rotate-token", sid)), "auth token")

    assert re.fullmatch(r"[0-9a-f]{32}", new)
    assert new != old
    becomes(server, sid, old, (401, 20003))
    assert answer(server, sid, new) is None


def test_a_secondary_token_is_created_promoted_and_deleted_by_cli(
    server: TextrelayServer,
) -> None:
    sid, primary = created(server)

    secondary = printed(
        succeeded(accounts(server, "secondary-token", "create", sid)), "secondary auth token"
    )
    both = (answer(server, sid, primary), answer(server, sid, secondary))
    flagged = listed(server)[sid]["has_secondary_auth_token"]
    promoted = succeeded(accounts(server, "secondary-token", "promote", sid))
    becomes(server, sid, primary, (401, 20003))
    after_promotion = answer(server, sid, secondary)
    another = printed(
        succeeded(accounts(server, "secondary-token", "create", sid)), "secondary auth token"
    )
    becomes(server, sid, another, None)
    deleted = succeeded(accounts(server, "secondary-token", "delete", sid))
    becomes(server, sid, another, (401, 20003))

    assert both == (None, None)
    assert flagged is True
    assert secondary not in promoted
    assert after_promotion is None
    assert deleted.strip() == f"{sid}: secondary auth token deleted"
    assert answer(server, sid, secondary) is None
    refused(
        accounts(server, "secondary-token", "promote", sid),
        "the account has no secondary auth token",
    )


def test_refusals_are_one_line_and_exit_1(server: TextrelayServer) -> None:
    unknown = "AC" + "9" * 32
    main = server.main_account.sid

    refused(accounts(server, "suspend", unknown), f"No account {unknown}")
    refused(accounts(server, "rotate-token", "not-a-sid"), "No account not-a-sid")
    refused(
        accounts(server, "close", main),
        f"Account {main} is the server's main account; it stays active",
    )
    refused(
        accounts(server, "create", "--friendly-name", "x" * 65),
        "FriendlyName must be at most 64 characters",
    )
    assert listed(server)[main]["status"] == "active"
