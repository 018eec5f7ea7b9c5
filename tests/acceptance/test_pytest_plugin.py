"""The pytest plugin as users meet it: the README's example, word for word."""

from __future__ import annotations

import re

from textrelay.pytest_plugin import TextrelayForTest


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
