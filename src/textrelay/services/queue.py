"""The job queue as workers see it: claim due jobs, learn when the next is due, give a failed
job back for later. The worker runner reaches the queue only through this service, as it
reaches nothing else of storage.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from textrelay.domain.jobs import Job
from textrelay.services.context import ServiceContext, Signal
from textrelay.services.errors import StorageFailure, service_failure
from textrelay.storage import StorageError, Unlisten
from textrelay.storage.jobs import JOBS_CHANNEL


class JobQueue:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @property
    def ready(self) -> Signal:
        """Raised when jobs may have become claimable (a commit, the clock, another process)."""
        return self._ctx.jobs_ready

    def now(self) -> datetime:
        return self._ctx.clock()

    async def open(self) -> Unlisten:
        """Start serving a runner: take back claims a dead process left (SQLite, where one
        process owns the queue) and listen for other processes' jobs (PostgreSQL). Returns
        how to stop listening; the count of jobs taken back is logged by the caller."""
        try:
            return await self._ctx.store.database.listen(JOBS_CHANNEL, self.ready.notify)
        except StorageError as exc:
            raise service_failure(exc) from exc

    async def take_back_orphans(self) -> int:
        """Claims found when a SQLite process starts belonged to a process that died: make
        their jobs due now. 0 on PostgreSQL, where leases end by themselves."""
        if self._ctx.store.database.dialect != "sqlite":
            return 0
        async with self._ctx.store.transaction() as repo:
            return await repo.jobs.release_all_claims(now=self.now())

    async def claim(self, *, limit: int, lease_s: float, claim_prefix: str) -> list[Job]:
        now = self.now()
        claim = f"{claim_prefix}-{secrets.token_hex(6)}"
        async with self._ctx.store.transaction() as repo:
            return await repo.jobs.claim(
                now=now, lease_until=now + timedelta(seconds=lease_s), claim=claim, limit=limit
            )

    async def next_due_at(self) -> datetime | None:
        """When the next job can be claimed; None when none is due (or storage failed: the
        runner's idle bound covers that)."""
        try:
            async with self._ctx.store.read() as repo:
                return await repo.jobs.next_due_at()
        except StorageFailure:
            return None

    async def back_off(self, job: Job, delay_s: float) -> None:
        """Give a job whose handler failed back to the queue, due again after `delay_s`."""
        async with self._ctx.store.transaction() as repo:
            await repo.jobs.reschedule(job, due_at=self.now() + timedelta(seconds=delay_s))
