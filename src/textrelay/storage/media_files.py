"""Media bytes on the filesystem, one file per Media SID in one directory.

Several textrelay processes (PostgreSQL) need this directory shared between them
(docs/operations.md). Files are written whole, then renamed into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from textrelay.domain.sids import SidType, is_sid
from textrelay.storage.connection import StorageError


class FileMediaStore:
    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)

    def _path(self, sid: str) -> Path:
        if not is_sid(sid, SidType.MEDIA):
            raise StorageError(f"not a media SID: {sid!r}")
        return self._root / sid

    async def put(self, sid: str, content: bytes) -> None:
        path = self._path(sid)
        await asyncio.to_thread(self._write, path, content)

    def _write(self, path: Path, content: bytes) -> None:
        try:
            # Owner only, like the database: media may be as private as message bodies.
            self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(content)
            os.replace(partial, path)
        except OSError as exc:
            raise StorageError(f"cannot store media {path.name}: {exc}") from exc

    async def get(self, sid: str) -> bytes | None:
        path = self._path(sid)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read media {sid}: {exc}") from exc

    async def delete(self, sid: str) -> None:
        path = self._path(sid)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
