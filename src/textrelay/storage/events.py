"""The status history of messages: one row per status change."""

from __future__ import annotations

from datetime import datetime

from textrelay.domain.messages import Message, MessageEvent
from textrelay.domain.statuses import MessageStatus
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class EventStore(TableStore):
    __slots__ = ()

    async def insert(
        self,
        message_sid: str,
        status: MessageStatus,
        error_code: int | None,
        at: datetime,
        *,
        previous: MessageStatus,
    ) -> None:
        await self._conn.insert_later(
            "INSERT INTO message_events (message_sid, status, previous_status, error_code, "
            "occurred_at) VALUES (:sid, :status, :previous, :error_code, :at)",
            {
                "sid": message_sid,
                "status": status.value,
                "previous": previous.value,
                "error_code": error_code,
                "at": to_us(at),
            },
        )
        self._changes.messages = True
        self._changes.entered(status, error_code)

    async def of_message(self, message: Message) -> list[MessageEvent]:
        """The message's statuses in order, its initial one (at creation) first."""
        rows = await self._conn.fetch_all(
            "SELECT status, previous_status, error_code, occurred_at FROM message_events "
            "WHERE message_sid = :sid ORDER BY seq",
            {"sid": message.sid},
        )
        initial = MessageStatus(rows[0]["previous_status"]) if rows else message.status
        return [
            MessageEvent(initial, None, message.date_created),
            *(
                MessageEvent(MessageStatus(r["status"]), r["error_code"], from_us(r["occurred_at"]))
                for r in rows
            ),
        ]
