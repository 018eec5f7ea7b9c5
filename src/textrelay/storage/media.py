"""Media records: what each attachment of a message is (its bytes live in a MediaStore)."""

from __future__ import annotations

from textrelay.domain.media import Media
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class MediaRecordStore(TableStore):
    __slots__ = ()

    async def insert(self, media: Media) -> None:
        await self._conn.execute(
            "INSERT INTO media (sid, account_sid, message_sid, content_type, size_bytes, "
            "source_url, date_created, date_updated) VALUES (:sid, :account_sid, :message_sid, "
            ":content_type, :size_bytes, :source_url, :date_created, :date_updated)",
            {
                "sid": media.sid,
                "account_sid": media.account_sid,
                "message_sid": media.message_sid,
                "content_type": media.content_type,
                "size_bytes": media.size_bytes,
                "source_url": media.source_url,
                "date_created": to_us(media.date_created),
                "date_updated": to_us(media.date_updated),
            },
        )

    async def get(self, sid: str) -> Media | None:
        row = await self._conn.fetch_one("SELECT * FROM media WHERE sid = :sid", {"sid": sid})
        return None if row is None else _media(row)

    async def of_message(self, message_sid: str) -> list[Media]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM media WHERE message_sid = :sid ORDER BY seq", {"sid": message_sid}
        )
        return [_media(row) for row in rows]

    async def page(self, message_sid: str, query: PageQuery) -> PageResult[Media]:
        return await self._page(
            "media", ["message_sid = :message"], {"message": message_sid}, query, _media
        )

    async def sids_of_account(self, account_sid: str) -> list[str]:
        rows = await self._conn.fetch_all(
            "SELECT sid FROM media WHERE account_sid = :account", {"account": account_sid}
        )
        return [str(row["sid"]) for row in rows]

    async def delete(self, sid: str) -> None:
        await self._conn.execute("DELETE FROM media WHERE sid = :sid", {"sid": sid})


def _media(row: Row) -> Media:
    return Media(
        sid=row["sid"],
        account_sid=row["account_sid"],
        message_sid=row["message_sid"],
        content_type=row["content_type"],
        size_bytes=int(row["size_bytes"]),
        source_url=row["source_url"],
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )
