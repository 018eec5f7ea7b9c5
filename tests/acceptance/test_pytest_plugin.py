"""The pytest plugin as users meet it: the README's example, word for word."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import textrelay
from tests.waiting import eventually
from textrelay.app import Runtime
from textrelay.pytest_plugin import TextrelayForTest
from textrelay.settings import Settings
from textrelay.storage import Database, open_database
from textrelay.testing import TextrelayServer

TEXTRELAY = [sys.executable, "-m", "textrelay"]


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


# --- the in-memory database the plugin's server uses (issue 16 #4) ------------------------


def test_the_sessions_server_keeps_its_database_in_memory(
    textrelay_server: TextrelayServer,
) -> None:
    async def main_file(runtime: Runtime) -> list[str]:
        async with runtime.database.read() as conn:
            listed = await conn.fetch_all("PRAGMA database_list")
        return [row["file"] for row in listed if row["name"] == "main"]

    assert textrelay_server.settings.database_url == "sqlite:///:memory:"
    assert textrelay_server.call(main_file) == [""]  # SQLite names no file


def test_messages_sent_through_twilio_are_read_back_and_delivered_from_memory(
    textrelay: TextrelayForTest,
) -> None:
    """Creates from several threads while the workers deliver: reads meet transactions in
    every state, where a reader beside an open group commit used to fail ("table locked")."""
    sender = textrelay.phone_number()

    def send(index: int) -> str:
        to = f"+1415555{index:04d}"
        return str(textrelay.client.messages.create(to=to, from_=sender, body=f"#{index}").sid)

    with ThreadPoolExecutor(4) as pool:
        sids = list(pool.map(send, range(20)))
        fetched = list(pool.map(lambda sid: textrelay.client.messages(sid).fetch(), sids))

    assert [m.body for m in fetched] == [f"#{i}" for i in range(20)]
    assert {m.sid for m in textrelay.client.messages.list()} == set(sids)
    assert {textrelay.control.wait_until_final(sid) for sid in sids} == {"delivered"}


def test_a_transaction_in_memory_is_committed_when_it_ends_and_private_to_its_database() -> None:
    async def scenario() -> tuple[int, int, int]:
        first = await open_database("sqlite:///:memory:")
        other = await open_database("sqlite:///:memory:")

        async def write(db: Database, x: int, *, fail: bool = False) -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (:x)", {"x": x})
                if fail:
                    raise ValueError("undone")

        async def count(db: Database) -> int:
            async with db.read() as conn:
                row = await conn.fetch_one("SELECT count(*) AS n FROM t")
            assert row is not None
            return int(row["n"])

        for db in (first, other):
            async with db.transaction() as tx:
                await tx.execute("CREATE TABLE t (x INTEGER)")
        writing = asyncio.create_task(write(first, 1))
        await asyncio.sleep(0)  # the write ran; a group commit would still hold its COMMIT
        seen_at_once = await count(first)
        await writing
        with pytest.raises(ValueError, match="undone"):
            await write(first, 2, fail=True)
        after_failure = await count(first)
        in_other = await count(other)
        await first.close()
        await other.close()
        return seen_at_once, after_failure, in_other

    assert asyncio.run(scenario()) == (1, 1, 0)


def test_serve_takes_an_in_memory_database_and_leaves_no_file(tmp_path: Path) -> None:
    command = [*TEXTRELAY, "serve", "--port", "0", "--database-url", "sqlite:///:memory:"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTRELAY_")}
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    try:
        banner = [process.stdout.readline() for _ in range(6)]
        output = "".join(banner)
        base = re.search(r"listening on (http://\S+)", output)
        sid = re.search(r"account sid: (AC[0-9a-f]{32})", output)
        token = re.search(r"auth token:\s+([0-9a-f]{32}) \(new", output)  # new every start
        assert base, output
        assert sid, output
        assert token, output
        assert "database:    sqlite:///:memory:" in output
        client = textrelay.client(base[1], sid[1], token[1])
        sender = client.incoming_phone_numbers.create(area_code="415").phone_number
        sent = client.messages.create(to="+14155550100", from_=sender, body="hi")
        status = eventually(
            lambda: client.messages(sent.sid).fetch().status,
            until=lambda s: s == "delivered",
            timeout_s=10,
            what="delivered",
        )
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()

    assert status == "delivered"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["worker"], ["credentials"], ["backup", "copy.db"]])
def test_other_processes_refuse_an_in_memory_database(command: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [*TEXTRELAY, *command, "--database-url", "sqlite:///:memory:"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "cannot reach sqlite:///:memory:, which lives inside the one" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_without_workers_refuses_an_in_memory_database() -> None:
    server = TextrelayServer(Settings(database_url="sqlite:///:memory:", workers=False))
    with pytest.raises(RuntimeError) as failure:
        server.start()

    assert "serve without workers needs a `textrelay worker`" in str(failure.value.__cause__)
