"""`textrelay backup`: a consistent copy of a SQLite database and its media, taken while the
server runs.

SQLite's online backup API copies every page in one step under a read transaction: in WAL
mode readers do not block the server's writer, and the copy is the database as of one commit.
PostgreSQL has pg_dump for this (docs/operations.md, "Backup").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from textrelay.storage.connection import StorageError


@dataclass(frozen=True, slots=True)
class Backup:
    database: Path
    media: Path | None
    """The copy of the media directory (the database path + "-media"), or None when the
    server had no media directory yet."""


def backup_sqlite(source: str, destination: str, *, media_dir: str, force: bool) -> Backup:
    """Copy the SQLite database at `source` to `destination`, then the media files of
    `media_dir` to `destination` + "-media" (where a server on the copy looks for them by
    default). Refuses an existing destination unless `force`. StorageError says why not."""
    target = Path(destination)
    media_target = Path(f"{destination}-media")
    if not os.path.exists(source):
        raise StorageError(f"no SQLite database at {source}")
    if target.resolve() == Path(source).resolve():
        raise StorageError(f"{destination} is the database itself")
    if media_target.resolve() == Path(media_dir).resolve():
        raise StorageError(f"{media_target} is the media directory itself")
    if not force:
        for existing in (target, media_target):
            if existing.exists():
                raise StorageError(f"{existing} exists: give --force to replace it")
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copy_database(source, partial)
        os.replace(partial, target)
        media = _copy_media(Path(media_dir), media_target)
    except (sqlite3.Error, OSError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise StorageError(f"backup to {destination} failed: {exc}") from exc
    return Backup(target, media)


def _copy_database(source: str, partial: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    # Owner only, like the database: the copy holds auth tokens and message bodies.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    live = sqlite3.connect(source)
    try:
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)
            # The copied header says WAL; a backup is one self-contained file.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        live.close()


def _copy_media(media: Path, target: Path) -> Path | None:
    """Taken after the database: every media row in the copy has its file, unless the media
    was deleted in between (its row then answers 404, as after any lost file)."""
    if target.exists():
        shutil.rmtree(target)
    if not media.is_dir():
        return None
    shutil.copytree(media, target, ignore=shutil.ignore_patterns("*.partial"))
    os.chmod(target, 0o700)
    return target
