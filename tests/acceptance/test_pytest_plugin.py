"""The pytest plugin as users meet it: the README's example, word for word."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from textrelay.pytest_plugin import TextrelayForTest
from textrelay.testing import TextrelayServer


def test_login_sends_a_one_time_code(textrelay: TextrelayForTest) -> None:
    sender = textrelay.phone_number()
    code = "482913"  # what the app under test would generate
    textrelay.client.messages.create(to="+14155550100", from_=sender, body=f"Code: {code}")

    sms = textrelay.control.wait_for_message("+14155550100", match=r"\b\d{6}\b")

    assert re.search(r"\b\d{6}\b", sms["body"])[0] == code  # type: ignore[index]
    assert textrelay.control.wait_until_final(sms["sid"]) == "delivered"


def test_each_test_gets_an_account_of_its_own(textrelay: TextrelayForTest) -> None:
    assert textrelay.client.messages.list() == []
    assert textrelay.account.sid.startswith("AC")


def test_a_tests_simulator_settings_leave_other_tests_accounts_alone(
    textrelay: TextrelayForTest, textrelay_server: TextrelayServer
) -> None:
    """Tests sharing the session's server (or running beside each other against one) each
    change only their own account's simulator settings (issue 12 #3)."""
    textrelay.control.configure_simulator(mode="manual")
    textrelay.control.add_rule(to_prefix="+1", outcome="failed", error_code=30007)
    neighbour = textrelay_server.new_account("another test")
    client = textrelay_server.client(neighbour)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    sid = client.messages.create(to="+14155550100", from_=sender, body="hi").sid

    with textrelay_server.control(neighbour) as control:
        assert control.wait_until_final(sid) == "delivered"
        assert (control.simulator()["mode"], control.simulator()["rules"]) == ("immediate", [])


def test_loading_the_plugin_imports_nothing_of_textrelay_until_a_fixture_is_used() -> None:
    """pytest loads the plugin in every run where textrelay is installed (issue 14 #4): what
    it costs a run that uses no fixture is this module alone, not textrelay's import time
    (bench/pytest_plugin.py measures it)."""
    probe = (
        "import sys, textrelay.pytest_plugin\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textrelay', 'twilio', 'uvicorn', 'aiohttp', 'starlette', 'asyncpg'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    # `textrelay` itself offers `textrelay.client`, which imports twilio only when called.
    assert loaded == ["textrelay", "textrelay.client", "textrelay.pytest_plugin"]


def test_waiting_for_a_message_that_cannot_end_says_why(textrelay: TextrelayForTest) -> None:
    """The README's magic sender never leaves `queued` (issue 14 #4), nor does a message the
    manual simulator waits to be stepped: the timeout names the cause."""
    magic = textrelay.client.messages.create(to="+14155550100", from_="+15005550006", body="x")
    with pytest.raises(TimeoutError, match=r"\+15005550006 is Twilio's magic sender"):
        textrelay.control.wait_until_final(magic.sid, timeout_s=0.3)

    textrelay.control.configure_simulator(mode="manual")
    sender = textrelay.phone_number()
    parked = textrelay.client.messages.create(to="+14155550100", from_=sender, body="y")
    textrelay.control.wait_idle(parked.sid)
    with pytest.raises(TimeoutError, match="waits for a step"):
        textrelay.control.wait_until_final(parked.sid, timeout_s=0.3)


FIXED_SENDER = "+14155550777"
"""A sender fixed in an app's configuration, claimed by two tests in turn (issue 14 #4)."""


def test_a_fixed_sender_can_be_claimed_by_one_test(textrelay: TextrelayForTest) -> None:
    assert textrelay.claim_number(FIXED_SENDER) == FIXED_SENDER
    sent = textrelay.client.messages.create(to="+14155550100", from_=FIXED_SENDER, body="1")
    assert textrelay.control.wait_until_final(sent.sid) == "delivered"


def test_and_then_by_the_next_once_the_first_has_released_it(
    textrelay: TextrelayForTest,
) -> None:
    assert textrelay.claim_number(FIXED_SENDER) == FIXED_SENDER
    sent = textrelay.client.messages.create(to="+14155550100", from_=FIXED_SENDER, body="2")
    assert textrelay.control.wait_until_final(sent.sid) == "delivered"
