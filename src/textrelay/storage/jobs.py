"""The job queue: the transactional outbox every promised side effect goes through.

A claim is a lease: `due_at` moves to the lease's end and a `claim` token guards finishing,
rescheduling or renewing it, so a worker that dies loses its jobs to the next claim. Two
clocks meet in `due_at`: an unclaimed job's due time follows the service clock (which tests
may move forward), a claimed job's lease end the lease clock (real time), so moving the
service clock never ends a lease. The service clock is never behind the lease clock (its
offset only grows), so `due_at <= :now` still bounds both and the index serves both.

The SQL differs between the databases only in how jobs are claimed (PostgreSQL skips rows
other workers hold), in reading a JSON list parameter, and in the wake-up of other processes
(NOTIFY).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from textrelay.domain.jobs import (
    WEBHOOK_KINDS,
    Job,
    JobKind,
    JobPayload,
    PendingJob,
    QueueDepth,
    StatusCallback,
    payload_from_json,
    webhook_host,
)
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
_WEBHOOK_KINDS = ", ".join(f"'{kind.value}'" for kind in sorted(WEBHOOK_KINDS))
_WEBHOOK = f"kind IN ({_WEBHOOK_KINDS})"
_DELIVERY = f"kind NOT IN ({_WEBHOOK_KINDS})"  # as the indexes of schema 13 say it
# Due by the service clock if unclaimed; a claimed job only once its lease ended (lease clock).
_DUE = "due_at IS NOT NULL AND due_at <= :now AND (claim IS NULL OR due_at <= :lease_now)"
_JSON_LIST = {
    "sqlite": "(SELECT value FROM json_each(:{name}))",
    "postgresql": "(SELECT jsonb_array_elements_text(CAST(:{name} AS jsonb)))",
}
_JSON_INTS = {
    "sqlite": "(SELECT value FROM json_each(:{name}))",
    "postgresql": "(SELECT CAST(jsonb_array_elements_text(CAST(:{name} AS jsonb)) AS BIGINT))",
}
# One statement claims for both budgets. Delivery jobs: the earliest due. Webhook jobs: the
# earliest due, at most :per_host of each host and none of the hosts the runner keeps busy.
# Both databases read no more than they take (schema 13): delivery jobs through their own
# index; webhook jobs host by host, the first `per_host` due ones of each from
# `jobs_webhook_due`, its hosts found by skipping through the same index (one probe a host).
# SQLite, which has no LATERAL, takes each host's share with a correlated subquery; ranking
# every due webhook job with a window, as it did, grew with the backlog (20 ms a claim at
# 3,000 queued callbacks against 1.1 ms now, docs/benchmarks.md).
_HOSTS = (
    "hosts (host) AS (SELECT (SELECT host FROM jobs WHERE {webhook} AND due_at IS NOT NULL "
    "ORDER BY host LIMIT 1) UNION ALL SELECT (SELECT j.host FROM jobs j WHERE {webhook} "
    "AND j.due_at IS NOT NULL AND j.host > hosts.host ORDER BY j.host LIMIT 1) FROM hosts "
    "WHERE hosts.host IS NOT NULL)"
)
_CLAIM_SQLITE = (
    "WITH RECURSIVE delivery AS (SELECT seq FROM jobs j WHERE {due} AND {delivery} "
    f"ORDER BY due_at LIMIT :delivery_limit), {_HOSTS}, "
    "webhooks AS (SELECT o.seq FROM hosts CROSS JOIN jobs o ON o.seq IN (SELECT seq "
    "FROM jobs j WHERE j.host = hosts.host AND {webhook} AND {due} "
    f"AND {_NOT_WAITING_ITS_TURN} ORDER BY due_at, seq LIMIT :per_host) "
    "WHERE hosts.host IS NOT NULL AND hosts.host NOT IN {busy} "
    "ORDER BY o.due_at, o.seq LIMIT :webhook_limit) "
    "UPDATE jobs SET due_at = :lease_until, claim = :claim, attempts = attempts + 1 "
    "WHERE seq IN (SELECT seq FROM delivery UNION ALL SELECT seq FROM webhooks) "
    "RETURNING seq, kind, message_sid, payload, attempts, host"
)
# Each part looks only past `after` (`lease_after` for leases): what was due at the runner's
# last claim and not taken is blocked until a signal frees it. Without that bound every call
# walked the whole backlog of a busy host's callbacks (hundreds of milliseconds a call on
# PostgreSQL with a few thousand, once per finished job).
_NEXT_DUE = (
    "SELECT (SELECT MIN(due_at) FROM jobs j WHERE due_at > :after AND claim IS NULL "
    "AND {delivery}) AS delivery, "
    "(SELECT MIN(due_at) FROM jobs j WHERE due_at > :lease_after AND claim IS NOT NULL "
    "AND {delivery}) AS delivery_lease, "
    "(SELECT MIN(due_at) FROM jobs j WHERE due_at > :after AND claim IS NULL AND {webhook} "
    f"AND (host IS NULL OR host NOT IN {{busy}}) AND {_NOT_WAITING_ITS_TURN}) AS webhook, "
    "(SELECT MIN(due_at) FROM jobs j WHERE due_at > :lease_after AND claim IS NOT NULL "
    "AND {webhook} AND (host IS NULL OR host NOT IN {busy})) AS webhook_lease"
)

# PostgreSQL takes each host's share with a LATERAL subquery; the picked rows are locked (and
# their due-ness checked again) by a query of their own, skipping rows other workers hold, and
# found by key (`= ANY(ARRAY(...))`: the planner otherwise scanned the table for them).
# It also tells what is due next, in the same round trip: the claimed rows, then one row (its
# `seq` NULL) with _NEXT_DUE past this claim's own clocks. Taken rows were due by those
# clocks, so that part, which reads the snapshot before the claim, cannot count them; nor
# does it see the leases this claim takes, which their runner renews.
_CLAIM_POSTGRESQL = (
    "WITH RECURSIVE delivery AS (SELECT seq FROM jobs j WHERE {due} AND {delivery} "
    "ORDER BY due_at LIMIT :delivery_limit FOR UPDATE SKIP LOCKED), "
    f"{_HOSTS}, "
    "picked AS (SELECT c.seq, c.due_at FROM hosts CROSS JOIN LATERAL (SELECT seq, due_at "
    "FROM jobs j WHERE j.host = hosts.host AND {webhook} AND {due} "
    f"AND {_NOT_WAITING_ITS_TURN} "
    "ORDER BY due_at, seq LIMIT :per_host) c WHERE hosts.host IS NOT NULL "
    "AND hosts.host NOT IN {busy} ORDER BY c.due_at, c.seq LIMIT :webhook_limit), "
    "webhooks AS (SELECT seq FROM jobs WHERE seq = ANY(ARRAY(SELECT seq FROM picked)) AND {due} "
    "FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE jobs SET due_at = :lease_until, claim = :claim, "
    "attempts = attempts + 1 "
    "WHERE seq = ANY(ARRAY(SELECT seq FROM delivery UNION ALL SELECT seq FROM webhooks)) "
    "RETURNING seq, kind, message_sid, payload, attempts, host) "
    "SELECT seq, kind, message_sid, payload, attempts, host, NULL AS delivery, "
    "NULL AS delivery_lease, NULL AS webhook, NULL AS webhook_lease FROM claimed UNION ALL "
    "SELECT NULL, NULL, NULL, NULL, NULL, NULL, n.delivery, n.delivery_lease, n.webhook, "
    "n.webhook_lease FROM ("
    + _NEXT_DUE.replace(":after", ":now").replace(":lease_after", ":lease_now")
    + ") n"
)


@dataclass(frozen=True, slots=True)
class NextDue:
    """When jobs of each budget can next be claimed: due times (service clock) and lease
    ends (lease clock); None where there is none."""

    delivery: datetime | None
    delivery_lease: datetime | None
    webhook: datetime | None
    webhook_lease: datetime | None


_KINDS = frozenset(kind.value for kind in JobKind)


def job_params(
    message_sid: str | None, payload: JobPayload, *, due_at: datetime | None, now: datetime
) -> dict[str, Any]:
    """A new job's columns as statement parameters (`sid`: its message's SID)."""
    return {
        "kind": payload.kind.value,
        "host": webhook_host(payload),
        "sid": message_sid,
        "payload": orjson.dumps(payload.to_json()).decode(),
        "due_at": None if due_at is None else to_us(due_at),
        "created_at": to_us(now),
    }


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
        await self._conn.insert_later(
            "INSERT INTO jobs (kind, message_sid, message_seq, payload, due_at, created_at, "
            f"host) VALUES (:kind, :sid, {_SEQ_OF}, :payload, :due_at, :created_at, :host)",
            job_params(message_sid, payload, due_at=due_at, now=now),
        )
        self._wake_workers()

    async def promise_callback(
        self, message_sid: str, callback: StatusCallback, *, now: datetime
    ) -> None:
        """A status callback due at `now`. The callbacks one transaction promises for a
        message become one job, inserted as the transaction ends (insert_promised), that
        sends them in order: one claim, one finish and one commit, where each callback took
        its own, and the next callback needs no wake-up to follow its predecessor."""
        promised = self._changes.promised
        if promised is None:
            promised = self._changes.promised = {}
        key = (message_sid, callback.url)
        held = promised.get(key)
        promised[key] = (
            (callback, now) if held is None else (held[0].followed_by(callback), held[1])
        )

    async def insert_promised(self) -> None:
        """Insert the jobs of the callbacks promised in this transaction (see above)."""
        for message_sid, callback, now in self.take_promised():
            await self.insert(message_sid, callback, due_at=now, now=now)

    def take_promised(self) -> list[tuple[str, StatusCallback, datetime]]:
        """The callbacks promised so far, as (message SID, callback, due), for the caller to
        insert: the transaction will not."""
        promised, self._changes.promised = self._changes.promised, None
        return [(sid, callback, now) for (sid, _url), (callback, now) in (promised or {}).items()]

    async def claim(
        self,
        *,
        now: datetime,
        lease_now: datetime,
        lease_until: datetime,
        claim: str,
        delivery_limit: int,
        webhook_limit: int,
        per_host: int,
        busy_hosts: Sequence[str] = (),
    ) -> tuple[list[Job], NextDue | None]:
        """Lease due jobs until `lease_until` (lease clock): up to `delivery_limit` delivery
        jobs and `webhook_limit` webhook jobs, at most `per_host` of one host and none of
        `busy_hosts`. Due means `due_at <= now` for an unclaimed job, `<= lease_now` for one
        whose lease ended.

        On PostgreSQL the same statement also tells when jobs of each budget can next be
        claimed among those not due at `now` (lease ends after `lease_now`): next_due() as of
        the claim. None on SQLite, where asking later costs no round trip and is often not
        needed (a signal came meanwhile)."""
        dialect = self._conn.dialect
        template = _CLAIM_POSTGRESQL if dialect == "postgresql" else _CLAIM_SQLITE
        sql = template.format(
            due=_DUE,
            delivery=_DELIVERY,
            webhook=_WEBHOOK,
            busy=_JSON_LIST[dialect].format(name="busy"),
        )
        rows = await self._conn.fetch_all(
            sql,
            {
                "now": to_us(now),
                "lease_now": to_us(lease_now),
                "lease_until": to_us(lease_until),
                "claim": claim,
                "delivery_limit": delivery_limit,
                "webhook_limit": webhook_limit,
                "per_host": per_host,
                "busy": orjson.dumps(list(busy_hosts)).decode(),
            },
        )
        jobs = sorted((_job(row, claim) for row in rows if row["seq"] is not None), key=_by_seq)
        if dialect != "postgresql":
            return jobs, None
        [due] = [row for row in rows if row["seq"] is None]
        return jobs, _next_due(due)

    async def renew(self, jobs: Sequence[Job], *, lease_until: datetime) -> int:
        """Extend the leases of jobs their claims still hold to `lease_until` (lease clock);
        how many were renewed (a job finished meanwhile, or lost, is not)."""
        if not jobs:
            return 0
        dialect = self._conn.dialect
        return await self._conn.execute(
            f"UPDATE jobs SET due_at = :lease_until WHERE seq IN "
            f"{_JSON_INTS[dialect].format(name='seqs')} AND claim IN "
            f"{_JSON_LIST[dialect].format(name='claims')}",
            {
                "lease_until": to_us(lease_until),
                "seqs": orjson.dumps([job.seq for job in jobs]).decode(),
                "claims": orjson.dumps(sorted({job.claim for job in jobs})).decode(),
            },
        )

    async def finish(self, job: Job) -> bool:
        """Delete a job its claim still holds; False if the lease was lost to another worker."""
        changed = await self._conn.execute(
            "DELETE FROM jobs WHERE seq = :seq AND claim = :claim",
            {"seq": job.seq, "claim": job.claim},
        )
        if changed and job.kind is JobKind.CALLBACK:
            self._wake_workers()  # the message's next callback may go now
        return changed == 1

    async def reschedule(
        self, job: Job, *, due_at: datetime | None, attempts: int | None = None
    ) -> bool:
        """Release a job, with its payload as `job` has it, to run again at `due_at` (None:
        parked), its attempts counted as `attempts` when given; False if the lease was lost."""
        changed = await self._conn.execute(
            "UPDATE jobs SET due_at = :due_at, claim = NULL, payload = :payload, "
            "attempts = COALESCE(:attempts, attempts) WHERE seq = :seq AND claim = :claim",
            {
                "seq": job.seq,
                "claim": job.claim,
                "due_at": None if due_at is None else to_us(due_at),
                "payload": orjson.dumps(job.payload.to_json()).decode(),
                "attempts": attempts,
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
            "RETURNING seq, kind, message_sid, payload, attempts, host",
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

    async def next_due(
        self,
        *,
        busy_hosts: Sequence[str] = (),
        after: datetime | None = None,
        lease_after: datetime | None = None,
    ) -> NextDue:
        """When jobs of each budget can next be claimed, among those due after `after` (lease
        ends after `lease_after`): hosts in `busy_hosts` left out; a callback waiting for an
        older one of its message does not count (finishing the older one wakes the workers)."""
        dialect = self._conn.dialect
        sql = _NEXT_DUE.format(
            delivery=_DELIVERY, webhook=_WEBHOOK, busy=_JSON_LIST[dialect].format(name="busy")
        )
        row = await self._conn.fetch_one(
            sql,
            {
                "busy": orjson.dumps(list(busy_hosts)).decode(),
                "after": -1 if after is None else to_us(after),
                "lease_after": -1 if lease_after is None else to_us(lease_after),
            },
        )
        return _next_due(row)

    async def waiting_dispatches(self, account_sid: str) -> int:
        """The account's messages whose dispatch job is not done: those waiting to be sent."""
        row = await self._conn.fetch_one(
            "SELECT COUNT(*) AS n FROM jobs j JOIN messages m ON m.seq = j.message_seq "
            "WHERE j.kind = :kind AND m.account_sid = :account",
            {"kind": JobKind.DISPATCH.value, "account": account_sid},
        )
        return 0 if row is None else int(row["n"])

    async def backlogs(self, *, now: datetime) -> dict[str, int]:
        """Each account's jobs of work owed now, by its SID: those due (by the service clock)
        and those being run. Jobs due later (scheduled sends, retries backing off) and parked
        ones are not owed yet; accounts with none are absent. A scan of the queue: read at
        most once a second (services/backlog_limit.py)."""
        rows = await self._conn.fetch_all(
            "SELECT m.account_sid AS account, COUNT(*) AS n "
            "FROM jobs j JOIN messages m ON m.seq = j.message_seq "
            "WHERE j.due_at IS NOT NULL AND (j.claim IS NOT NULL OR j.due_at <= :now) "
            "GROUP BY m.account_sid",
            {"now": to_us(now)},
        )
        return {row["account"]: int(row["n"]) for row in rows}

    async def depths(self) -> list[QueueDepth]:
        """Each kind's jobs not yet done (a scan of the queue: for a scrape, not a hot path)."""
        rows = await self._conn.fetch_all(
            "SELECT kind, "
            "SUM(CASE WHEN claim IS NULL AND due_at IS NOT NULL THEN 1 ELSE 0 END) AS waiting, "
            "SUM(CASE WHEN claim IS NOT NULL THEN 1 ELSE 0 END) AS running, "
            "SUM(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END) AS parked, "
            "MIN(CASE WHEN claim IS NULL THEN due_at END) AS oldest_due_at "
            "FROM jobs GROUP BY kind"
        )
        return [
            QueueDepth(
                JobKind(row["kind"]),
                int(row["waiting"]),
                int(row["running"]),
                int(row["parked"]),
                None if row["oldest_due_at"] is None else from_us(row["oldest_due_at"]),
            )
            for row in rows
            if row["kind"] in _KINDS
        ]

    def _wake_workers(self) -> None:
        """This process's workers are woken after the commit (the Store raises the signal);
        other processes' by PostgreSQL's NOTIFY, sent with the COMMIT, once per transaction
        however often it is asked. SQLite has no other processes."""
        self._changes.jobs = True
        self._conn.notify_at_commit(JOBS_CHANNEL)


def _next_due(row: Row | None) -> NextDue:
    def at(name: str) -> datetime | None:
        return None if row is None or row[name] is None else from_us(row[name])

    return NextDue(at("delivery"), at("delivery_lease"), at("webhook"), at("webhook_lease"))


def _by_seq(job: Job) -> int:
    return job.seq


def _job(row: Row, claim: str) -> Job:
    kind = JobKind(row["kind"])
    return Job(
        seq=int(row["seq"]),
        kind=kind,
        message_sid=row["message_sid"],
        payload=payload_from_json(kind, orjson.loads(row["payload"])),
        attempts=int(row["attempts"]),
        claim=claim,
        host=row["host"],
    )


def _pending(row: Row) -> PendingJob:
    # Parked: no due time and nobody holding it (a step command takes it).
    parked = row["due_at"] is None and row["claim"] is None
    return PendingJob(row["message_sid"], JobKind(row["kind"]), parked)
