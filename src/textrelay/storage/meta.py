"""Server-wide key/value settings kept in the database (the main account, the simulator's
settings)."""

from __future__ import annotations

from textrelay.storage.tables import TableStore


class MetaStore(TableStore):
    __slots__ = ()

    async def get(self, key: str) -> str | None:
        row = await self._conn.fetch_one("SELECT value FROM meta WHERE key = :key", {"key": key})
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        await self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (:key, :value) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            {"key": key, "value": value},
        )

    async def add(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there already; the value stored (this one,
        or the one another process stored first)."""
        await self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING",
            {"key": key, "value": value},
        )
        stored = await self.get(key)
        assert stored is not None
        return stored
