"""Every HTTP attempt of a webhook (status callbacks and inbound webhooks), for the console
and the control API."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson

from textrelay.domain.jobs import Job, JobKind
from textrelay.domain.webhooks import RecordedAttempt, WebhookAttempt
from textrelay.storage.connection import Row
from textrelay.storage.jobs import JOBS_CHANNEL, JobStore
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us

_ATTEMPT_ROW = (
    "(:account_sid, :message_sid, :kind, :token, :url, :method, :params, :signature, "
    ":status_code, :response_body, :content_type, :latency_ms, :error_code, "
    ":error_message, :started_at)"
)
_INSERT_ATTEMPTS = (
    "INSERT INTO webhook_attempts (account_sid, message_sid, kind, idempotency_token, "
    "url, method, params, signature, status_code, response_body, "
    "response_content_type, latency_ms, error_code, error_message, started_at) VALUES "
)
_INSERT_ATTEMPT = _INSERT_ATTEMPTS + _ATTEMPT_ROW
_PARAM = re.compile(r":(\w+)")

FinishedJob = tuple[str, Sequence[RecordedAttempt], Job]
"""A webhook job that ended: its account, the attempts it made, the job."""


@lru_cache(maxsize=64)
def _inserts_finishing(attempts: int, jobs: int) -> str:
    """PostgreSQL: `attempts` attempts, one multi-row INSERT (rows numbered in their order, as
    the console lists them; the i-th row's parameters suffixed `_i`), as a CTE of the DELETE
    that finishes `jobs` jobs (`:job_seq_k`, `:job_claim_k`) where their claims still hold
    them: one statement. A callback's NOTIFY rides along (pg_notify, delivered when the
    statement commits)."""
    finished = ", ".join(
        f"(CAST(:job_seq_{k} AS BIGINT), CAST(:job_claim_{k} AS TEXT))" for k in range(jobs)
    )
    delete = (
        f"DELETE FROM jobs j USING (VALUES {finished}) AS f (seq, claim) "
        "WHERE j.seq = f.seq AND j.claim = f.claim RETURNING (CASE WHEN j.kind = "
        f"'callback' THEN pg_notify('{JOBS_CHANNEL}', :notify_origin) END)"
    )
    if not attempts:
        return delete
    rows = ", ".join(_PARAM.sub(_suffixed(i), _ATTEMPT_ROW) for i in range(attempts))
    return f"WITH a AS ({_INSERT_ATTEMPTS}{rows}) {delete}"


def _suffixed(i: int) -> str:
    return rf":\g<1>_{i}"


def _attempt_params(account_sid: str, recorded: RecordedAttempt) -> dict[str, Any]:
    attempt = recorded.attempt
    return {
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
    }


class AttemptStore(TableStore):
    __slots__ = ()

    async def insert(self, account_sid: str, recorded: RecordedAttempt) -> None:
        await self._conn.execute(_INSERT_ATTEMPT, _attempt_params(account_sid, recorded))
        self._changes.messages = True  # the console shows attempts as they happen

    async def insert_finishing(
        self, account_sid: str, records: Sequence[RecordedAttempt], job: Job
    ) -> bool:
        """Record a webhook job's attempts and finish it, together; False if the job's lease
        was lost (the attempts are recorded all the same: they happened)."""
        return await self.insert_finishing_all([(account_sid, records, job)]) == 1

    async def insert_finishing_all(self, done: Sequence[FinishedJob]) -> int:
        """Record the attempts of webhook jobs that ended and finish them, together; how many
        were finished (a job whose lease was lost is not, its attempts recorded all the same:
        they happened). On PostgreSQL one statement, for `Store.single_statement()`, whatever
        their number. A finished callback may free its message's next one: workers are
        woken."""
        if self._conn.dialect != "postgresql":
            jobs = JobStore(self._conn, self._changes)
            finished = 0
            for account_sid, records, job in done:
                for recorded in records:
                    await self.insert(account_sid, recorded)
                finished += await jobs.finish(job)
            return finished
        params: dict[str, Any] = {"notify_origin": self._conn.notify_origin}
        attempts = 0
        for k, (account_sid, records, job) in enumerate(done):
            params[f"job_seq_{k}"] = job.seq
            params[f"job_claim_{k}"] = job.claim
            for recorded in records:
                for name, value in _attempt_params(account_sid, recorded).items():
                    params[f"{name}_{attempts}"] = value
                attempts += 1
        finished = await self._conn.execute(_inserts_finishing(attempts, len(done)), params)
        self._changes.messages = True
        if finished and any(job.kind is JobKind.CALLBACK for _, _, job in done):
            self._changes.jobs = True
        return finished

    async def of_message(self, message_sid: str) -> list[RecordedAttempt]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM webhook_attempts WHERE message_sid = :sid ORDER BY seq",
            {"sid": message_sid},
        )
        return [_recorded_attempt(row) for row in rows]


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
