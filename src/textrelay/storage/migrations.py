"""Numbered migrations: `migrations/<dialect>/NNNN_name.sql`, applied once each, in order.

A landed migration is never edited; a change to the schema is a new file for each dialect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources

from textrelay.storage.connection import Connection, Database
from textrelay.storage.tables import TableStore

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available(dialect: str) -> list[Migration]:
    folder = resources.files("textrelay.storage") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


async def applied_versions(conn: Connection) -> set[int]:
    rows = await conn.fetch_all("SELECT version FROM schema_migrations")
    return {int(row["version"]) for row in rows}


async def migrate(db: Database, *, up_to: int | None = None) -> list[Migration]:
    """Apply every migration not yet applied (up to version `up_to`, if given: tests of an
    upgrade start from an older schema); the ones applied now, in order.

    Runs under the database's migration lock, so processes starting together apply each
    migration once.
    """
    applied_now = []
    async with db.exclusive() as conn:
        await conn.execute(_CREATE_LEDGER)
        done = await applied_versions(conn)
        for migration in available(db.dialect):
            if migration.version in done:
                continue
            if up_to is not None and migration.version > up_to:
                break
            await conn.execute_script(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) "
                "VALUES (:version, :name, :at)",
                {
                    "version": migration.version,
                    "name": migration.name,
                    "at": time.time_ns() // 1000,
                },
            )
            applied_now.append(migration)
    return applied_now


class SchemaStore(TableStore):
    """The schema's own state, for readiness checks."""

    __slots__ = ()

    async def pending(self) -> list[int]:
        """Versions this textrelay has and the database has not applied (none once
        migrated)."""
        applied = await applied_versions(self._conn)
        return [m.version for m in available(self._conn.dialect) if m.version not in applied]
