"""Webhook jobs that end in the same loop turn are finished together: their attempts recorded
and their jobs deleted in one write (one statement on PostgreSQL, one SQLite transaction),
instead of a write each.

The runner starts many webhook jobs from one claim, and their receivers answer within a
moment of each other; each job's handler waits here until the write that finishes it (and
the others of its turn) has committed, so a job is never reported done before it is. A write
that fails fails every job in it: each is taken again (at least once, as everywhere).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textrelay.domain.jobs import Job
from textrelay.domain.webhooks import RecordedAttempt
from textrelay.services.context import ServiceContext
from textrelay.storage.attempts import FinishedJob


class FinishedTogether:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._waiting: list[tuple[FinishedJob, asyncio.Future[None]]] = []
        self._writes: set[asyncio.Task[None]] = set()

    async def finish(self, account_sid: str, records: Sequence[RecordedAttempt], job: Job) -> None:
        """Record `records` and finish `job` (if its lease holds), with the other jobs that
        end in this loop turn; returns once that is committed."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._start_write)
        # A future of its own: a handler cancelled meanwhile cannot cancel the shared write.
        done = loop.create_future()
        self._waiting.append(((account_sid, records, job), done))
        await done

    def _start_write(self) -> None:
        task = asyncio.get_running_loop().create_task(self._write())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self) -> None:
        batch, self._waiting = self._waiting, []
        try:
            async with self._ctx.store.single_statement() as repo:
                await repo.attempts.insert_finishing_all([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, done in batch:
                done.cancel()
            raise
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
