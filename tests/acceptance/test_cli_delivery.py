"""The delivery commands as a user runs them: `send`, `messages`, `simulate` and `worker`,
each a subprocess talking to a real server.

The simulator's mode and rules belong to a whole server, so the tests that change them start
a server of their own on a fresh SQLite file instead of sharing the session's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio.rest import Client

from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.domain.accounts import Account
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

TEXTRELAY = [sys.executable, "-m", "textrelay"]
COMMAND_TIMEOUT_S = 15.0
MAGIC_SENDER = "+15005550006"  # accepted everywhere, never advances past queued
RECIPIENT = "+14155550199"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTRELAY_")}
    env.update(extra)
    return env


def _connection(server: TextrelayServer, account: Account | None) -> dict[str, str]:
    account = account or server.main_account
    return _env(
        TEXTRELAY_URL=server.base_url,
        TEXTRELAY_ACCOUNT_SID=account.sid,
        TEXTRELAY_AUTH_TOKEN=account.auth_token,
    )


def run(
    server: TextrelayServer, *args: str, account: Account | None = None
) -> subprocess.CompletedProcess[str]:
    """`textrelay ARGS` reaching `server` as `account` (the main one by default) through the
    TEXTRELAY_URL / _ACCOUNT_SID / _AUTH_TOKEN variables."""
    return subprocess.run(
        [*TEXTRELAY, *args],
        capture_output=True,
        text=True,
        env=_connection(server, account),
        timeout=COMMAND_TIMEOUT_S,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for_status(client: Client, sid: str, *statuses: str, timeout_s: float = 10.0) -> Any:
    return eventually(
        lambda: client.messages(sid).fetch(),
        until=lambda message: message.status in statuses,
        timeout_s=timeout_s,
        what=f"{sid} in {' or '.join(statuses)}",
    )


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[TextrelayServer]:
    """A server of this test's own: its simulator settings are nobody else's."""
    with TextrelayServer(Settings(database_url=f"sqlite:///{tmp_path}/t.db")) as running:
        yield running


def _owned_number(client: Client) -> str:
    number: str = client.incoming_phone_numbers.create(area_code="415").phone_number
    return number


# --- send ----------------------------------------------------------------------------------


def test_send_prints_sid_and_status_of_a_message_that_exists(
    server: TextrelayServer, account: Account, client: Client
) -> None:
    result = subprocess.run(
        [
            *TEXTRELAY,
            "send",
            "--to",
            RECIPIENT,
            "--from",
            MAGIC_SENDER,
            "--body",
            "hello from the command line",
            "--url",
            server.base_url,
            "--account-sid",
            account.sid,
            "--auth-token",
            account.auth_token,
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=COMMAND_TIMEOUT_S,
    )

    sid, status = ok(result).split()
    message = client.messages(sid).fetch()
    assert sid.startswith("SM")
    assert status == "queued"
    assert (message.to, message.from_, message.body) == (
        RECIPIENT,
        MAGIC_SENDER,
        "hello from the command line",
    )


def test_the_twilio_libraries_variables_stand_in_for_textrelays_own(
    server: TextrelayServer, account: Account, client: Client
) -> None:
    """TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN, which an app's environment already has, are
    read when TEXTRELAY_ACCOUNT_SID / TEXTRELAY_AUTH_TOKEN are not set; textrelay's win."""
    send = [*TEXTRELAY, "send", "--to", RECIPIENT, "--from", MAGIC_SENDER, "--body", "via twilio"]
    twilio_variables = {"TWILIO_ACCOUNT_SID": account.sid, "TWILIO_AUTH_TOKEN": account.auth_token}
    wrong_twilio_variables = {"TWILIO_ACCOUNT_SID": "AC" + "9" * 32, "TWILIO_AUTH_TOKEN": "9" * 32}
    twilio_only, both = (
        subprocess.run(
            send,
            capture_output=True,
            text=True,
            env=_env(TEXTRELAY_URL=server.base_url, **variables),
            timeout=COMMAND_TIMEOUT_S,
        )
        for variables in (
            twilio_variables,
            {
                **wrong_twilio_variables,
                "TEXTRELAY_ACCOUNT_SID": account.sid,
                "TEXTRELAY_AUTH_TOKEN": account.auth_token,
            },
        )
    )

    for result in (twilio_only, both):
        sid, status = ok(result).split()
        assert client.messages(sid).fetch().body == "via twilio"
        assert status == "queued"


def test_send_json_prints_the_message(
    server: TextrelayServer, account: Account, client: Client
) -> None:
    out = ok(
        run(
            server,
            "send",
            "--json",
            "--to",
            RECIPIENT,
            "--from",
            MAGIC_SENDER,
            "--body",
            "as json",
            "--status-callback",
            "http://127.0.0.1:9/status",
            account=account,
        )
    )

    printed = json.loads(out)
    assert printed["sid"].startswith("SM")
    assert printed["body"] == "as json"
    assert printed["account_sid"] == account.sid
    assert client.messages(printed["sid"]).fetch().body == "as json"


