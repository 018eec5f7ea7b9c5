"""pytest plugin: a textrelay server in the test process and, for each test, a fresh account
with a ready twilio client and the read-back helper.

    def test_login_code(textrelay):
        sender = textrelay.phone_number()
        textrelay.client.messages.create(to="+14155550100", from_=sender, body="Code: 123456")
        sms = textrelay.control.wait_for_message("+14155550100", match=r"\\d{6}")
        assert sms["body"].endswith("123456")

Installed with textrelay (entry point `pytest11`); the twilio package comes with
`textrelay[client]`. Override the `textrelay_settings` fixture to change server settings;
the session's data is in memory unless it names a database:

    @pytest.fixture(scope="session")
    def textrelay_settings(tmp_path_factory):
        path = tmp_path_factory.mktemp("textrelay") / "textrelay.db"  # kept after the run
        return Settings(database_url=f"sqlite:///{path}")

pytest loads this module in every run of an environment where textrelay is installed, so it
imports nothing of textrelay until a test asks for one of its fixtures: a run that uses none
pays for this module alone (docs/benchmarks.md, "The pytest plugin's cost").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from twilio.rest import Client

    from textrelay.control import Control
    from textrelay.domain.accounts import Account
    from textrelay.settings import Settings
    from textrelay.testing import TextrelayServer


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
    """SIDs of the numbers provisioned for the test, released when it ends."""

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def phone_number(self, area_code: str = "415") -> str:
        """Provision a number on the account, for use as From."""
        created = self.client.incoming_phone_numbers.create(area_code=area_code)
        self._numbers.append(created.sid)
        return str(created.phone_number)

    def claim_number(self, number: str) -> str:
        """Provision this very number (E.164) on the test's account: for an app whose sender
        is fixed in its configuration. Released when the test ends, so the next test's
        account can claim it too (a number belongs to one account at a time: 21422)."""
        created = self.client.incoming_phone_numbers.create(phone_number=number)
        self._numbers.append(created.sid)
        return str(created.phone_number)

    def release_numbers(self) -> None:
        """Release every number the test provisioned (the fixture does it at teardown)."""
        from twilio.base.exceptions import TwilioRestException

        while self._numbers:
            sid = self._numbers.pop()
            with contextlib.suppress(TwilioRestException):  # the test released it itself
                self.client.incoming_phone_numbers(sid).delete()


@pytest.fixture(scope="session")
def textrelay_settings() -> Settings:
    """Settings of the session's server: an in-memory SQLite database, gone with the session
    (no file to write, nothing left behind; docs/benchmarks.md measures the difference)."""
    from textrelay.settings import Settings

    return Settings(database_url="sqlite:///:memory:")


@pytest.fixture(scope="session")
def textrelay_server(textrelay_settings: Settings) -> Iterator[TextrelayServer]:
    """One textrelay server for the session, on a free port of 127.0.0.1."""
    from textrelay.testing import TextrelayServer

    with TextrelayServer(textrelay_settings) as server:
        yield server


@pytest.fixture
def textrelay(textrelay_server: TextrelayServer) -> Iterator[TextrelayForTest]:
    """A fresh account on the session's server, so each test sees only its own messages."""
    account = textrelay_server.new_account("pytest")
    with textrelay_server.control(account) as control:
        helper = TextrelayForTest(
            server=textrelay_server,
            account=account,
            client=textrelay_server.client(account),
            control=control,
        )
        try:
            yield helper
        finally:
            helper.release_numbers()
