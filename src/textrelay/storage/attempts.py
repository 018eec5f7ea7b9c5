"""Every HTTP attempt of a webhook (status callbacks and inbound webhooks), for the console
and the control API."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from textrelay.domain.webhooks import RecordedAttempt, WebhookAttempt
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class AttemptStore(TableStore):
    __slots__ = ()

    async def insert(self, account_sid: str, recorded: RecordedAttempt) -> None:
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
        self._changes.messages = True  # the console shows attempts as they happen

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
