"""The job runner: claims due jobs, runs each on its own task, sleeps until there is work.

It reaches the queue through services/queue.JobQueue. Claiming is one statement
(storage/jobs.py): on PostgreSQL it skips rows other workers hold; on SQLite a claim is a
write and writes take turns. Either way any number of runners in any number of processes share
the queue. A runner sleeps until the earliest due job, or until a commit inserts a job (a
Signal in this process; from others, NOTIFY on PostgreSQL and a cheap look at SQLite's
`data_version` every few milliseconds).

Budgets. Delivery jobs (dispatch, carrier reports, auto-replies) and webhook jobs (status
callbacks, inbound webhooks) have slots of their own, so sending never waits behind somebody's
receiver. Webhook slots are shared out by host: one claim takes at most `per_host` jobs of a
host and none of a host whose jobs fill its share here; a job claimed beyond the share waits
in this runner, holding its lease but no slot, and starts when a job of its host ends. The
limit is per process: N processes call one host at most N * `per_host` times at once. A
delivery budget that filled up (a carrier's window holds its jobs) is claimed into again once
an eighth of it is free, so each job that ends does not cost a claim of its own.

Leases. A heartbeat renews the lease of every job the runner holds every `lease_s / 3`, so a
job may run longer than its lease and still runs once, while a runner that dies gives its jobs
up within `lease_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from textrelay.domain.jobs import WEBHOOK_KINDS, Job, JobKind
from textrelay.services import log_context
from textrelay.services.errors import StorageFailure
from textrelay.services.queue import ClaimLimits, JobQueue

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]

_MAX_IDLE_S = 30.0
"""The longest sleep without a wake-up: a safety net for a missed NOTIFY, not a poll."""
_ERROR_BACKOFF_MAX_S = 300.0


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    concurrency: int = 64
    """Delivery jobs (dispatch, carrier reports, auto-replies) run at once by one runner."""
    webhook_concurrency: int = 96
    """Webhook jobs (status callbacks, inbound webhooks) run at once by one runner."""
    webhook_host_concurrency: int = 48
    """Webhook jobs of one host (`host:port`) run at once by one runner: a hanging receiver
    holds this many slots, never the others'."""
    lease_s: float = 15.0
    """How long a claimed job stays with its runner without a renewal; the runner renews it
    every third of that while the job runs, so a dead runner's jobs run again this soon."""
    batch: int = 100


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[JobKind, Handler],
        settings: RunnerSettings,
    ) -> None:
        self._queue = queue
        self._handlers = handlers
        self._settings = settings
        self._delivery: set[asyncio.Task[None]] = set()
        self._webhooks: set[asyncio.Task[None]] = set()
        self._host_running: Counter[str] = Counter()
        self._host_waiting: dict[str, deque[Job]] = {}
        self._held: dict[int, Job] = {}
        """Every job this runner holds a claim on, running or waiting: the heartbeat's list."""
        self._stopping = asyncio.Event()
        self.claim_prefix = secrets.token_hex(6)
        self._refill = max(1, min(settings.concurrency // 8, settings.batch))
        """Free delivery slots a claim waits for: when jobs fill every slot (a carrier's
        window holds them), each one that ends would otherwise cost a claim and a look at
        the queue's next due job, and one claim takes several."""

    async def run(self) -> None:
        """Run until stop(); then wait for the jobs in hand (their leases cover a crash)."""
        released = self._queue.orphans_taken_back()
        if released:
            log.info("took back %d job(s) claimed before a restart", released)
        unlisten = await self._queue.open()
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            while not self._stopping.is_set():
                await self._cycle()
        finally:
            await unlisten()
            try:
                await self._drain()
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    def stop(self) -> None:
        self._stopping.set()
        self._queue.ready.notify()

    # --- claiming ----------------------------------------------------------------------------

    async def _cycle(self) -> None:
        seen = self._queue.ready.generation
        limits = self._limits()
        jobs: list[Job] = []
        if limits.delivery > 0 or limits.webhooks > 0:
            try:
                jobs = await self._queue.claim(
                    limits, lease_s=self._settings.lease_s, claim_prefix=self.claim_prefix
                )
            except StorageFailure:
                log.exception("claiming jobs failed; trying again shortly")
                await asyncio.sleep(1.0)
                return
            for job in jobs:
                self._admit(job)
        if jobs and len(jobs) == limits.delivery + limits.webhooks:
            await asyncio.sleep(0)  # more may be due: claim again after letting others run
            return
        await self._sleep(seen)

    def _limits(self) -> ClaimLimits:
        settings = self._settings
        waiting = sum(len(queue) for queue in self._host_waiting.values())
        free = settings.concurrency - len(self._delivery)
        return ClaimLimits(
            # A budget that filled up is refilled a few slots at a time, not one claim a slot.
            delivery=min(free, settings.batch) if free >= self._refill else 0,
            webhooks=max(
                min(settings.webhook_concurrency - len(self._webhooks) - waiting, settings.batch),
                0,
            ),
            per_host=settings.webhook_host_concurrency,
            busy_hosts=self._busy_hosts(),
        )

    def _busy_hosts(self) -> list[str]:
        """Hosts whose jobs fill their share of this runner: no claim takes more of them."""
        share = self._settings.webhook_host_concurrency
        return sorted(
            host
            for host, running in self._host_running.items()
            if running + len(self._host_waiting.get(host, ())) >= share
        )

    async def _sleep(self, seen: int) -> None:
        # A slot freed in a full budget (or host) raises the same signal (see _finished).
        if self._queue.ready.generation != seen:
            return  # signalled since the claim began: claim again, no need to know when
        limits = self._limits()
        wait_s = await self._queue.seconds_until_due(
            delivery=limits.delivery > 0,
            webhooks=limits.webhooks > 0,
            busy_hosts=limits.busy_hosts,
        )
        timeout = _MAX_IDLE_S if wait_s is None else min(wait_s, _MAX_IDLE_S)
        if timeout > 0:
            await self._queue.ready.wait(timeout, since=seen)

    # --- running -----------------------------------------------------------------------------

    def _admit(self, job: Job) -> None:
        self._held[job.seq] = job
        if job.kind not in WEBHOOK_KINDS:
            self._start(job, self._delivery, host=None)
            return
        host = job.host or ""  # jobs stored before hosts were share one
        if self._host_running[host] < self._settings.webhook_host_concurrency:
            self._start(job, self._webhooks, host=host)
        else:  # over the host's share: wait here for one of its jobs to end, not in a slot
            self._host_waiting.setdefault(host, deque()).append(job)

    def _start(self, job: Job, budget: set[asyncio.Task[None]], *, host: str | None) -> None:
        if host is not None:
            self._host_running[host] += 1
        task = asyncio.get_running_loop().create_task(self._run_one(job))
        budget.add(task)
        task.add_done_callback(lambda done: self._finished(done, job, budget, host))

    def _finished(
        self,
        task: asyncio.Task[None],
        job: Job,
        budget: set[asyncio.Task[None]],
        host: str | None,
    ) -> None:
        self._held.pop(job.seq, None)
        if host is None:
            budget.discard(task)
            # The budget just got room enough for a claim (see _limits).
            if self._settings.concurrency - len(budget) == self._refill:
                self._queue.ready.notify()
            return
        full = len(budget) >= self._settings.webhook_concurrency
        budget.discard(task)
        waiting = self._host_waiting.get(host)
        if waiting and not self._stopping.is_set():
            self._start(waiting.popleft(), budget, host=host)
            self._host_running[host] -= 1
            return
        if self._host_running[host] >= self._settings.webhook_host_concurrency:
            full = True  # the host had its whole share: more of its jobs may be claimed
        self._host_running[host] -= 1
        if not self._host_running[host]:
            del self._host_running[host]
            self._host_waiting.pop(host, None)
        if full:
            self._queue.ready.notify()

    async def _heartbeat(self) -> None:
        """Renew the leases of the jobs in hand, every third of a lease, until cancelled."""
        period_s = self._settings.lease_s / 3
        while True:
            await asyncio.sleep(period_s)
            held = list(self._held.values())
            if not held:
                continue
            try:
                renewed = await self._queue.renew(held, lease_s=self._settings.lease_s)
            except StorageFailure:
                log.exception("renewing leases failed; trying again in %.1f s", period_s)
                continue
            if renewed < len(held):
                # Finished between the snapshot and the update, or taken by another runner
                # after a stall longer than the lease (that one runs it again).
                log.debug("renewed %d of %d lease(s)", renewed, len(held))

    async def _run_one(self, job: Job) -> None:
        # This task's lines carry the job's ids (its own context: asyncio copied it at start).
        # Webhook and auto-reply payloads name their account; a dispatch or carrier job's
        # account is added by the delivery service once it has read the message.
        account_sid = getattr(job.payload, "account_sid", None)
        log_context.handle_job(job.kind.value, job.seq, job.message_sid, account_sid)
        handler = self._handlers.get(job.kind)
        started = time.perf_counter()
        try:
            if handler is None:
                raise LookupError(f"no handler for {job.kind} jobs")
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s (%s) failed; it runs again later", job.seq, job.kind)
            await self._back_off(job)
            return
        log.debug(
            "job %s (%s) ran in %.1f ms", job.seq, job.kind, (time.perf_counter() - started) * 1000
        )

    async def _back_off(self, job: Job) -> None:
        delay = min(2.0**job.attempts, _ERROR_BACKOFF_MAX_S)
        with contextlib.suppress(StorageFailure):
            await self._queue.back_off(job, delay)

    async def _drain(self, grace_s: float = 5.0) -> None:
        waiting = [job for queue in self._host_waiting.values() for job in queue]
        self._host_waiting.clear()
        for job in waiting:  # never started: due again now, for whoever runs next
            self._held.pop(job.seq, None)
            with contextlib.suppress(StorageFailure):
                await self._queue.back_off(job, 0.0)
        active = self._delivery | self._webhooks
        if not active:
            return
        _done, pending = await asyncio.wait(active, timeout=grace_s)
        if not pending:
            return
        cut_short = list(self._held.values())
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)
        # Due again now, for another worker, instead of when their leases end (a job whose
        # handler committed before it was cancelled is gone: releasing it changes nothing).
        for job in cut_short:
            with contextlib.suppress(StorageFailure):
                await self._queue.back_off(job, 0.0)
