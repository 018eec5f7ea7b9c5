"""Status callbacks: deliver a promised callback job and record every HTTP attempt.

The job was inserted with the status change it reports (services/delivery.py), so a callback
is never lost to a crash: a worker that dies mid-request leaves the job to be taken again
(at least once; `I-Twilio-Idempotency-Token` lets receivers drop the repeat).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from textrelay.domain.callbacks import status_callback_params
from textrelay.domain.jobs import Job, StatusCallback
from textrelay.domain.lifecycle import CALLBACK_STATUSES
from textrelay.domain.messages import Message
from textrelay.domain.webhooks import (
    RecordedAttempt,
    RetryPolicy,
    WebhookOutcome,
    WebhookRequest,
    recorded_attempts,
    url_for_logs,
)
from textrelay.services.accounts import AccountService
from textrelay.services.context import ServiceContext
from textrelay.services.finishing import FinishedTogether
from textrelay.services.ports import WebhookTransport
from textrelay.storage import Repository

log = logging.getLogger(__name__)


async def promise_status_callback(repo: Repository, message: Message, *, now: datetime) -> None:
    """In the transaction of a status change: the callback job it promises, if any.

    Twilio reports every status but the initial one (shared/twilio/messaging-and-webhooks.md
    §4.1) to the message's StatusCallback; the parameters are fixed now, as the status is.
    """
    url = message.options.status_callback
    if url is None or message.status not in CALLBACK_STATUSES:
        return
    callback = StatusCallback(
        account_sid=message.account_sid,
        url=url,
        params=status_callback_params(message, reported_at=now),
        token=idempotency_token(),
    )
    await repo.jobs.promise_callback(message.sid, callback, now=now)


def idempotency_token() -> str:
    # Twilio's tokens look like "<hex>-<digits>"; receivers treat them as opaque dedupe keys.
    return f"{secrets.token_hex(16)}-{secrets.randbelow(10**12):012d}"


class CallbackService:
    def __init__(
        self,
        ctx: ServiceContext,
        accounts: AccountService,
        transport: WebhookTransport,
        retry: RetryPolicy,
    ) -> None:
        self._ctx = ctx
        self._accounts = accounts
        self._transport = transport
        self._retry = retry
        self._finished = FinishedTogether(ctx)

    async def resend(self, message: Message, recorded: RecordedAttempt) -> None:
        """Deliver a recorded webhook again (the console's "resend"): same URL and parameters,
        a new idempotency token, signed anew when it goes."""
        now = self._ctx.clock()
        callback = StatusCallback(
            account_sid=message.account_sid,
            url=recorded.attempt.url,
            params=recorded.params,
            token=idempotency_token(),
            label=f"{recorded.kind} (resent)",
        )
        async with self._ctx.store.transaction() as repo:
            await repo.jobs.insert(message.sid, callback, due_at=now, now=now)

    async def deliver(self, job: Job) -> None:
        """Send the job's callbacks in order. One that fails and is to be retried stops the
        rest: the job goes again later from that one on."""
        callback = job.payload_as(StatusCallback)
        account = await self._accounts.cached(callback.account_sid)
        if account is None:  # the account is gone: nobody to sign for
            async with self._ctx.store.transaction() as repo:
                await repo.jobs.finish(job)
            return
        records: list[RecordedAttempt] = []
        for index, (params, token) in enumerate(callback.steps()):
            request = WebhookRequest(
                url=callback.url,
                params=params,
                auth_token=account.auth_token,
                idempotency_token=token,
                method=callback.method,
            )
            started = self._ctx.clock()
            outcome = await self._transport.deliver(request)
            records += recorded_attempts(
                callback.label, job.message_sid, request, outcome.attempts, started_at=started
            )
            if outcome.succeeded:
                continue
            # A later callback's deliveries are counted from its own first.
            delay = self._retry.delay_before_next(job.attempts if index == 0 else 1)
            _log_failure(callback, outcome, delay)
            if delay is not None:
                await self._retry_later(job, callback, index, delay, records)
                return
        # A lost lease means another worker delivers it again; these attempts happened all
        # the same, so they are recorded either way.
        await self._finished.finish(callback.account_sid, records, job)

    async def _retry_later(
        self,
        job: Job,
        callback: StatusCallback,
        failed: int,
        delay_s: float,
        records: list[RecordedAttempt],
    ) -> None:
        """The callback at step `failed` goes again in `delay_s`, with those after it, in the
        same job: it keeps its place before the message's later callbacks. A later step's
        deliveries are counted from its own first: one so far."""
        due = self._ctx.clock() + timedelta(seconds=delay_s)
        rest = replace(job, payload=callback.from_step(failed))
        async with self._ctx.store.transaction() as repo:
            await repo.jobs.reschedule(rest, due_at=due, attempts=None if failed == 0 else 1)
            for record in records:
                await repo.attempts.insert(callback.account_sid, record)


def _log_failure(callback: StatusCallback, outcome: WebhookOutcome, delay_s: float | None) -> None:
    """A warning an operator can act on: where the callback went and how it failed (the
    code and the receiver's status), never the attempt's full URL or error text, which may
    carry credentials (docs/operations.md, "Logs")."""
    last = outcome.last
    log.warning(
        "status callback to %s failed: %s%s; %s",
        url_for_logs(callback.url),
        last.error_code if last else "no attempt",
        f" (HTTP {last.status_code})" if last and last.status_code is not None else "",
        "given up" if delay_s is None else f"again in {delay_s:g} s",
    )
