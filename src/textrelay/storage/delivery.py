"""Queries of the delivery pipeline: the job queue, status history and webhook attempts.

Mixed into Repository; the SQL differs between the databases only in how jobs are claimed
(PostgreSQL skips rows other workers hold) and in the wake-up notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from textrelay.domain.delivery import Job, JobKind
from textrelay.domain.messages import Message
from textrelay.domain.statuses import MessageStatus
from textrelay.domain.webhooks import WebhookAttempt
from textrelay.storage.connection import Connection, Row
from textrelay.storage.timestamps import from_us, to_us

JOBS_CHANNEL = "textrelay_jobs"
"""The PostgreSQL NOTIFY channel that wakes idle workers when a job is inserted."""

# Jobs are indexed by their message's seq (migration 0005 says why); a query by SID finds it.
_SEQ_OF = "(SELECT seq FROM messages WHERE sid = :sid)"

# A callback job waits while an older callback job of the same message exists, so one
# message's callbacks leave in the order its statuses changed (Twilio does not promise this,
# but receivers and tests read a sequence more easily).
_NOT_WAITING_ITS_TURN = (
    "NOT (kind = 'callback' AND EXISTS (SELECT 1 FROM jobs e WHERE "
    "e.message_seq = j.message_seq AND e.kind = 'callback' AND e.seq < j.seq))"
)
_CLAIMABLE = (
    "SELECT seq FROM jobs j WHERE due_at IS NOT NULL AND due_at <= :now "
    f"AND {_NOT_WAITING_ITS_TURN} ORDER BY due_at LIMIT :limit"
)
_CLAIM = (
    "UPDATE jobs SET due_at = :lease_until, claim = :claim, attempts = attempts + 1 "
    "WHERE seq IN ({claimable}) RETURNING seq, kind, message_sid, payload, attempts"
)


@dataclass(frozen=True, slots=True)
class MessageEvent:
    status: MessageStatus
    error_code: int | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    """A webhook attempt as stored: the attempt plus what it was about."""

    kind: str
    message_sid: str | None
    idempotency_token: str
    params: tuple[tuple[str, str], ...]
    started_at: datetime
    attempt: WebhookAttempt


class DeliveryQueries:
    _conn: Connection

    # --- jobs ------------------------------------------------------------------------------

    async def insert_job(
        self,
        kind: JobKind,
        message_sid: str | None,
        payload: dict[str, Any],
        *,
        due_at: datetime | None,
        now: datetime,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO jobs (kind, message_sid, message_seq, payload, due_at, created_at) "
            f"VALUES (:kind, :sid, {_SEQ_OF}, :payload, :due_at, :created_at)",
            {
                "kind": kind.value,
                "sid": message_sid,
                "payload": orjson.dumps(payload).decode(),
                "due_at": None if due_at is None else to_us(due_at),
                "created_at": to_us(now),
            },
        )
        await self.notify_workers()

    async def notify_workers(self) -> None:
        """Wake other processes' idle workers when this transaction commits (PostgreSQL's
        NOTIFY, sent once per transaction however often it is asked; SQLite has no others)."""
        if self._conn.dialect == "postgresql":
            await self._conn.execute(f"NOTIFY {JOBS_CHANNEL}")

    async def claim_jobs(
        self, *, now: datetime, lease_until: datetime, claim: str, limit: int
    ) -> list[Job]:
        claimable = _CLAIMABLE
        if self._conn.dialect == "postgresql":
            claimable += " FOR UPDATE SKIP LOCKED"
        rows = await self._conn.fetch_all(
            _CLAIM.format(claimable=claimable),
            {"now": to_us(now), "lease_until": to_us(lease_until), "claim": claim, "limit": limit},
        )
        return sorted((_job(row, claim) for row in rows), key=lambda job: job.seq)

    async def finish_job(self, job: Job) -> bool:
        """Delete a job its claim still holds; False if the lease was lost to another worker."""
        changed = await self._conn.execute(
            "DELETE FROM jobs WHERE seq = :seq AND claim = :claim",
            {"seq": job.seq, "claim": job.claim},
        )
        return changed == 1

    async def reschedule_job(
        self, job: Job, *, due_at: datetime | None, payload: dict[str, Any]
    ) -> bool:
        """Release a job to run again at `due_at` (None: parked); False if the lease was lost."""
        changed = await self._conn.execute(
            "UPDATE jobs SET due_at = :due_at, claim = NULL, payload = :payload "
            "WHERE seq = :seq AND claim = :claim",
            {
                "seq": job.seq,
                "claim": job.claim,
                "due_at": None if due_at is None else to_us(due_at),
                "payload": orjson.dumps(payload).decode(),
            },
        )
        return changed == 1

    async def take_pending_job(
        self, message_sid: str, kind: JobKind, *, claim: str, lease_until: datetime
    ) -> Job | None:
        """Claim a message's unclaimed job of `kind`, due or parked, for a step command. A
        parked job claimed here and never finished becomes due at `lease_until`, and the
        worker parks it again."""
        row = await self._conn.fetch_one(
            "UPDATE jobs SET claim = :claim, due_at = :lease_until, attempts = attempts + 1 "
            f"WHERE seq = (SELECT seq FROM jobs WHERE message_seq = {_SEQ_OF} AND kind = :kind "
            "AND claim IS NULL ORDER BY seq LIMIT 1) AND claim IS NULL "
            "RETURNING seq, kind, message_sid, payload, attempts",
            {
                "sid": message_sid,
                "kind": kind.value,
                "claim": claim,
                "lease_until": to_us(lease_until),
            },
        )
        return None if row is None else _job(row, claim)

    async def drop_pending_jobs(self, message_sid: str, kind: JobKind) -> int:
        """Delete a message's unclaimed jobs of `kind` (plans overtaken by events)."""
        return await self._conn.execute(
            f"DELETE FROM jobs WHERE message_seq = {_SEQ_OF} AND kind = :kind AND claim IS NULL",
            {"sid": message_sid, "kind": kind.value},
        )

    async def pending_job_kinds(self, message_sid: str) -> list[str]:
        rows = await self._conn.fetch_all(
            f"SELECT kind FROM jobs WHERE message_seq = {_SEQ_OF} ORDER BY seq",
            {"sid": message_sid},
        )
        return [str(row["kind"]) for row in rows]

    async def next_due_at(self) -> datetime | None:
        """When the next job can be claimed (a callback waiting for an older one of its
        message does not count: finishing the older one wakes the workers)."""
        row = await self._conn.fetch_one(
            f"SELECT MIN(due_at) AS due FROM jobs j WHERE due_at IS NOT NULL "
            f"AND {_NOT_WAITING_ITS_TURN}"
        )
        return None if row is None or row["due"] is None else from_us(row["due"])

    async def release_all_claims(self, *, now: datetime) -> int:
        """Make every claimed job due now: for a SQLite process starting, which owns the
        queue alone, so any claim it finds belonged to a process that died."""
        return await self._conn.execute(
            "UPDATE jobs SET due_at = :now, claim = NULL WHERE claim IS NOT NULL",
            {"now": to_us(now)},
        )

    # --- status transitions and history --------------------------------------------------

    async def transition_message(self, message: Message, *, from_status: MessageStatus) -> bool:
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
        return changed == 1

    async def insert_message_event(
        self,
        message_sid: str,
        status: MessageStatus,
        error_code: int | None,
        at: datetime,
        *,
        previous: MessageStatus,
    ) -> None:
        await self._conn.execute(
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

    async def list_message_events(self, message: Message) -> list[MessageEvent]:
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

    async def delete_message_records(self, message_sid: str) -> None:
        """A deleted message's jobs, history and webhook attempts go with it (before the
        message's own row, by which its jobs are found)."""
        await self._conn.execute(
            f"DELETE FROM jobs WHERE message_seq = {_SEQ_OF}", {"sid": message_sid}
        )
        for table in ("message_events", "webhook_attempts", "media"):
            await self._conn.execute(
                f"DELETE FROM {table} WHERE message_sid = :sid", {"sid": message_sid}
            )

    # --- opt-outs ---------------------------------------------------------------------------

    async def any_opt_outs(self) -> bool:
        row = await self._conn.fetch_one("SELECT EXISTS (SELECT 1 FROM opt_outs) AS found")
        return row is not None and bool(row["found"])

    async def opted_out_scopes(self, recipient: str) -> set[str]:
        """The sender scopes `recipient` has opted out of (usually none: one index probe)."""
        rows = await self._conn.fetch_all(
            "SELECT sender_scope FROM opt_outs WHERE recipient = :recipient",
            {"recipient": recipient},
        )
        return {str(row["sender_scope"]) for row in rows}

    async def set_opted_out(
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

    async def list_opt_outs(self, account_sid: str) -> list[tuple[str, str, datetime]]:
        rows = await self._conn.fetch_all(
            "SELECT recipient, sender_scope, opted_out_at FROM opt_outs "
            "WHERE account_sid = :account ORDER BY opted_out_at",
            {"account": account_sid},
        )
        return [(r["recipient"], r["sender_scope"], from_us(r["opted_out_at"])) for r in rows]

    # --- cookies of inbound webhooks ------------------------------------------------------

    async def webhook_cookie(
        self, account_sid: str, local: str, remote: str, *, fresh_since: datetime
    ) -> str | None:
        row = await self._conn.fetch_one(
            "SELECT cookie FROM webhook_cookies WHERE account_sid = :account AND local = :local "
            "AND remote = :remote AND updated_at >= :since",
            {"account": account_sid, "local": local, "remote": remote, "since": to_us(fresh_since)},
        )
        return None if row is None else str(row["cookie"])

    async def keep_webhook_cookie(
        self, account_sid: str, local: str, remote: str, cookie: str | None, *, at: datetime
    ) -> None:
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

    # --- webhook attempts ------------------------------------------------------------------

    async def insert_webhook_attempt(
        self,
        *,
        account_sid: str,
        recorded: RecordedAttempt,
    ) -> None:
        attempt = recorded.attempt
        await self._conn.execute(
            "INSERT INTO webhook_attempts (account_sid, message_sid, kind, idempotency_token, "
            "url, method, params, signature, status_code, response_body, "
            "response_content_type, latency_ms, error_code, error_message, started_at) VALUES "
            "(:account_sid, :message_sid, :kind, :token, :url, :method, :params, :signature, "
            ":status_code, :response_body, :content_type, :latency_ms, :error_code, "
            ":error_message, :started_at)",
            {
                "account_sid": account_sid,
                "message_sid": recorded.message_sid,
                "kind": recorded.kind,
                "token": recorded.idempotency_token,
                "url": attempt.url,
                "method": attempt.method,
                "params": orjson.dumps(recorded.params).decode(),
                "signature": attempt.signature,
                "status_code": attempt.status_code,
                "response_body": attempt.response_body,
                "content_type": attempt.response_content_type,
                "latency_ms": attempt.latency_ms,
                "error_code": attempt.error_code,
                "error_message": attempt.error_message,
                "started_at": to_us(recorded.started_at),
            },
        )

    async def list_webhook_attempts(self, message_sid: str) -> list[RecordedAttempt]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM webhook_attempts WHERE message_sid = :sid ORDER BY seq",
            {"sid": message_sid},
        )
        return [_recorded_attempt(row) for row in rows]


def _job(row: Row, claim: str) -> Job:
    return Job(
        seq=int(row["seq"]),
        kind=JobKind(row["kind"]),
        message_sid=row["message_sid"],
        payload=orjson.loads(row["payload"]),
        attempts=int(row["attempts"]),
        claim=claim,
    )


def _recorded_attempt(row: Row) -> RecordedAttempt:
    params: Sequence[Sequence[str]] = orjson.loads(row["params"])
    return RecordedAttempt(
        kind=row["kind"],
        message_sid=row["message_sid"],
        idempotency_token=row["idempotency_token"],
        params=tuple((str(k), str(v)) for k, v in params),
        started_at=from_us(row["started_at"]),
        attempt=WebhookAttempt(
            url=row["url"],
            method=row["method"],
            signature=row["signature"],
            status_code=row["status_code"],
            response_body=row["response_body"],
            latency_ms=float(row["latency_ms"]),
            error_code=row["error_code"],
            error_message=row["error_message"],
            response_content_type=row["response_content_type"],
        ),
    )
