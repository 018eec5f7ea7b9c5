"""SQLite adapter: one writer connection guarded by a lock, one reader connection (WAL).

Statements run on the event loop's thread: SQLite answers a keyed read or a small write in
microseconds, faster than a hop to a worker thread would take, and SQLite allows one writer at
a time anyway. One process owns a SQLite database (DESIGN.md §5); several processes need
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from textrelay.storage.connection import IntegrityConflict, Params, Row, StorageError

_BUSY_TIMEOUT_S = 5.0


class SqliteConnection:
    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params | None = None) -> int:
        try:
            return self._conn.execute(sql, params or {}).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityConflict(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        try:
            row: Row | None = self._conn.execute(sql, params or {}).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return row

    async def fetch_all(self, sql: str, params: Params | None = None) -> Sequence[Row]:
        try:
            rows: Sequence[Row] = self._conn.execute(sql, params or {}).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return rows

    async def execute_script(self, sql: str) -> None:
        # executescript() would COMMIT the surrounding transaction; run statement by statement.
        for statement in _split_statements(sql):
            await self.execute(statement)


def _split_statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _open(path: str, synchronous: str, *, in_memory: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=_BUSY_TIMEOUT_S,
        uri=in_memory,
    )
    conn.row_factory = sqlite3.Row
    if not in_memory:
        conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode keeps every commit across a process crash (kill -9); FULL also
    # across power loss, at one fsync per commit. docs/operations.md explains the choice.
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        in_memory = path == ":memory:"
        if in_memory:
            # Both connections must see one private in-memory database.
            path = f"file:textrelay-{id(self):x}?mode=memory&cache=shared"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = _open(path, synchronous, in_memory=in_memory)
            self._reader = _open(path, synchronous, in_memory=in_memory)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc
            try:
                yield SqliteConnection(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StorageError(str(exc)) from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConnection]:
        yield SqliteConnection(self._reader)

    def exclusive(self) -> AbstractAsyncContextManager[SqliteConnection]:
        # BEGIN IMMEDIATE already takes the database's single write lock.
        return self.transaction()

    async def close(self) -> None:
        self._reader.close()
        self._writer.close()
