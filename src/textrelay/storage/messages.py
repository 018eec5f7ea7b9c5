"""Messages: the API's Messages resource, the read-back and console queries over it, and the
status writes of the delivery pipeline.

A message owns its jobs, status history, webhook attempts and media rows: deleting it deletes
them first (its jobs are found through its row).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from textrelay.domain.jobs import JobPayload
from textrelay.domain.messages import LogFilter, Message, MessageFilter
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.retention import SweptBatch
from textrelay.domain.statuses import MessageStatus
from textrelay.storage.connection import Row
from textrelay.storage.jobs import JOBS_CHANNEL, JobStore, job_params
from textrelay.storage.message_rows import message_from_row, message_params
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us

_OWNED_BY_MESSAGE = (
    "message_events",
    "webhook_attempts",
    "media",
    "carrier_references",
    "carrier_log",
)
"""Tables whose rows belong to one message and go with it (what a carrier exchanged for it
included: the log holds its text)."""

# The oldest messages past a cutoff, except those with a send still to make (a dispatch job:
# a SendAt up to 35 days ahead, or a send being retried; work its client asked for) or with a
# job in a worker's hands (claimed: it would finish against nothing). Their other jobs report
# on a message past its retention and go with it. The anti-join is one lookup in
# jobs_message_seq per message; the order is messages_date_created's.
_SWEEPABLE = (
    "SELECT seq, sid FROM messages m WHERE date_created < :cutoff AND NOT EXISTS "
    "(SELECT 1 FROM jobs j WHERE j.message_seq = m.seq "
    "AND (j.kind = 'dispatch' OR j.claim IS NOT NULL)) "
    "ORDER BY date_created LIMIT :limit"
)
# PostgreSQL: rows another transaction holds (a status change, another node's sweep) are
# skipped, not waited for, so sweeps on several nodes take different batches. Any other lock
# is waited for at most this long, below PostgreSQL's deadlock_timeout (1 s): in a lock cycle
# (a late receipt for a message being swept) the sweep is the one that fails and rolls back,
# never the request or job it met; its messages are taken by a later sweep.
_SWEEP_LOCK_TIMEOUT = "200ms"


# PostgreSQL: the message, its job (by the seq the insert returns: a row inserted by a data-
# modifying CTE is not visible to a subselect of the same statement) and the NOTIFY that
# wakes other processes' workers, delivered when the statement commits.
_INSERT_MESSAGE = (
    "INSERT INTO messages (sid, account_sid, direction, status, from_addr, to_addr, "
    "body, num_segments, num_media, messaging_service_sid, error_code, error_message, "
    "price, price_unit, tags, options, date_created, date_updated, date_sent) VALUES "
    "(:sid, :account_sid, :direction, :status, :from_addr, :to_addr, :body, "
    ":num_segments, :num_media, :messaging_service_sid, :error_code, :error_message, "
    ":price, :price_unit, :tags, :options, :date_created, :date_updated, :date_sent)"
)
_JOB_ROW = (
    "(CAST(:kind_{i} AS TEXT), CAST(:payload_{i} AS TEXT), CAST(:due_at_{i} AS BIGINT), "
    "CAST(:created_at_{i} AS BIGINT), CAST(:host_{i} AS TEXT))"
)


@lru_cache(maxsize=8)
def _insert_with_jobs(count: int) -> str:
    """PostgreSQL: the message and `count` jobs of it in one statement (the jobs take the
    message's seq from its INSERT), waking other processes' workers."""
    rows = ", ".join(_JOB_ROW.format(i=i) for i in range(count))
    return (
        f"WITH m AS ({_INSERT_MESSAGE} RETURNING seq), "
        "j AS (INSERT INTO jobs (kind, message_sid, message_seq, payload, due_at, created_at, "
        "host) SELECT v.kind, CAST(:sid AS TEXT), m.seq, v.payload, v.due_at, v.created_at, "
        f"v.host FROM m, (VALUES {rows}) AS v (kind, payload, due_at, created_at, host) "
        "RETURNING 1) "
        f"SELECT pg_notify('{JOBS_CHANNEL}', :notify_origin) FROM j LIMIT 1"
    )


class MessageStore(TableStore):
    __slots__ = ()

    # --- the resource ----------------------------------------------------------------------

    async def insert(self, message: Message, *, created_as: MessageStatus | None = None) -> None:
        """Insert `message`. `created_as`: the status it was created in, when this
        transaction also moved it on from there (its history rows say how), so that the
        metrics count the status it entered at creation."""
        await self._conn.execute(_INSERT_MESSAGE, message_params(message))
        self._inserted(message, created_as)

    async def insert_with_job(
        self, message: Message, payload: JobPayload, *, due_at: datetime, now: datetime
    ) -> None:
        """The message and the job that sends it (the outbox), committed together."""
        await self.insert_with_jobs(message, [(payload, due_at)], now=now)

    async def insert_with_jobs(
        self,
        message: Message,
        jobs: Sequence[tuple[JobPayload, datetime | None]],
        *,
        now: datetime,
        created_as: MessageStatus | None = None,
    ) -> None:
        """The message and its jobs (payload, due; None: parked), committed together
        (`created_as`: see insert). On PostgreSQL one statement, run by
        `Store.single_statement()` without BEGIN and COMMIT, carrying the rows held before
        it (the message's history): one round trip where inserts in a transaction took four
        or more. On SQLite, inserts in the caller's transaction (group commit makes them
        cheap)."""
        if self._conn.dialect != "postgresql" or not jobs:
            await self.insert(message, created_as=created_as)
            for payload, due_at in jobs:
                await JobStore(self._conn, self._changes).insert(
                    message.sid, payload, due_at=due_at, now=now
                )
            return
        params = {**message_params(message), "notify_origin": self._conn.notify_origin}
        for i, (payload, due_at) in enumerate(jobs):
            job = job_params(message.sid, payload, due_at=due_at, now=now)
            for name in ("kind", "payload", "due_at", "created_at", "host"):
                params[f"{name}_{i}"] = job[name]
        await self._conn.execute(_insert_with_jobs(len(jobs)), params)
        self._changes.jobs = True
        self._inserted(message, created_as)

    def _inserted(self, message: Message, created_as: MessageStatus | None) -> None:
        """A message was inserted: the status it entered at creation counts (see insert)."""
        self._changes.messages = True
        if created_as is None:
            self._changes.entered(message.status, message.error_code)
        else:
            self._changes.entered(created_as, None)

    async def update(self, message: Message) -> None:
        await self._conn.execute(
            "UPDATE messages SET status = :status, from_addr = :from_addr, body = :body, "
            "num_segments = :num_segments, num_media = :num_media, "
            "messaging_service_sid = :messaging_service_sid, error_code = :error_code, "
            "error_message = :error_message, price = :price, price_unit = :price_unit, "
            "tags = :tags, options = :options, date_updated = :date_updated, "
            "date_sent = :date_sent WHERE sid = :sid",
            message_params(message),
        )
        self._changes.messages = True

    async def get(self, sid: str) -> Message | None:
        row = await self._conn.fetch_one("SELECT * FROM messages WHERE sid = :sid", {"sid": sid})
        return None if row is None else message_from_row(row)

    async def delete(self, message: Message) -> None:
        await self._conn.execute(
            "DELETE FROM jobs WHERE message_seq = (SELECT seq FROM messages WHERE sid = :sid)",
            {"sid": message.sid},
        )
        for table in _OWNED_BY_MESSAGE:
            await self._conn.execute(
                f"DELETE FROM {table} WHERE message_sid = :sid", {"sid": message.sid}
            )
        await self._delete_keeping_anchor("messages", message.sid)
        self._changes.messages = True

    async def page(
        self, account_sid: str, query: PageQuery, filters: MessageFilter
    ) -> PageResult[Message]:
        where = ["account_sid = :account"]
        params: dict[str, Any] = {"account": account_sid}
        if filters.to is not None:
            where.append("to_addr = :to")
            params["to"] = filters.to
        if filters.from_ is not None:
            where.append("from_addr = :from")
            params["from"] = filters.from_
        if filters.date_sent_from is not None:
            where.append("date_sent >= :sent_from")
            params["sent_from"] = to_us(filters.date_sent_from)
        if filters.date_sent_until is not None:
            where.append("date_sent < :sent_until")
            params["sent_until"] = to_us(filters.date_sent_until)
        return await self._page("messages", where, params, query, message_from_row)

    # --- status changes --------------------------------------------------------------------

    async def transition(self, message: Message, *, from_status: MessageStatus) -> bool:
        """Write a status change if the message still has `from_status` (a cancel, redaction
        or deletion may have come first); False if not."""
        changed = await self._conn.execute(
            "UPDATE messages SET status = :status, from_addr = :from_addr, "
            "num_segments = :num_segments, error_code = :error_code, "
            "error_message = :error_message, price = :price, price_unit = :price_unit, "
            "date_updated = :date_updated, date_sent = :date_sent "
            "WHERE sid = :sid AND status = :from_status",
            {
                "sid": message.sid,
                "status": message.status.value,
                "from_addr": message.from_,
                "num_segments": message.num_segments,
                "error_code": message.error_code,
                "error_message": message.error_message,
                "price": message.price,
                "price_unit": message.price_unit,
                "date_updated": to_us(message.date_updated),
                "date_sent": None if message.date_sent is None else to_us(message.date_sent),
                "from_status": from_status.value,
            },
        )
        self._changes.messages = True
        return changed == 1

    async def oldest_queued(self, to: str, from_: str) -> str | None:
        """The oldest outbound message still `queued` from `from_` to `to`, of any account:
        the message a live carrier's receipt is for when its reference is unknown because the
        submit's answer was lost (a crash before its commit; docs/carriers.md, "Durability").
        Each account's messages to `to` are found by index; a busy sender's are not read."""
        hint = " INDEXED BY messages_account_to" if self._conn.dialect == "sqlite" else ""
        row = await self._conn.fetch_one(
            f"SELECT sid FROM messages{hint} WHERE account_sid IN (SELECT sid FROM accounts) "
            "AND to_addr = :to AND from_addr = :from_ AND status = 'queued' "
            "AND direction <> 'inbound' ORDER BY seq LIMIT 1",
            {"to": to, "from_": from_},
        )
        return None if row is None else str(row["sid"])

    # --- read-back (textrelay's control API) and the delivery rules ------------------------

    async def addressed_to(
        self, account_sid: str, to: str, *, after_sid: str | None, limit: int
    ) -> list[Message]:
        """Outbound messages of the account addressed to `to`, newest first; only those after
        `after_sid` when it is given (and known)."""
        after = 0
        if after_sid is not None:
            row = await self._conn.fetch_one(
                "SELECT seq FROM messages WHERE sid = :sid", {"sid": after_sid}
            )
            after = 0 if row is None else int(row["seq"])
        rows = await self._conn.fetch_all(
            "SELECT * FROM messages WHERE account_sid = :account AND to_addr = :to "
            "AND direction <> 'inbound' "
            "AND seq > :after ORDER BY seq DESC LIMIT :limit",
            {"account": account_sid, "to": to, "after": after, "limit": limit},
        )
        return [message_from_row(row) for row in rows]

    async def conversation(
        self, account_sid: str, one: str, other: str, *, limit: int
    ) -> list[Message]:
        """Messages of the account between two addresses, either way, oldest first (the
        newest `limit`)."""
        rows = await self._conn.fetch_all(
            "SELECT * FROM messages WHERE account_sid = :account AND ("
            "(to_addr = :one AND from_addr = :other) OR (to_addr = :other AND from_addr = :one)"
            ") ORDER BY seq DESC LIMIT :limit",
            {"account": account_sid, "one": one, "other": other, "limit": limit},
        )
        return [message_from_row(row) for row in reversed(rows)]

    async def last_inbound_at(
        self, account_sid: str, handset: str, receiver: str
    ) -> datetime | None:
        """When `handset` last wrote to `receiver` (WhatsApp's customer-service window)."""
        # Newest first along the (account, To, seq) index: stops at the first match.
        row = await self._conn.fetch_one(
            "SELECT date_created AS last FROM messages WHERE account_sid = :account "
            "AND to_addr = :receiver AND from_addr = :handset AND direction = 'inbound' "
            "ORDER BY seq DESC LIMIT 1",
            {"account": account_sid, "receiver": receiver, "handset": handset},
        )
        return None if row is None else from_us(row["last"])

    async def of_service(
        self, service_sid: str, statuses: tuple[MessageStatus, ...]
    ) -> list[Message]:
        marks = ", ".join(f":s{i}" for i in range(len(statuses)))
        rows = await self._conn.fetch_all(
            f"SELECT * FROM messages WHERE messaging_service_sid = :service "
            f"AND status IN ({marks}) ORDER BY seq",
            {"service": service_sid, **{f"s{i}": s.value for i, s in enumerate(statuses)}},
        )
        return [message_from_row(row) for row in rows]

    async def delete_all_of_account(self, account_sid: str) -> int:
        """Delete every message of the account with its jobs, history and attempts."""
        owned = "SELECT sid FROM messages WHERE account_sid = :account"
        await self._conn.execute(
            "DELETE FROM jobs WHERE message_seq IN "
            "(SELECT seq FROM messages WHERE account_sid = :account)",
            {"account": account_sid},
        )
        for table in _OWNED_BY_MESSAGE:
            await self._conn.execute(
                f"DELETE FROM {table} WHERE message_sid IN ({owned})", {"account": account_sid}
            )
        await self._conn.execute(
            "DELETE FROM webhook_attempts WHERE account_sid = :account", {"account": account_sid}
        )
        self._changes.messages = True
        return await self._conn.execute(
            "DELETE FROM messages WHERE account_sid = :account", {"account": account_sid}
        )

    # --- retention --------------------------------------------------------------------------

    async def sweep_created_before(self, cutoff: datetime, *, limit: int) -> SweptBatch:
        """Delete at most `limit` messages created before `cutoff`, oldest first, with every
        row that belongs to them (jobs, history, webhook attempts, media records, carrier
        references and log); what went. Page anchors are not kept for them: a page token
        naming one is invalid, and the pages it led to were older still."""
        if self._conn.dialect == "postgresql":
            await self._conn.execute(f"SET LOCAL lock_timeout = '{_SWEEP_LOCK_TIMEOUT}'")
            rows = await self._conn.fetch_all(
                _SWEEPABLE + " FOR UPDATE SKIP LOCKED", {"cutoff": to_us(cutoff), "limit": limit}
            )
        else:
            rows = await self._conn.fetch_all(_SWEEPABLE, {"cutoff": to_us(cutoff), "limit": limit})
        if not rows:
            return SweptBatch((), ())
        seqs, by_seq = _listed("q", [int(row["seq"]) for row in rows])
        sids, by_sid = _listed("s", [str(row["sid"]) for row in rows])
        media = await self._conn.fetch_all(
            f"SELECT sid FROM media WHERE message_sid IN ({sids})", by_sid
        )
        await self._conn.execute(f"DELETE FROM jobs WHERE message_seq IN ({seqs})", by_seq)
        for table in _OWNED_BY_MESSAGE:
            await self._conn.execute(f"DELETE FROM {table} WHERE message_sid IN ({sids})", by_sid)
        await self._conn.execute(f"DELETE FROM messages WHERE seq IN ({seqs})", by_seq)
        self._changes.messages = True
        return SweptBatch(tuple(by_sid.values()), tuple(str(row["sid"]) for row in media))

    # --- the console's log and phone views -------------------------------------------------

    async def search(
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

    async def recent_correspondents(self, account_sid: str, *, limit: int) -> list[str]:
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
        return [*seen]

    async def latest_change(self) -> tuple[object, ...]:
        """The newest message, status change and webhook attempt: when any of these moves,
        something the console shows has changed (three index lookups)."""
        row = await self._conn.fetch_one(
            "SELECT (SELECT MAX(seq) FROM messages) AS m, "
            "(SELECT MAX(seq) FROM message_events) AS e, "
            "(SELECT MAX(seq) FROM webhook_attempts) AS w"
        )
        return () if row is None else (row["m"], row["e"], row["w"])


def _listed(prefix: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    """`:p0, :p1, …` for an IN list, and the parameters that fill it."""
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params
