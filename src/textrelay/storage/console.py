"""Queries behind the web console's log and phone views. Mixed into Repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from textrelay.domain.messages import Message
from textrelay.storage.connection import Connection, Row
from textrelay.storage.message_rows import message_from_row
from textrelay.storage.timestamps import to_us


@dataclass(frozen=True, slots=True)
class LogFilter:
    direction: str | None = None
    """`inbound`, or `outbound` for every outbound direction."""
    status: str | None = None
    to: str | None = None
    from_: str | None = None
    service_sid: str | None = None
    error_code: int | None = None
    text: str | None = None
    """Found anywhere in the body (case-insensitive on ASCII)."""
    created_from: datetime | None = None
    created_until: datetime | None = None


class ConsoleQueries:
    _conn: Connection

    async def log_page(
        self, account_sid: str, log: LogFilter, *, before_seq: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        """Newest first, from `before_seq` down: keyset-paged, so page 1000 costs what page 1
        costs. Filters that no index serves (text, error code) scan backwards until the page
        is full."""
        where = ["account_sid = :account"]
        params: dict[str, Any] = {"account": account_sid, "limit": limit}
        if before_seq is not None:
            where.append("seq < :before")
            params["before"] = before_seq
        if log.direction == "inbound":
            where.append("direction = 'inbound'")
        elif log.direction == "outbound":
            where.append("direction <> 'inbound'")
        for column, value, name in (
            ("status", log.status, "status"),
            ("to_addr", log.to, "to"),
            ("from_addr", log.from_, "from"),
            ("messaging_service_sid", log.service_sid, "service"),
            ("error_code", log.error_code, "error_code"),
        ):
            if value is not None:
                where.append(f"{column} = :{name}")
                params[name] = value
        if log.text:
            where.append("LOWER(body) LIKE :text")
            escaped = log.text.lower().replace("%", "").replace("_", "")
            params["text"] = f"%{escaped}%"
        if log.created_from is not None:
            where.append("date_created >= :created_from")
            params["created_from"] = to_us(log.created_from)
        if log.created_until is not None:
            where.append("date_created < :created_until")
            params["created_until"] = to_us(log.created_until)
        rows = await self._conn.fetch_all(
            f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT :limit",
            params,
        )
        return [(int(row["seq"]), message_from_row(row)) for row in rows]

    async def recent_handsets(self, account_sid: str, *, limit: int) -> list[str]:
        """Addresses the account has talked with lately (not its own), newest first."""
        rows: list[Row] = list(
            await self._conn.fetch_all(
                "SELECT direction, to_addr, from_addr FROM messages WHERE account_sid = :account "
                "ORDER BY seq DESC LIMIT 2000",
                {"account": account_sid},
            )
        )
        seen: dict[str, None] = {}
        for row in rows:
            other = row["from_addr"] if row["direction"] == "inbound" else row["to_addr"]
            if other:
                seen.setdefault(str(other), None)
            if len(seen) >= limit:
                break
        return list(seen)

    async def change_marker(self) -> tuple[object, ...]:
        """The newest message, status change and webhook attempt: when any of these moves,
        something the console shows has changed (three index lookups)."""
        row = await self._conn.fetch_one(
            "SELECT (SELECT MAX(seq) FROM messages) AS m, "
            "(SELECT MAX(seq) FROM message_events) AS e, "
            "(SELECT MAX(seq) FROM webhook_attempts) AS w"
        )
        return () if row is None else (row["m"], row["e"], row["w"])
