"""Opt-outs: which recipients texted STOP to which senders (a number, or a whole service)."""

from __future__ import annotations

from datetime import datetime

from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class OptOutStore(TableStore):
    __slots__ = ()

    async def any(self) -> bool:
        row = await self._conn.fetch_one("SELECT EXISTS (SELECT 1 FROM opt_outs) AS found")
        return row is not None and bool(row["found"])

    async def scopes_of(self, recipient: str) -> set[str]:
        """The sender scopes `recipient` has opted out of (usually none: one index probe)."""
        rows = await self._conn.fetch_all(
            "SELECT sender_scope FROM opt_outs WHERE recipient = :recipient",
            {"recipient": recipient},
        )
        return {str(row["sender_scope"]) for row in rows}

    async def update(
        self, recipient: str, sender_scope: str, account_sid: str, *, at: datetime | None
    ) -> None:
        """Record an opt-out (`at`), or lift it (`at` None)."""
        if at is None:
            await self._conn.execute(
                "DELETE FROM opt_outs WHERE recipient = :recipient AND sender_scope = :scope",
                {"recipient": recipient, "scope": sender_scope},
            )
            return
        await self._conn.execute(
            "INSERT INTO opt_outs (recipient, sender_scope, account_sid, opted_out_at) VALUES "
            "(:recipient, :scope, :account, :at) ON CONFLICT (recipient, sender_scope) DO NOTHING",
            {
                "recipient": recipient,
                "scope": sender_scope,
                "account": account_sid,
                "at": to_us(at),
            },
        )

    async def of_account(self, account_sid: str) -> list[tuple[str, str, datetime]]:
        """(recipient, sender scope, when) of the opt-outs recorded for the account."""
        rows = await self._conn.fetch_all(
            "SELECT recipient, sender_scope, opted_out_at FROM opt_outs "
            "WHERE account_sid = :account ORDER BY opted_out_at",
            {"account": account_sid},
        )
        return [(r["recipient"], r["sender_scope"], from_us(r["opted_out_at"])) for r in rows]
