"""Web console sessions (the cookie's id is stored hashed; domain/console_sessions.py)."""

from __future__ import annotations

from datetime import datetime

from textrelay.domain.console_sessions import ConsoleSession
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class ConsoleSessionStore(TableStore):
    __slots__ = ()

    async def get(self, id_hash: str) -> ConsoleSession | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM console_sessions WHERE id_hash = :id_hash", {"id_hash": id_hash}
        )
        return None if row is None else _session(row)

    async def insert(self, session: ConsoleSession) -> None:
        await self._conn.execute(
            "INSERT INTO console_sessions (id_hash, account_sid, credential, created_at, "
            "expires_at) VALUES (:id_hash, :account, :credential, :created, :expires)",
            {
                "id_hash": session.id_hash,
                "account": session.account_sid,
                "credential": session.credential,
                "created": to_us(session.created_at),
                "expires": to_us(session.expires_at),
            },
        )

    async def delete(self, id_hash: str) -> None:
        await self._conn.execute(
            "DELETE FROM console_sessions WHERE id_hash = :id_hash", {"id_hash": id_hash}
        )

    async def delete_expired(self, now: datetime) -> None:
        await self._conn.execute(
            "DELETE FROM console_sessions WHERE expires_at <= :now", {"now": to_us(now)}
        )


def _session(row: Row) -> ConsoleSession:
    return ConsoleSession(
        id_hash=str(row["id_hash"]),
        account_sid=str(row["account_sid"]),
        credential=str(row["credential"]),
        created_at=from_us(int(row["created_at"])),
        expires_at=from_us(int(row["expires_at"])),
    )
