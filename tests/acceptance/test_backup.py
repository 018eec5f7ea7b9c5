"""`textrelay backup` (issue 15 #6): a SQLite database and its media copied while `serve`
runs, as a user runs the command."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import textrelay
from tests.acceptance.test_cli import TEXTRELAY, serving
from textrelay.control import Control

HANDSET = "+14155550123"


def _backup(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTRELAY_")}
    return subprocess.run(
        [*TEXTRELAY, "backup", *args], capture_output=True, text=True, env=env, timeout=60
    )


def _sids_in(database: Path) -> set[str]:
    with sqlite3.connect(database) as conn:
        return {row[0] for row in conn.execute("SELECT sid FROM messages")}


def test_a_backup_taken_while_serving_holds_what_came_before_it_and_serves_again(
    tmp_path: Path,
) -> None:
    live, copy = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    with serving(live) as started:
        client = textrelay.client(started.base_url, started.account_sid, started.auth_token)
        number = client.incoming_phone_numbers.create(area_code="415").phone_number
        sent = [
            client.messages.create(to=HANDSET, from_=number, body=f"m{i}").sid for i in range(3)
        ]
        with Control(started.base_url, started.account_sid, started.auth_token) as handset:
            received = handset.text(HANDSET, number, "pictured", media=[("image/png", b"png")])

        made = _backup(str(copy), "--database-url", f"sqlite:///{live}")
        after = client.messages.create(to=HANDSET, from_=number, body="after the backup").sid

    assert made.returncode == 0, made.stderr
    assert f"database: {copy}" in made.stdout
    assert f"media:    {copy}-media" in made.stdout
    assert _sids_in(copy) == {*sent, received["sid"]}
    assert after not in _sids_in(copy)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # One self-contained file: no -wal beside it is needed.
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert copy.stat().st_mode & 0o777 == 0o600
    # A server started on the copy finds the messages and, in copy.db-media, their media.
    with serving(copy) as restored:
        client = textrelay.client(restored.base_url, restored.account_sid, restored.auth_token)
        assert client.messages(sent[0]).fetch().body == "m0"
        media = client.messages(received["sid"]).media.list()
        assert len(media) == 1
        assert (Path(f"{copy}-media") / media[0].sid).read_bytes() == b"png"


def test_a_backup_replaces_an_existing_file_only_when_forced(tmp_path: Path) -> None:
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    url = f"sqlite:///{live}"
    with serving(live) as started:
        client = textrelay.client(started.base_url, started.account_sid, started.auth_token)
        number = client.incoming_phone_numbers.create(area_code="415").phone_number
        first = client.messages.create(to=HANDSET, from_=number, body="first").sid
        assert _backup(str(copy), "--database-url", url).returncode == 0
        second = client.messages.create(to=HANDSET, from_=number, body="second").sid

        refused = _backup(str(copy), "--database-url", url)
        kept = _sids_in(copy)
        forced = _backup(str(copy), "--force", "--database-url", url)

    assert refused.returncode == 1
    assert f"{copy} exists: give --force to replace it" in refused.stderr
    assert kept == {first}
    assert forced.returncode == 0, forced.stderr
    assert _sids_in(copy) == {first, second}


def test_a_backup_refuses_to_overwrite_the_database_itself(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    sqlite3.connect(live).close()

    refused = _backup(str(live), "--force", "--database-url", f"sqlite:///{live}")

    assert refused.returncode == 1
    assert "is the database itself" in refused.stderr


def test_a_backup_of_postgresql_points_at_pg_dump(tmp_path: Path) -> None:
    refused = _backup(
        str(tmp_path / "copy.db"), "--database-url", "postgresql://postgres@127.0.0.1:5432/test"
    )

    assert refused.returncode == 1
    assert "pg_dump" in refused.stderr
    assert 'docs/operations.md, "Backup"' in refused.stderr
    assert not (tmp_path / "copy.db").exists()
