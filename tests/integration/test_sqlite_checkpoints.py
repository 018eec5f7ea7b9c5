"""SQLite's write-ahead log is checkpointed off the event loop and starts over under a steady
stream of commits (storage/sqlite_checkpoints.py): it neither grows without end nor stalls a
COMMIT on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from textrelay.storage import sqlite_checkpoints
from textrelay.storage.sqlite import SqliteDatabase

COMMITS = 400


async def _log_frames(path: Path) -> int:
    """Frames in the log now, as another connection sees them: asked again (up to 2 s) while
    a checkpoint of the database's own thread holds the checkpoint lock (busy)."""
    conn = sqlite3.connect(path)
    try:
        for _ in range(200):
            busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy:
                break
            await asyncio.sleep(0.01)
    finally:
        conn.close()
    assert busy == 0
    return int(frames)


def test_the_log_starts_over_under_a_steady_stream_of_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_checkpoints, "INTERVAL_S", (0.02, 0.02, 0.02))
    path = tmp_path / "textrelay.db"

    async def write() -> tuple[int, int]:
        db = SqliteDatabase(str(path))
        try:
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)")
            for n in range(COMMITS):  # one commit a loop turn, 400 pages or more in all
                async with db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO t VALUES (:n, :body)", {"n": n, "body": "x" * 4000}
                    )
                await asyncio.sleep(0.001)
            return await _log_frames(path), path.stat().st_size
        finally:
            await db.close()

    frames, database_bytes = asyncio.run(write())

    # Every commit wrote a frame or more; far fewer are in the log: it started over.
    assert frames < COMMITS / 2
    # And the rows reached the database file itself (4 KB each), not only the log.
    assert database_bytes > COMMITS * 4000 / 2


def test_without_checkpoints_here_the_log_keeps_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: with checkpoints here never due, SQLite's own (at 100,000 pages) never
    # runs either, and the log holds every commit's frames.
    monkeypatch.setattr(sqlite_checkpoints, "INTERVAL_S", (3600.0, 3600.0, 3600.0))
    path = tmp_path / "textrelay.db"

    async def write() -> int:
        db = SqliteDatabase(str(path))
        try:
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT)")
            for n in range(COMMITS):
                async with db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO t VALUES (:n, :body)", {"n": n, "body": "x" * 4000}
                    )
                await asyncio.sleep(0.001)
            conn2 = sqlite3.connect(path)
            try:
                return int(conn2.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
            finally:
                conn2.close()
        finally:
            await db.close()

    assert asyncio.run(write()) >= COMMITS
