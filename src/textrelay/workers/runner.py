"""The job runner: claims due jobs, runs each on its own task, sleeps until there is work.

It reaches the queue through services/queue.JobQueue. Claiming is one statement
(storage/jobs.py): on PostgreSQL it skips rows other workers hold, so any number of runners in
any number of processes share the queue; on SQLite one process owns it. A runner sleeps until
the earliest due job, or until a commit inserts a job (a Signal in this process, NOTIFY from
others): no polling while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from textrelay.domain.jobs import Job, JobKind
from textrelay.services.errors import StorageFailure
from textrelay.services.queue import JobQueue

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]

_MAX_IDLE_S = 30.0
"""The longest sleep without a wake-up: a safety net for a missed NOTIFY, not a poll."""
_ERROR_BACKOFF_MAX_S = 300.0


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    concurrency: int = 64
    """Jobs run at once by one runner; a slow webhook receiver holds one slot, not the runner."""
    lease_s: float = 60.0
    """How long a claimed job stays with its runner; it must outlast the slowest job (a
    callback may take 15 s, Twilio's total timeout)."""
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
        self._active: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.claim_prefix = secrets.token_hex(6)

    async def run(self) -> None:
        """Run until stop(); then wait for the jobs in hand (their leases cover a crash)."""
        released = await self._queue.take_back_orphans()
        if released:
            log.info("took back %d job(s) claimed before a restart", released)
        unlisten = await self._queue.open()
        try:
            while not self._stopping.is_set():
                await self._cycle()
        finally:
            await unlisten()
            await self._drain()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.ready.notify()

    async def _cycle(self) -> None:
        seen = self._queue.ready.generation
        free = self._settings.concurrency - len(self._active)
        jobs: list[Job] = []
        if free > 0:
            try:
                jobs = await self._queue.claim(
                    limit=min(free, self._settings.batch),
                    lease_s=self._settings.lease_s,
                    claim_prefix=self.claim_prefix,
                )
            except StorageFailure:
                log.exception("claiming jobs failed; trying again shortly")
                await asyncio.sleep(1.0)
                return
            for job in jobs:
                task = asyncio.get_running_loop().create_task(self._run_one(job))
                self._active.add(task)
                task.add_done_callback(self._active.discard)
        if jobs and len(jobs) == min(free, self._settings.batch):
            await asyncio.sleep(0)  # more may be due: claim again after letting others run
            return
        await self._sleep(full=len(self._active) >= self._settings.concurrency, seen=seen)

    async def _sleep(self, *, full: bool, seen: int) -> None:
        if full:
            # Every slot busy: wake when one frees (or on stop).
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({*self._active, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            return
        due = await self._queue.next_due_at()
        timeout = _MAX_IDLE_S
        if due is not None:
            timeout = min(max((due - self._queue.now()).total_seconds(), 0.0), _MAX_IDLE_S)
        if timeout > 0:
            await self._queue.ready.wait(timeout, since=seen)

    async def _run_one(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for {job.kind} jobs")
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s (%s) failed; it runs again later", job.seq, job.kind)
            await self._back_off(job)

    async def _back_off(self, job: Job) -> None:
        delay = min(2.0**job.attempts, _ERROR_BACKOFF_MAX_S)
        with contextlib.suppress(StorageFailure):
            await self._queue.back_off(job, delay)

    async def _drain(self, grace_s: float = 5.0) -> None:
        if not self._active:
            return
        _done, pending = await asyncio.wait(set(self._active), timeout=grace_s)
        for task in pending:
            task.cancel()  # its lease ends and another run takes the job again
        if pending:
            await asyncio.wait(pending)
