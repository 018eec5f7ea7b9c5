"""The pytest plugin as users meet it: the README's example, word for word."""

from __future__ import annotations

import re

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
