"""The per-account queue limit (docs/operations.md, "Limits").

Twilio holds an account's messages in a queue and fails those it cannot send in time with
30001 Queue overflow: the create is still answered 201 `queued`, and the failure arrives as a
status callback. textrelay bounds the queue by count: an account with `limit` messages
waiting to be sent gets its next ones accepted and failed the same way, at their dispatch.
"""

from __future__ import annotations

from textrelay.services.cache import TtlCache
from textrelay.services.context import ServiceContext


class QueueLimit:
    def __init__(self, ctx: ServiceContext, limit: int | None) -> None:
        self._ctx = ctx
        self._limit = limit
        # The count is read at most once a second an account (a join over the waiting
        # dispatch jobs), and the messages this process queues are added to it meanwhile
        # (without putting the next read off): other processes' are seen within the second.
        self._waiting: TtlCache[str, int] = TtlCache()

    async def overflows(self, account_sid: str) -> bool:
        """Whether a message the account creates now is one too many; counts it if not (in
        the same step as the check, so concurrent creates cannot pass it together)."""
        if self._limit is None:
            return False
        waiting = await self._waiting.get_or_load(account_sid, self._count)
        if waiting is None or waiting >= self._limit:
            return True
        self._waiting.update(account_sid, waiting + 1)
        return False

    def never_queued(self, account_sid: str) -> None:
        """A message `overflows` counted that the simulator took at its create: it never
        waits, so it is not counted (a burst of those is no queue)."""
        waiting = self._waiting.get(account_sid)
        if waiting:
            self._waiting.update(account_sid, waiting - 1)

    async def _count(self, account_sid: str) -> int:
        async with self._ctx.store.read() as repo:
            return await repo.jobs.waiting_dispatches(account_sid)
