"""Cookies that apps set on inbound webhooks, kept per number pair (Twilio keeps them for
four hours; the freshness bound is the caller's)."""

from __future__ import annotations

from datetime import datetime

from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import to_us


class CookieStore(TableStore):
    __slots__ = ()

    async def get(
        self, account_sid: str, local: str, remote: str, *, fresh_since: datetime
    ) -> str | None:
        row = await self._conn.fetch_one(
            "SELECT cookie FROM webhook_cookies WHERE account_sid = :account AND local = :local "
            "AND remote = :remote AND updated_at >= :since",
            {"account": account_sid, "local": local, "remote": remote, "since": to_us(fresh_since)},
        )
        return None if row is None else str(row["cookie"])

    async def keep(
        self, account_sid: str, local: str, remote: str, cookie: str | None, *, at: datetime
    ) -> None:
        """Remember the pair's cookie (None: forget it)."""
        if cookie is None:
            await self._conn.execute(
                "DELETE FROM webhook_cookies WHERE account_sid = :account AND local = :local "
                "AND remote = :remote",
                {"account": account_sid, "local": local, "remote": remote},
            )
            return
        await self._conn.execute(
            "INSERT INTO webhook_cookies (account_sid, local, remote, cookie, updated_at) VALUES "
            "(:account, :local, :remote, :cookie, :at) ON CONFLICT (account_sid, local, remote) "
            "DO UPDATE SET cookie = excluded.cookie, updated_at = excluded.updated_at",
            {
                "account": account_sid,
                "local": local,
                "remote": remote,
                "cookie": cookie,
                "at": to_us(at),
            },
        )
