"""Bounded storage: delete messages older than `retention_days`, with everything that belongs
to them, a small batch at a time (docs/operations.md, "Retention").

Each batch is one short transaction; the sweep pauses between batches so the API's own writes
(SQLite has one writer, on the event loop's thread) never queue behind a long delete. Several
nodes may sweep one PostgreSQL at once: each batch skips rows another holds, and deleting what
is already gone deletes nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from textrelay.domain.retention import SweptBatch, retention_cutoff
from textrelay.services.context import ServiceContext
from textrelay.services.media import MediaService

BATCH_SIZE = 200
"""Messages a transaction deletes at most, with their rows in other tables: about 10 ms of
SQLite's writer (measured with history, attempts, media and carrier rows for each), during
which SQLite's other writes wait."""
PAUSE_S = 0.05
"""Between batches, at least, and never less than the batch took: the sweep holds the writer
half the time at most, and a large backlog (retention turned on for a year of messages) goes
at thousands of messages a second all the same."""


class RetentionService:
    def __init__(
        self,
        ctx: ServiceContext,
        media: MediaService,
        *,
        days: int | None,
        batch_size: int = BATCH_SIZE,
        pause_s: float = PAUSE_S,
    ) -> None:
        self._ctx = ctx
        self._media = media
        self.days = days
        """How long messages are kept; None keeps them indefinitely (the sweep does nothing)."""
        self._batch_size = batch_size
        self._pause_s = pause_s

    async def sweep(self, now: datetime) -> int:
        """Delete every message created more than `days` before `now`, batch after batch,
        until a batch comes back short; how many went. Messages still waiting to be sent, or
        whose job a worker holds, stay for a later sweep (storage/messages.py says why)."""
        if self.days is None:
            return 0
        cutoff = retention_cutoff(now, self.days)
        deleted = 0
        while True:
            started = time.monotonic()
            batch = await self.delete_batch(cutoff)
            deleted += len(batch)
            if len(batch) < self._batch_size:
                return deleted
            await asyncio.sleep(max(self._pause_s, time.monotonic() - started))

    async def delete_batch(self, cutoff: datetime) -> SweptBatch:
        """One transaction: at most `batch_size` messages created before `cutoff`; their media
        bytes are removed once it has committed (a file left by a crash is harmless, a row
        without its file answers 404)."""
        async with self._ctx.store.transaction() as repo:
            batch = await repo.messages.sweep_created_before(cutoff, limit=self._batch_size)
        await self._media.forget_files(list(batch.media_sids))
        return batch
