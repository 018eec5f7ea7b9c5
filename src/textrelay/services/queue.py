"""The job queue as workers see it: claim due jobs, keep their leases, learn when the next is
due, give a failed job back for later. The worker runner reaches the queue only through this
service, as it reaches nothing else of storage.

Leases are measured on the lease clock, real time, not on the service clock that tests move
forward (services/clock.py): moving the clock makes scheduled work due, never a job in flight.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from textrelay.domain.jobs import Job
from textrelay.services.context import Clock, ServiceContext, Signal
from textrelay.services.errors import StorageFailure, service_failure
from textrelay.storage import StorageError, Unlisten
from textrelay.storage.jobs import JOBS_CHANNEL, NextDue


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """What one claim may take: jobs of each budget, and of one host at most `per_host`,
    none of `busy_hosts`."""

    delivery: int
    webhooks: int
    per_host: int
    busy_hosts: Sequence[str] = ()


class JobQueue:
    def __init__(self, ctx: ServiceContext, *, lease_clock: Clock) -> None:
        self._ctx = ctx
        self._lease_clock = lease_clock
        self._last_claim: tuple[datetime, datetime] | None = None
        """The (service, lease) clocks' times of this runner's last claim: what was due then
        and left unclaimed is blocked (its host busy, its turn not come), and only a signal
        frees it, so `seconds_until_due` looks past it."""
        self._due_after_claim: tuple[int, NextDue] | None = None
        """What the last claim learnt is due next, with the signal's generation before it:
        good until a signal says the queue changed since."""

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
            return await self._ctx.store.database.listen(JOBS_CHANNEL, self._heard_another)
        except StorageError as exc:
            raise service_failure(exc) from exc

    def _heard_another(self) -> None:
        """Another process committed (on SQLite anything, on PostgreSQL jobs): the queue may
        have changed, and so may messages that the console's event streams and read-back
        waits show, which otherwise look for other processes' changes on a timer."""
        self.ready.notify()
        self._ctx.messages_changed.notify()

    def orphans_taken_back(self) -> int:
        """Jobs a dead process had claimed, made due now as this process opened the database
        (the first process on a SQLite file; storage/sqlite_processes.py)."""
        return self._ctx.store.database.claims_taken_back

    async def claim(self, limits: ClaimLimits, *, lease_s: float, claim_prefix: str) -> list[Job]:
        """Lease due jobs within `limits` (one statement), each for `lease_s` seconds."""
        lease_now, now = self._lease_clock(), self.now()
        claim = f"{claim_prefix}-{secrets.token_hex(6)}"
        generation = self.ready.generation
        # One statement, atomic by itself: no BEGIN and COMMIT round trips on PostgreSQL, and
        # the next due times come with the claim, for the runner's sleep after it.
        async with self._ctx.store.single_statement() as repo:
            claimed, due = await repo.jobs.claim(
                now=now,
                lease_now=lease_now,
                lease_until=lease_now + timedelta(seconds=lease_s),
                claim=claim,
                delivery_limit=limits.delivery,
                webhook_limit=limits.webhooks,
                per_host=limits.per_host,
                busy_hosts=limits.busy_hosts,
            )
        self._last_claim = (now, lease_now)
        self._due_after_claim = None if due is None else (generation, due)
        return claimed

    async def renew(self, jobs: Sequence[Job], *, lease_s: float) -> int:
        """Extend the leases of jobs still held by their claims to `lease_s` from now; how
        many were (fewer: a job finished meanwhile, or its lease was lost)."""
        until = self._lease_clock() + timedelta(seconds=lease_s)
        async with self._ctx.store.single_statement() as repo:
            return await repo.jobs.renew(jobs, lease_until=until)

    async def seconds_until_due(
        self, *, delivery: bool, webhooks: bool, busy_hosts: Sequence[str] = ()
    ) -> float | None:
        """Seconds until a job of an open budget (`delivery`, `webhooks`) can be claimed, due
        or with its lease ended, hosts in `busy_hosts` left out; None when none will be (or
        storage failed: the runner's idle bound covers that)."""
        learnt, self._due_after_claim = self._due_after_claim, None
        if learnt is not None and learnt[0] == self.ready.generation:
            # Nothing changed since the claim. Hosts busy since then may still count in it:
            # at worst a wake-up that finds nothing.
            due = learnt[1]
        else:
            try:
                async with self._ctx.store.read() as repo:
                    due = await repo.jobs.next_due(
                        busy_hosts=busy_hosts,
                        after=None if self._last_claim is None else self._last_claim[0],
                        lease_after=None if self._last_claim is None else self._last_claim[1],
                    )
            except StorageFailure:
                return None
        now, lease_now = self.now(), self._lease_clock()
        waits = []
        if delivery:
            waits += [_until(due.delivery, now), _until(due.delivery_lease, lease_now)]
        if webhooks:
            waits += [_until(due.webhook, now), _until(due.webhook_lease, lease_now)]
        known = [wait for wait in waits if wait is not None]
        return min(known) if known else None

    async def back_off(self, job: Job, delay_s: float) -> None:
        """Give a job whose handler failed back to the queue, due again after `delay_s`."""
        async with self._ctx.store.single_statement() as repo:
            await repo.jobs.reschedule(job, due_at=self.now() + timedelta(seconds=delay_s))


def _until(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max((moment - now).total_seconds(), 0.0)
