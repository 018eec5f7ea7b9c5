"""Storage: SQLite and PostgreSQL behind one repository of small stores. Every SQL statement
lives here."""

from __future__ import annotations

from dataclasses import dataclass

from textrelay.storage.connection import (
    ChangeRefused,
    Database,
    IntegrityConflict,
    StorageError,
    Unlisten,
)
from textrelay.storage.migrations import migrate
from textrelay.storage.postgres import PostgresDatabase
from textrelay.storage.repository import Repository, Store
from textrelay.storage.signals import Signal
from textrelay.storage.sqlite import MEMORY, SqliteDatabase

__all__ = [
    "ChangeRefused",
    "Database",
    "DatabaseUrl",
    "IntegrityConflict",
    "Repository",
    "Signal",
    "StorageError",
    "Store",
    "Unlisten",
    "migrate",
    "open_database",
    "parse_database_url",
]


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    dialect: str
    target: str
    """A file path (or `:memory:`) for SQLite; the DSN for PostgreSQL."""

    @property
    def in_memory(self) -> bool:
        """`sqlite:///:memory:`: a database private to the process that opens it, gone when
        it closes (storage/sqlite.py)."""
        return self.dialect == "sqlite" and self.target == MEMORY


def parse_database_url(url: str) -> DatabaseUrl:
    """`sqlite:///relative/path`, `sqlite:////absolute/path`, `sqlite:///:memory:` or
    `postgresql://user@host:port/db` (`postgres://` also). ValueError otherwise."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ValueError("a sqlite URL names a file: sqlite:///path/to/textrelay.db")
        return DatabaseUrl("sqlite", path)
    if url.startswith(("postgresql://", "postgres://")):
        return DatabaseUrl("postgresql", url)
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///path or postgresql://user@host/db"
    )


async def open_database(
    url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10
) -> Database:
    parsed = parse_database_url(url)
    if parsed.dialect == "sqlite":
        return SqliteDatabase(parsed.target, synchronous=sqlite_synchronous)
    return await PostgresDatabase.connect(parsed.target, pool_size=pool_size)
