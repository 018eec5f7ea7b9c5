"""Several processes on one SQLite file (storage/sqlite_processes.py): they take turns to write
without stopping their event loops, hear of each other's commits, and only the first to open
the file takes back the claims it finds.

Two SqliteDatabase objects on one file stand for two processes: each has its own connections
and its own open file descriptions, which is what SQLite's locks and flock(2) go by. Where a
turn must be held by another process outright, a child process holds it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from textrelay.storage.migrations import migrate
from textrelay.storage.sqlite import SqliteDatabase
from textrelay.storage.sqlite_processes import WRITE_LOCK_SUFFIX

_HOLD = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextmanager
def turn_held_by_another_process(database: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process holding the database's write turn until the block ends, or until the
    test closes its stdin (`release`)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(database) + WRITE_LOCK_SUFFIX],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "held\n"
        yield child
    finally:
        release(child)


def release(child: subprocess.Popen[str]) -> None:
    """The holder lets go (it ends when its stdin closes)."""
    if child.stdin is not None and not child.stdin.closed:
        child.stdin.close()
    child.wait(10)
    if child.stdout is not None:
        child.stdout.close()


def turn_is_free(database: Path) -> bool:
    fd = os.open(str(database) + WRITE_LOCK_SUFFIX, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing lets go of the lock, if taken
    return True


async def _migrated(path: Path) -> SqliteDatabase:
    db = SqliteDatabase(str(path))
    await migrate(db)
    return db


async def _write_meta(db: SqliteDatabase, key: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (:key, 'x')",
            {"key": key},
        )


def test_waiting_for_anothers_write_turn_keeps_the_loop_serving_and_writes_once_free(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"

    async def scenario() -> tuple[int, bool, float, int]:
        db = await _migrated(path)
        try:
            with turn_held_by_another_process(path) as holder:
                writing = asyncio.create_task(_write_meta(db, "waited"))
                ticks = 0
                for _ in range(20):  # the loop goes on while the write waits
                    await asyncio.sleep(0.01)
                    ticks += 1
                done_while_held = writing.done()
                released = time.monotonic()
                release(holder)
                await asyncio.wait_for(writing, 5)
                waited_after_release = time.monotonic() - released
            assert db._turn is not None
            return ticks, done_while_held, waited_after_release, db._turn.waits
        finally:
            await db.close()

    ticks, done_while_held, after_release_s, waits = asyncio.run(scenario())
    assert ticks == 20
    assert not done_while_held
    assert after_release_s < 1.0  # woken by the release, not by a busy timeout
    assert waits == 1


def test_a_write_cancelled_while_waiting_for_the_turn_gives_it_back(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"

    async def scenario() -> bool:
        db = await _migrated(path)
        try:
            with turn_held_by_another_process(path) as holder:
                writing = asyncio.create_task(_write_meta(db, "cancelled"))
                await asyncio.sleep(0.1)
                writing.cancel()
                await asyncio.sleep(0.1)
                release(holder)
                with pytest.raises(asyncio.CancelledError):
                    await writing
            # Its empty batch commits at the end of the loop turn and gives the turn back.
            for _ in range(100):
                if turn_is_free(path):
                    break
                await asyncio.sleep(0.01)
            else:
                return False
            await _write_meta(db, "after")  # and this process can still write
            return True
        finally:
            await db.close()

    assert asyncio.run(scenario())


def test_two_processes_write_in_turns_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"

    async def scenario() -> int:
        one = await _migrated(path)
        two = SqliteDatabase(str(path))
        try:
            await asyncio.gather(
                *(_write_meta(one if n % 2 else two, f"key-{n}") for n in range(400))
            )
            async with one.read() as conn:
                row = await conn.fetch_one("SELECT COUNT(*) AS n FROM meta WHERE key LIKE 'key-%'")
            assert row is not None
            return int(row["n"])
        finally:
            await two.close()
            await one.close()

    assert asyncio.run(scenario()) == 400


def test_another_process_commit_wakes_a_listener_and_its_own_does_not(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"

    async def scenario() -> tuple[int, int]:
        listener = await _migrated(path)
        other = SqliteDatabase(str(path))
        woken: list[float] = []
        stop = await listener.listen("jobs", lambda: woken.append(time.monotonic()))
        try:
            await asyncio.sleep(0.2)
            await _write_meta(listener, "own")
            await asyncio.sleep(0.3)
            after_own = len(woken)
            await _write_meta(other, "theirs")
            for _ in range(100):
                if len(woken) > after_own:
                    break
                await asyncio.sleep(0.01)
            return after_own, len(woken)
        finally:
            await stop()
            await other.close()
            await listener.close()

    after_own, after_theirs = asyncio.run(scenario())
    assert after_own == 0
    assert after_theirs == 1


def test_a_commit_right_after_listening_begins_is_heard(tmp_path: Path) -> None:
    # The runner listens, then looks at the queue: a job another process commits between the
    # two must still wake it (the version is taken as listening begins, not a tick later).
    path = tmp_path / "shared.db"

    async def scenario() -> int:
        listener = await _migrated(path)
        other = SqliteDatabase(str(path))
        woken: list[float] = []
        stop = await listener.listen("jobs", lambda: woken.append(time.monotonic()))
        try:
            await _write_meta(other, "at once")
            for _ in range(100):
                if woken:
                    break
                await asyncio.sleep(0.01)
            return len(woken)
        finally:
            await stop()
            await other.close()
            await listener.close()

    assert asyncio.run(scenario()) == 1


def test_only_the_first_process_to_open_takes_back_the_claims_it_finds(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"

    async def claimed_job(db: SqliteDatabase) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO jobs (kind, payload, due_at, claim, created_at) "
                "VALUES ('dispatch', '{}', 0, 'a-process', 0)"
            )

    async def claims(db: SqliteDatabase) -> int:
        async with db.read() as conn:
            row = await conn.fetch_one("SELECT COUNT(*) AS n FROM jobs WHERE claim IS NOT NULL")
        assert row is not None
        return int(row["n"])

    async def scenario() -> tuple[int, int, int, int, int]:
        first = await _migrated(path)
        await claimed_job(first)
        # Another process opening beside a live one leaves its claims alone.
        beside = SqliteDatabase(str(path))
        taken_beside, left_beside = beside.claims_taken_back, await claims(beside)
        await beside.close()
        await first.close()
        # Once nobody has the file open, the next to open finds only dead processes' claims.
        after = SqliteDatabase(str(path))
        try:
            return (
                first.claims_taken_back,
                taken_beside,
                left_beside,
                after.claims_taken_back,
                await claims(after),
            )
        finally:
            await after.close()

    assert asyncio.run(scenario()) == (0, 0, 1, 1, 0)
