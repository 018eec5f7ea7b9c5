"""What every store shares: its connection, keyset paging and deletes that keep page tokens
valid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from textrelay.domain.jobs import StatusCallback
from textrelay.domain.paging import InvalidPageToken, PageDirection, PageQuery, PageResult
from textrelay.domain.statuses import MessageStatus
from textrelay.storage.connection import Connection, Row

T = TypeVar("T")


class Changes:
    """What a transaction changed that someone in this process waits for: set by the stores'
    writes, read by the Store after the commit to raise its wake-ups; and the status
    callbacks it promised, held until it ends (`promised`)."""

    __slots__ = ("jobs", "messages", "promised", "statuses")

    def __init__(self) -> None:
        self.jobs = False
        """A job was inserted, released or finished in a way that may free another."""
        self.messages = False
        """A message, its history or its webhook attempts changed."""
        self.statuses: list[tuple[MessageStatus, int | None]] | None = None
        """Each status a message entered (created in it or changed to it), with its error
        code, in order: counted by the metrics once committed. None: none."""
        self.promised: dict[tuple[str, str], tuple[StatusCallback, datetime]] | None = None
        """Status callbacks promised and not yet inserted, by (message SID, URL): each
        becomes one job as the transaction ends (JobStore.promise_callback)."""

    def entered(self, status: MessageStatus, error_code: int | None) -> None:
        if self.statuses is None:
            self.statuses = []
        self.statuses.append((status, error_code))


class TableStore:
    """A view of one kind of data over one connection: cheap to make, holds nothing else."""

    __slots__ = ("_changes", "_conn")

    def __init__(self, conn: Connection, changes: Changes) -> None:
        self._conn = conn
        self._changes = changes

    async def _page(
        self,
        table: str,
        where: list[str],
        params: dict[str, Any],
        query: PageQuery,
        row_to: Callable[[Row], T],
    ) -> PageResult[T]:
        """One page, newest first, seeking from the query's anchor, each row made a `T` by
        `row_to`; and whether more follow."""
        clauses = list(where)
        bound = dict(params, limit=query.page_size + 1)
        order = "DESC"
        backwards = query.anchor is not None and query.anchor.direction is PageDirection.BEFORE
        if query.anchor is not None:
            seq = await self._anchor_seq(table, query.anchor.sid)
            if seq is None:
                raise InvalidPageToken(query.anchor.token)
            clauses.append("seq > :anchor" if backwards else "seq < :anchor")
            bound["anchor"] = seq
            if backwards:
                order = "ASC"
        sql = (
            f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY seq {order} LIMIT :limit"
        )
        rows = list(await self._conn.fetch_all(sql, bound))
        more = len(rows) > query.page_size
        rows = rows[: query.page_size]
        if backwards:
            rows.reverse()
            # A page reached backwards always has the page it came from after it.
            more = True
        return PageResult([row_to(row) for row in rows], more)

    async def _delete_keeping_anchor(self, table: str, sid: str) -> None:
        """Delete a row, remembering its place so a page token naming it stays valid."""
        row = await self._conn.fetch_one(f"SELECT seq FROM {table} WHERE sid = :sid", {"sid": sid})
        if row is None:
            return
        await self._conn.execute(
            "INSERT INTO page_anchors (sid, seq) VALUES (:sid, :seq) ON CONFLICT (sid) DO NOTHING",
            {"sid": sid, "seq": row["seq"]},
        )
        await self._conn.execute(f"DELETE FROM {table} WHERE sid = :sid", {"sid": sid})

    async def _anchor_seq(self, table: str, sid: str) -> int | None:
        row = await self._conn.fetch_one(f"SELECT seq FROM {table} WHERE sid = :sid", {"sid": sid})
        if row is None:
            row = await self._conn.fetch_one(
                "SELECT seq FROM page_anchors WHERE sid = :sid", {"sid": sid}
            )
        return None if row is None else int(row["seq"])
