"""The `textrelay` command as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import textrelay
from tests.waiting import eventually

TEXTRELAY = [sys.executable, "-m", "textrelay"]
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Started:
    base_url: str
    account_sid: str
    auth_token: str
    output: str


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTRELAY_")}
    env.update(extra)
    return env


def _credentials(db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TEXTRELAY, "credentials", "--database-url", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=30,
    )


@contextmanager
def serving(db: Path, *args: str, **env: str) -> Iterator[Started]:
    """`textrelay serve` on a free port, until its banner names the account; the credentials
    as `textrelay credentials` prints them (the banner shows the token only when new)."""
    command = [*TEXTRELAY, "serve", "--port", "0", "--database-url", f"sqlite:///{db}", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(**env)
    )
    assert process.stdout is not None
    lines: list[str] = []

    def next_line() -> str:
        assert process.stdout is not None
        lines.append(process.stdout.readline())
        return lines[-1]

    try:
        # Until the banner's last line, or the end of the output (the process died).
        eventually(
            next_line,
            until=lambda line: not line or "python:" in line,
            timeout_s=START_TIMEOUT_S,
            interval_s=0,
            what="the banner's python line",
        )
        output = "".join(lines)
        base = re.search(r"listening on (http://\S+)", output)
        assert base, output
        printed = _credentials(db, **env).stdout
        sid = re.search(r"account sid: (AC[0-9a-f]{32})", printed)
        token = re.search(r"auth token:\s+([0-9a-f]{32})", printed)
        assert sid, printed
        assert token, printed
        assert f"account sid: {sid.group(1)}" in output
        yield Started(base.group(1), sid.group(1), token.group(1), output)
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def test_serve_prints_url_and_credentials_that_work(tmp_path: Path) -> None:
    with serving(tmp_path / "a.db") as started:
        client = textrelay.client(started.base_url, started.account_sid, started.auth_token)
        account = client.api.v2010.accounts(started.account_sid).fetch()

    assert started.base_url.startswith("http://127.0.0.1:")
    assert account.sid == started.account_sid
    assert account.status == "active"


def test_generated_main_account_is_kept_across_restarts(tmp_path: Path) -> None:
    with serving(tmp_path / "b.db") as first:
        pass
    with serving(tmp_path / "b.db") as second:
        pass

    assert (second.account_sid, second.auth_token) == (first.account_sid, first.auth_token)


def test_the_banner_shows_the_auth_token_once_when_it_is_generated(tmp_path: Path) -> None:
    with serving(tmp_path / "once.db") as first:
        pass
    with serving(tmp_path / "once.db") as second:
        pass

    token = first.auth_token
    assert f"auth token:  {token} (new: shown this once)" in first.output
    assert f'"{first.account_sid}", "{token}")' in first.output
    assert token not in second.output
    assert "auth token:  not shown; `textrelay credentials` prints it" in second.output
    assert f'"{first.account_sid}", os.environ["TEXTRELAY_AUTH_TOKEN"])' in second.output


def test_a_token_from_the_environment_is_never_printed_by_serve(tmp_path: Path) -> None:
    token = "3" * 32
    with serving(tmp_path / "env.db", TEXTRELAY_AUTH_TOKEN=token) as started:
        pass

    assert started.auth_token == token
    assert token not in started.output


def test_credentials_prints_the_main_account_and_creates_nothing(tmp_path: Path) -> None:
    missing = _credentials(tmp_path / "none.db")
    with serving(tmp_path / "cred.db") as started:
        pass
    printed = _credentials(tmp_path / "cred.db")

    assert missing.returncode == 1
    assert "no main account in sqlite:///" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    assert printed.returncode == 0
    assert printed.stdout.splitlines() == [
        f"account sid: {started.account_sid}",
        f"auth token:  {started.auth_token}",
    ]


def test_a_secret_given_as_a_flag_is_warned_about(tmp_path: Path) -> None:
    token = "4" * 32
    with serving(
        tmp_path / "flag.db", "--auth-token", token, "--console-password", "hunter2"
    ) as started:
        pass
    client = subprocess.run(
        [*TEXTRELAY, "messages", "--url", "http://127.0.0.1:1", "--auth-token", token],
        capture_output=True,
        text=True,
        env=_env(TEXTRELAY_ACCOUNT_SID="AC" + "5" * 32),
        timeout=30,
    )
    from_variable = subprocess.run(
        [*TEXTRELAY, "messages", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        env=_env(TEXTRELAY_ACCOUNT_SID="AC" + "5" * 32, TEXTRELAY_AUTH_TOKEN=token),
        timeout=30,
    )

    assert started.auth_token == token
    for flag, variable in [
        ("--auth-token", "TEXTRELAY_AUTH_TOKEN"),
        ("--console-password", "TEXTRELAY_CONSOLE_PASSWORD"),
    ]:
        assert (
            f"warning: {flag} shows a secret to every user of this machine (ps); "
            f"set {variable} instead"
        ) in started.output
    assert (
        "warning: --auth-token shows a secret to every user of this machine (ps); "
        "set TEXTRELAY_AUTH_TOKEN instead"
    ) in client.stderr
    assert "warning:" not in from_variable.stderr


def test_environment_fixes_the_main_account(tmp_path: Path) -> None:
    sid, token = "AC" + "1" * 32, "2" * 32
    with serving(
        tmp_path / "c.db", TEXTRELAY_ACCOUNT_SID=sid, TEXTRELAY_AUTH_TOKEN=token
    ) as started:
        client = textrelay.client(started.base_url, sid, token)
        message = client.messages.create(to="+14155550199", from_="+15005550006", body="hi")

    assert (started.account_sid, started.auth_token) == (sid, token)
    assert message.status == "queued"


def test_bad_setting_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TEXTRELAY, "serve", "--database-url", f"sqlite:///{tmp_path}/d.db"],
        capture_output=True,
        text=True,
        env=_env(TEXTRELAY_AUTH_TOKEN="not-hex"),
        timeout=30,
    )

    assert result.returncode == 2
    assert "TEXTRELAY_AUTH_TOKEN" in result.stderr


def test_migrate_applies_then_reports_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/e.db"
    first = subprocess.run(
        [*TEXTRELAY, "migrate", "--database-url", url], capture_output=True, text=True, timeout=30
    )
    second = subprocess.run(
        [*TEXTRELAY, "migrate"],
        capture_output=True,
        text=True,
        env=_env(TEXTRELAY_DATABASE_URL=url),
        timeout=30,
    )

    assert first.returncode == 0
    assert "applied: 0001_initial" in first.stdout
    assert second.stdout.strip() == "database is up to date"


def test_a_misspelt_setting_variable_is_named_not_silently_ignored(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TEXTRELAY, "migrate"],
        capture_output=True,
        text=True,
        env=_env(
            TEXTRELAY_DATABASE_URL=f"sqlite:///{tmp_path}/w.db",
            TEXTRELAY_WORKRS="false",
            TEXTRELAY_URL="http://127.0.0.1:1",  # the client commands' own: no warning
        ),
        timeout=30,
    )

    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: TEXTRELAY_WORKRS is not a textrelay setting and is ignored "
        "(did you mean TEXTRELAY_WORKERS?)"
    ]


@pytest.mark.parametrize(
    ("sid", "code", "expected"),
    [
        ("SM" + "d" * 32, 0, ["names:       Message (SMS)", "well-formed: yes"]),
        ("MG" + "A" * 32, 0, ["names:       Messaging Service"]),
        ("SM123", 1, ["well-formed: no", "34 characters"]),
        ("ZZ" + "0" * 32, 1, ["not one textrelay knows"]),
    ],
)
def test_sid_explain(sid: str, code: int, expected: list[str]) -> None:
    result = subprocess.run(
        [*TEXTRELAY, "sid", "explain", sid], capture_output=True, text=True, timeout=30
    )

    assert result.returncode == code
    for text in expected:
        assert text in result.stdout


def test_installed_command_matches_module() -> None:
    command = Path(sys.executable).with_name("textrelay")
    result = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0
    assert textrelay.__version__ in result.stdout
