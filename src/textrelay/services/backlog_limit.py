"""The per-account backlog limit (docs/operations.md, "Limits"; issue 16 #3).

When creates arrive faster than the workers deliver, the work owed grows: status callbacks,
dispatches, carrier reports. Left unbounded, every new message waits behind all of it. An
account whose owed jobs reach the limit has its next API creates answered 429 with code 20429
(Too Many Requests), as Twilio answers when it takes no more: its clients back off and retry,
and the backlog drains meanwhile. The count is the account's own, so one tenant's flood
refuses that tenant only; everybody else's creates go on.

The backlog of every account is read in one scan of the queue at most once a second, when a
create needs it (concurrent creates share the read); this process's own accepted creates add
one each until the next read. Other processes' creates are seen at that read, so several
processes may let a few more in, never unboundedly more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from textrelay.domain import errors
from textrelay.services.context import ServiceContext

log = logging.getLogger(__name__)

READ_EVERY_S = 1.0


def backlogs_reader(ctx: ServiceContext) -> Callable[[], Awaitable[dict[str, int]]]:
    """Every account's owed jobs, read from the store."""

    async def read() -> dict[str, int]:
        async with ctx.store.read() as repo:
            return await repo.jobs.backlogs(now=ctx.now())

    return read


class BacklogLimit:
    def __init__(
        self,
        read_backlogs: Callable[[], Awaitable[dict[str, int]]],
        limit: int | None,
        *,
        read_every_s: float = READ_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_backlogs = read_backlogs
        self._limit = limit
        self._read_every_s = read_every_s
        self._monotonic = monotonic
        self._backlogs: dict[str, int] = {}
        self._refusing: set[str] = set()  # accounts refused since the last read: logged once
        self._read_at = -float("inf")
        self._reading: asyncio.Future[dict[str, int]] | None = None

    async def admit(self, account_sid: str) -> None:
        """Count a create of the account's, or refuse it (TooManyRequests) when the account's
        backlog is at the limit."""
        if self._limit is None:
            return
        backlogs = await self._current()
        owed = backlogs.get(account_sid, 0)
        if owed >= self._limit:
            if account_sid not in self._refusing:
                self._refusing.add(account_sid)
                log.warning(
                    "refusing %s's creates: %d jobs owed, the limit is %d",
                    account_sid,
                    owed,
                    self._limit,
                )
            raise errors.TooManyRequests(
                f"Account {account_sid} has {owed} messages and callbacks waiting, the most "
                f"it may have ({self._limit}): retry after a pause"
            )
        backlogs[account_sid] = owed + 1

    async def _current(self) -> dict[str, int]:
        if self._monotonic() - self._read_at < self._read_every_s:
            return self._backlogs
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
        reading = self._reading
        # shield: a create whose request is cancelled must not cancel the others' read.
        return await asyncio.shield(reading)

    async def _read(self) -> dict[str, int]:
        try:
            backlogs = await self._read_backlogs()
        finally:
            self._reading = None
        self._backlogs = backlogs
        self._refusing.clear()
        self._read_at = self._monotonic()
        return backlogs
