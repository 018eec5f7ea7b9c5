"""The job queue: the transactional outbox every promised side effect goes through.

A claim is a lease: `due_at` moves to the lease's end and a `claim` token guards finishing or
rescheduling, so a worker that dies loses its jobs to the next claim. The SQL differs between
the databases only in how jobs are claimed (PostgreSQL skips rows other workers hold) and in
the wake-up of other processes (NOTIFY).
"""

from __future__ import annotations

from datetime import datetime

import orjson

from textrelay.domain.jobs import Job, JobKind, JobPayload, PendingJob, payload_from_json
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
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


class JobStore(TableStore):
    __slots__ = ()

    async def insert(
        self,
        message_sid: str | None,
        payload: JobPayload,
        *,
        due_at: datetime | None,
        now: datetime,
    ) -> None:
        """A job of the payload's kind; `due_at` None parks it until a step takes it."""
        await self._conn.execute(
            "INSERT INTO jobs (kind, message_sid, message_seq, payload, due_at, created_at) "
            f"VALUES (:kind, :sid, {_SEQ_OF}, :payload, :due_at, :created_at)",
            {
                "kind": payload.kind.value,
                "sid": message_sid,
                "payload": orjson.dumps(payload.to_json()).decode(),
                "due_at": None if due_at is None else to_us(due_at),
                "created_at": to_us(now),
            },
        )
        await self._wake_workers()

    async def claim(
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

    async def finish(self, job: Job) -> bool:
        """Delete a job its claim still holds; False if the lease was lost to another worker."""
        changed = await self._conn.execute(
            "DELETE FROM jobs WHERE seq = :seq AND claim = :claim",
            {"seq": job.seq, "claim": job.claim},
        )
        if changed and job.kind is JobKind.CALLBACK:
            await self._wake_workers()  # the message's next callback may go now
        return changed == 1

    async def reschedule(self, job: Job, *, due_at: datetime | None) -> bool:
        """Release a job to run again at `due_at` (None: parked); False if the lease was lost."""
        changed = await self._conn.execute(
            "UPDATE jobs SET due_at = :due_at, claim = NULL, payload = :payload "
            "WHERE seq = :seq AND claim = :claim",
            {
                "seq": job.seq,
                "claim": job.claim,
                "due_at": None if due_at is None else to_us(due_at),
                "payload": orjson.dumps(job.payload.to_json()).decode(),
            },
        )
        self._changes.jobs = True
        return changed == 1

    async def take_pending(
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

    async def drop_pending(self, message_sid: str, kind: JobKind) -> int:
        """Delete a message's unclaimed jobs of `kind` (plans overtaken by events)."""
        return await self._conn.execute(
            f"DELETE FROM jobs WHERE message_seq = {_SEQ_OF} AND kind = :kind AND claim IS NULL",
            {"sid": message_sid, "kind": kind.value},
        )

    async def pending_kinds(self, message_sid: str) -> list[str]:
        """The kinds of the message's jobs not yet done, oldest first (claimed ones too)."""
        rows = await self._conn.fetch_all(
            f"SELECT kind FROM jobs WHERE message_seq = {_SEQ_OF} ORDER BY seq",
            {"sid": message_sid},
        )
        return [str(row["kind"]) for row in rows]

    async def pending_of_message(self, message_sid: str) -> list[PendingJob]:
        """The message's jobs not yet done, oldest first (claimed ones too)."""
        rows = await self._conn.fetch_all(
            f"SELECT message_sid, kind, due_at, claim FROM jobs WHERE message_seq = {_SEQ_OF} "
            "ORDER BY seq",
            {"sid": message_sid},
        )
        return [_pending(row) for row in rows]

    async def pending_of_account(self, account_sid: str) -> list[PendingJob]:
        """Every job not yet done for the account's messages, oldest first: what a test waits
        on to know the pipeline is idle."""
        rows = await self._conn.fetch_all(
            "SELECT j.message_sid, j.kind, j.due_at, j.claim FROM jobs j "
            "JOIN messages m ON m.seq = j.message_seq WHERE m.account_sid = :account "
            "ORDER BY j.seq",
            {"account": account_sid},
        )
        return [_pending(row) for row in rows]

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

    async def _wake_workers(self) -> None:
        """This process's workers are woken after the commit (the Store raises the signal);
        other processes' by PostgreSQL's NOTIFY, delivered at the commit and sent once per
        transaction however often it is asked. SQLite has no other processes."""
        self._changes.jobs = True
        if self._conn.dialect == "postgresql":
            await self._conn.execute(f"NOTIFY {JOBS_CHANNEL}")


def _job(row: Row, claim: str) -> Job:
    kind = JobKind(row["kind"])
    return Job(
        seq=int(row["seq"]),
        kind=kind,
        message_sid=row["message_sid"],
        payload=payload_from_json(kind, orjson.loads(row["payload"])),
        attempts=int(row["attempts"]),
        claim=claim,
    )


def _pending(row: Row) -> PendingJob:
    # Parked: no due time and nobody holding it (a step command takes it).
    parked = row["due_at"] is None and row["claim"] is None
    return PendingJob(row["message_sid"], JobKind(row["kind"]), parked)
