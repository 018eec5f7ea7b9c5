"""User-supplied regular expressions (the control API's Match, simulator rules' *_regex) run in
linear time, and a pattern RE2 cannot run is a 400, never a 500 (issue 12 #4)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from twilio.rest import Client

from textrelay.control import ControlError
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

# Backtracking engines take seconds on this pair, doubling with each further `a`.
EXPONENTIAL = r"^(a+)+$"
HOSTILE_BODY = "a" * 26 + "!"


def test_match_runs_in_linear_time_and_does_not_stall_other_tenants(
    server: TextrelayServer, account: Account, client: Client, sender: str
) -> None:
    client.messages.create(to="+14155550188", from_=sender, body=HOSTILE_BODY)
    client.messages.create(to="+14155550188", from_=sender, body="a" * 30)
    other = server.new_account()
    other_took: list[float] = []

    def other_tenant() -> None:
        time.sleep(0.05)  # while the Match below runs
        started = time.monotonic()
        server.client(other).messages.list(limit=1)
        other_took.append(time.monotonic() - started)

    beside = threading.Thread(target=other_tenant)
    beside.start()
    started = time.monotonic()
    with server.control(account) as control:
        found = control.received("+14155550188", match=EXPONENTIAL)
    took = time.monotonic() - started
    beside.join(30)

    assert [m["body"] for m in found] == ["a" * 30]
    assert took < 1.0
    assert other_took
    assert other_took[0] < 1.0


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param("(" * 900, "missing )", id="900-open-parentheses"),
        pytest.param("(" * 600 + "a" + ")" * 600, "limit is 1000", id="over-the-length-limit"),
        pytest.param(r"(a)\1", "invalid escape sequence", id="backreference"),
        pytest.param(r"a(?=b)", "invalid perl operator", id="lookahead"),
        pytest.param(r"(?<!b)a", "invalid perl operator", id="lookbehind"),
        pytest.param(r"\pL{1000}", "pattern too large", id="too-large-a-program"),
    ],
)
def test_a_match_re2_cannot_run_is_20001(
    server: TextrelayServer, account: Account, pattern: str, reason: str
) -> None:
    with server.control(account) as control, pytest.raises(ControlError) as refused:
        control.received("+14155550189", match=pattern)

    assert (refused.value.status, refused.value.code) == (400, 20001)
    assert refused.value.message.startswith("Match is not a regular expression: ")
    assert reason in refused.value.message
    assert len(refused.value.message) < 300


def test_a_rule_regex_runs_in_linear_time_and_re2_syntax_is_checked(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    with server.control() as control:
        for field in ("to_regex", "from_regex", "body_regex"):
            with pytest.raises(ControlError) as refused:
                control.add_rule(**{field: "x(?!y)", "outcome": "failed"})
            assert (refused.value.status, refused.value.code) == (400, 20001)
            assert field in refused.value.message
        control.add_rule(body_regex=EXPONENTIAL, outcome="failed", error_code=30004)
        started = time.monotonic()
        hostile = client.messages.create(to="+14155550187", from_=number, body=HOSTILE_BODY)
        matching = client.messages.create(to="+14155550187", from_=number, body="aaaa")
        outcomes = [control.wait_until_final(m.sid) for m in (hostile, matching)]
        took = time.monotonic() - started

    assert outcomes == ["delivered", "failed"]
    assert took < 3.0
