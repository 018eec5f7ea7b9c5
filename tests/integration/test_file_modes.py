"""Files that hold secrets are created readable by their owner only: the SQLite database
(auth tokens in clear, docs/operations.md) with its -wal and -shm files, and the media
directory. PostgreSQL keeps its data in its own files, so these are SQLite's and the media
store's alone."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from textrelay.storage import migrate, open_database
from textrelay.storage.media_files import FileMediaStore

MEDIA_SID = "ME" + "ab" * 16


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start with, which makes files 0644 unless told otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_the_files_beside_it_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private" / "textrelay.db"

    async def create_and_look() -> dict[str, int]:
        db = await open_database(f"sqlite:///{path}")
        try:
            await migrate(db)
            # The -wal and -shm files exist while a connection is open.
            return {p.name: _mode(p) for p in path.parent.iterdir()}
        finally:
            await db.close()

    modes = asyncio.run(create_and_look())

    assert modes == {
        "textrelay.db": 0o600,
        "textrelay.db-wal": 0o600,
        "textrelay.db-shm": 0o600,
        # The processes' write turn and membership (storage/sqlite_processes.py).
        "textrelay.db-textrelay-write": 0o600,
        "textrelay.db-textrelay-members": 0o600,
    }
    assert _mode(path.parent) == 0o700


def test_an_existing_database_open_to_others_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)

    async def open_and_close() -> None:
        db = await open_database(f"sqlite:///{path}")
        await db.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(open_and_close())

    assert f"{path} is open to other users than its owner (mode 644)" in caplog.text
    assert _mode(path) == 0o644  # the operator's file: named, not changed


def test_media_files_and_their_directory_are_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "textrelay.db-media"
    store = FileMediaStore(root)

    asyncio.run(store.put(MEDIA_SID, b"\x89PNG picture"))

    assert (root / MEDIA_SID).read_bytes() == b"\x89PNG picture"
    assert _mode(root / MEDIA_SID) == 0o600
    assert _mode(root) == 0o700
