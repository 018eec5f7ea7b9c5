"""pytest plugin: a textrelay server in the test process and, for each test, a fresh account
with a ready twilio client and the read-back helper.

    def test_login_code(textrelay):
        sender = textrelay.phone_number()
        textrelay.client.messages.create(to="+14155550100", from_=sender, body="Code: 123456")
        sms = textrelay.control.wait_for_message("+14155550100", match=r"\\d{6}")
        assert sms["body"].endswith("123456")

Installed with textrelay (entry point `pytest11`); the twilio package comes with
`textrelay[client]`. Override the `textrelay_settings` fixture to change server settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from textrelay.control import Control
from textrelay.domain.accounts import Account
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

if TYPE_CHECKING:
    from twilio.rest import Client


@dataclass
class TextrelayForTest:
    """What the `textrelay` fixture yields: one fresh account on a running server."""

    server: TextrelayServer
    account: Account
    client: Client
    """The official twilio client, acting as `account`, talking to textrelay."""
    control: Control
    """Read-back, stepping and simulator settings (textrelay.control.Control), as `account`:
    the simulator settings it changes are this test's account's own, so tests sharing a
    server never see each other's mode or rules. The clock is the server's: only the main
    account moves it (`server.control().advance_clock(…)`)."""
    _numbers: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def phone_number(self, area_code: str = "415") -> str:
        """Provision a number on the account, for use as From."""
        number: str = self.client.incoming_phone_numbers.create(area_code=area_code).phone_number
        self._numbers.append(number)
        return number


@pytest.fixture(scope="session")
def textrelay_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the session's server: a SQLite file in a temporary directory."""
    path = tmp_path_factory.mktemp("textrelay") / "textrelay.db"
    return Settings(database_url=f"sqlite:///{path}")


@pytest.fixture(scope="session")
def textrelay_server(textrelay_settings: Settings) -> Iterator[TextrelayServer]:
    """One textrelay server for the session, on a free port of 127.0.0.1."""
    with TextrelayServer(textrelay_settings) as server:
        yield server


@pytest.fixture
def textrelay(textrelay_server: TextrelayServer) -> Iterator[TextrelayForTest]:
    """A fresh account on the session's server, so each test sees only its own messages."""
    account = textrelay_server.new_account("pytest")
    with textrelay_server.control(account) as control:
        yield TextrelayForTest(
            server=textrelay_server,
            account=account,
            client=textrelay_server.client(account),
            control=control,
        )