def test_send_to_a_bad_number_prints_twilios_error(
    server: TextrelayServer, account: Account
) -> None:
    result = run(
        server, "send", "--to", "12", "--from", MAGIC_SENDER, "--body", "x", account=account
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error 21211: ")
    assert result.stdout == ""


def test_unreachable_server_is_one_line_and_exit_1() -> None:
    result = subprocess.run(
        [*TEXTRELAY, "simulate", "show", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        env=_env(TEXTRELAY_ACCOUNT_SID="AC" + "0" * 32, TEXTRELAY_AUTH_TOKEN="0" * 32),
        timeout=COMMAND_TIMEOUT_S,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to textrelay at http://127.0.0.1:1")
    assert result.stderr.count("\n") == 1


# --- messages ------------------------------------------------------------------------------


def test_messages_lists_newest_first_with_filters(
    server: TextrelayServer, account: Account, client: Client
) -> None:
    first = client.messages.create(to=RECIPIENT, from_=MAGIC_SENDER, body="first")
    second = client.messages.create(to="+14155550123", from_=MAGIC_SENDER, body="second " * 20)

    listed = ok(run(server, "messages", account=account)).splitlines()
    filtered = ok(run(server, "messages", "--to", RECIPIENT, account=account)).splitlines()

    assert listed[0].split()[:3] == ["SID", "STATUS", "TO"]
    assert [line.split()[0] for line in listed[1:]] == [second.sid, first.sid]
    assert listed[1].split()[1:4] == ["queued", "+14155550123", MAGIC_SENDER]
    assert listed[1].endswith("…")  # a long body is shortened
    assert [line.split()[0] for line in filtered[1:]] == [first.sid]


def test_messages_follow_prints_each_status_change(private_server: TextrelayServer) -> None:
    client = private_server.client()
    ok(run(private_server, "simulate", "mode", "manual"))
    sender = _owned_number(client)
    sid = client.messages.create(to=RECIPIENT, from_=sender, body="followed").sid

    # --timeout bounds the test; once both changes are printed, Ctrl-C ends it.
    command = [*TEXTRELAY, "messages", "--follow", "--interval", "0.1", "--timeout", "12"]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_connection(private_server, None),
    ) as follow:
        assert follow.stdout is not None
        header, first = follow.stdout.readline(), follow.stdout.readline()
        ok(run(private_server, "simulate", "step", sid))
        ok(run(private_server, "simulate", "step", sid))
        changes = [follow.stdout.readline(), follow.stdout.readline()]
        follow.send_signal(signal.SIGINT)
        rest, errors = follow.communicate(timeout=COMMAND_TIMEOUT_S)

    assert follow.returncode == 0, errors
    assert header.startswith("SID ")
    assert first.split()[:2] == [sid, "queued"]
    assert [line.split()[:2] for line in changes] == [[sid, "sent"], [sid, "delivered"]]
    assert rest == ""


# --- simulate ------------------------------------------------------------------------------


def test_manual_mode_moves_only_by_step(private_server: TextrelayServer) -> None:
    client = private_server.client()
    mode = ok(run(private_server, "simulate", "mode", "manual"))
    sender = _owned_number(client)
    sid = client.messages.create(to=RECIPIENT, from_=sender, body="step me").sid
    with private_server.control() as control:
        # A worker has dispatched it, and the carrier's first report waits for a step.
        eventually(
            lambda: control.pending_jobs(sid),
            until=lambda jobs: [job["kind"] for job in jobs] == ["carrier"],
        )
    waiting = client.messages(sid).fetch().status

    first = ok(run(private_server, "simulate", "step", sid))
    after_first = client.messages(sid).fetch().status
    second = ok(run(private_server, "simulate", "step", sid))
    after_second = client.messages(sid).fetch().status
    third = run(private_server, "simulate", "step", sid)

    assert '"mode": "manual"' in mode
    assert waiting == "queued"
    assert (first.strip(), after_first) == (f"{sid} sent", "sent")
    assert (second.strip(), after_second) == (f"{sid} delivered", "delivered")
    assert third.returncode == 1
    assert third.stderr.startswith("error ")


def test_step_straight_to_a_failure(private_server: TextrelayServer) -> None:
    client = private_server.client()
    ok(run(private_server, "simulate", "mode", "manual"))
    sid = client.messages.create(to=RECIPIENT, from_=_owned_number(client), body="x").sid

    out = ok(
        run(private_server, "simulate", "step", sid, "--status", "failed", "--error-code", "30003")
    )

    message = client.messages(sid).fetch()
    assert out.strip() == f"{sid} failed error 30003"
    assert (message.status, message.error_code) == ("failed", 30003)


def test_rule_makes_matching_messages_undelivered(private_server: TextrelayServer) -> None:
    client = private_server.client()
    added = run(
        private_server,
        "simulate",
        "rule",
        "add",
        "--to-prefix",
        "+1555",
        "--outcome",
        "undelivered",
        "--error-code",
        "30007",
        "--name",
        "filtered",
    )
    sender = _owned_number(client)
    matching = client.messages.create(to="+15551234567", from_=sender, body="blocked").sid
    other = client.messages.create(to=RECIPIENT, from_=sender, body="fine").sid

    blocked = wait_for_status(client, matching, "delivered", "undelivered", "failed")
    fine = wait_for_status(client, other, "delivered", "undelivered", "failed")
    shown = ok(run(private_server, "simulate", "show"))
    cleared = ok(run(private_server, "simulate", "rule", "clear"))

    assert '"to_prefix": "+1555"' in ok(added)
    assert (blocked.status, blocked.error_code) == ("undelivered", 30007)
    assert fine.status == "delivered"
    assert '"name": "filtered"' in shown
    assert '"rules": []' in cleared


def test_bad_rule_is_the_servers_error(private_server: TextrelayServer) -> None:
    result = run(
        private_server, "simulate", "rule", "add", "--outcome", "failed", "--to-regex", "("
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error ")
    assert "to_regex" in result.stderr


def test_set_and_load_change_the_settings(private_server: TextrelayServer, tmp_path: Path) -> None:
    settings = tmp_path / "simulator.toml"
    settings.write_text(
        'mode = "timed"\nsend_delay_ms = 10\n\n'
        '[[rules]]\noutcome = "failed"\nbody_prefix = "FAIL"\nerror_code = 30001\n'
    )

    set_out = ok(run(private_server, "simulate", "set", "send_delay_ms=250", "jitter=0"))
    load_out = ok(run(private_server, "simulate", "load", str(settings)))
    unknown = run(private_server, "simulate", "set", "colour=blue")

    assert '"send_delay_ms": 250' in set_out
    assert '"jitter": 0' in set_out
    assert '"mode": "timed"' in load_out
    assert '"send_delay_ms": 10' in load_out
    assert '"jitter": 0.2' in load_out  # load replaces everything not in the file
    assert '"body_prefix": "FAIL"' in load_out
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error 20001: ")


def test_reset_deletes_the_accounts_messages(
    server: TextrelayServer, account: Account, client: Client
) -> None:
    for body in ("one", "two"):
        client.messages.create(to=RECIPIENT, from_=MAGIC_SENDER, body=body)

    out = ok(run(server, "simulate", "reset", account=account))

    assert out.strip() == f"deleted 2 message(s) of {account.sid}"
    assert client.messages.list() == []


# --- worker --------------------------------------------------------------------------------


def test_worker_help_and_bad_settings() -> None:
    help_result = subprocess.run(
        [*TEXTRELAY, "worker", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=COMMAND_TIMEOUT_S,
    )
    bad = subprocess.run(
        [*TEXTRELAY, "worker", "--database-url", "mysql://nowhere"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=COMMAND_TIMEOUT_S,
    )

    assert help_result.returncode == 0
    assert "--worker-concurrency" in help_result.stdout
    assert "--port" not in help_result.stdout
    assert bad.returncode == 2
    assert "--database-url" in bad.stderr


def test_worker_delivers_what_a_server_without_workers_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    with TextrelayServer(Settings(database_url=url, workers=False)) as api_only:
        client = api_only.client()
        sid = client.messages.create(
            to=RECIPIENT, from_=_owned_number(client), body="for the worker"
        ).sid
        # No worker runs here, so no idle pipeline to wait for: the time one would need.
        time.sleep(0.3)
        before = client.messages(sid).fetch().status

        with subprocess.Popen(
            [*TEXTRELAY, "worker", "--database-url", url, "--log-level", "warning"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        ) as worker:
            assert worker.stdout is not None
            banner = worker.stdout.readline()
            delivered = wait_for_status(client, sid, "delivered", "undelivered", "failed")
            worker.send_signal(signal.SIGTERM)
            _, errors = worker.communicate(timeout=COMMAND_TIMEOUT_S)

    assert before == "queued"
    assert banner.strip() == f"textrelay worker: processing jobs from {url}"
    assert delivered.status == "delivered"
    assert worker.returncode == 0, errors


def test_text_sends_as_a_handset_and_waits_for_the_apps_reply(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver, tmp_path: Path
) -> None:
    reply = '<?xml version="1.0"?><Response><Message>pong</Message></Response>'
    number = client.incoming_phone_numbers.create(
        area_code="415", sms_url=receiver.answer("/ping", reply)
    ).phone_number
    picture = tmp_path / "dot.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")

    result = run(
        server,
        "text",
        "--from",
        "+14155550142",
        "--to",
        number,
        "--media",
        str(picture),
        "--wait",
        "5",
        "ping",
        account=account,
    )

    lines = ok(result).splitlines()
    assert lines[0].startswith("MM")
    assert lines[0].endswith(" received")
    assert lines[1].endswith(f"from {number}: pong")
    call = receiver.to_path("/ping")[0]
    assert (call.params["Body"], call.params["MediaContentType0"]) == ("ping", "image/png")
