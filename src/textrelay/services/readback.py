"""Read-back for tests: what a phone received, a message's history and callback attempts, the
jobs still pending (so a test can wait for the pipeline to be idle), and resetting an
account's messages. textrelay's own control API (api/control.py) serves it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from textrelay.domain.accounts import Account
from textrelay.domain.addresses import AddressError, parse_recipient
from textrelay.domain.jobs import PendingJob
from textrelay.domain.messages import Message, MessageEvent
from textrelay.domain.patterns import Pattern
from textrelay.domain.webhooks import RecordedAttempt
from textrelay.services.context import ServiceContext
from textrelay.services.media import MediaService

MAX_WAIT_S = 30.0
_POLL_S = 0.25
"""Another process may create the awaited message; PostgreSQL gives no wake-up for that."""


@dataclass(frozen=True, slots=True)
class ReceivedFilter:
    contains: str | None = None
    pattern: Pattern | None = None
    """An RE2 pattern (domain/patterns.py): linear time over any body."""
    after_sid: str | None = None

    def matches(self, message: Message) -> bool:
        if self.contains is not None and self.contains not in message.body:
            return False
        return self.pattern is None or self.pattern.search(message.body)


class ReadbackService:
    def __init__(self, ctx: ServiceContext, media: MediaService) -> None:
        self._ctx = ctx
        self._media = media

    async def received(
        self,
        account: Account,
        to: str,
        match: ReceivedFilter,
        *,
        wait_s: float = 0.0,
        limit: int = 50,
    ) -> list[Message]:
        """Messages to `to` that match, newest first; with `wait_s`, wait (bounded by
        MAX_WAIT_S) until at least one does."""
        deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
        while True:
            seen = self._ctx.messages_changed.generation
            async with self._ctx.store.read() as repo:
                found = await repo.messages.addressed_to(
                    account.sid, to, after_sid=match.after_sid, limit=limit
                )
            matching = [m for m in found if match.matches(m)]
            remaining = deadline - time.monotonic()
            if matching or remaining <= 0:
                return matching
            await self._ctx.messages_changed.wait(min(remaining, _POLL_S), since=seen)

    async def events(self, message: Message) -> list[MessageEvent]:
        async with self._ctx.store.read() as repo:
            return await repo.events.of_message(message)

    async def attempts(self, message: Message) -> list[RecordedAttempt]:
        async with self._ctx.store.read() as repo:
            return await repo.attempts.of_message(message.sid)

    async def conversation(
        self, account: Account, one: str, other: str, limit: int = 1000
    ) -> list[Message]:
        addresses = []
        for text in (one, other):
            try:
                addresses.append(parse_recipient(text).value)
            except AddressError:
                addresses.append(text.strip())
        async with self._ctx.store.read() as repo:
            return await repo.messages.conversation(
                account.sid, addresses[0], addresses[1], limit=limit
            )

    async def pending_jobs(self, message: Message) -> list[PendingJob]:
        """The message's jobs not yet done, oldest first. Claimed jobs count, and so does a
        carrier report parked for a step (manual mode): none left means the pipeline owes the
        message nothing more."""
        async with self._ctx.store.read() as repo:
            return await repo.jobs.pending_of_message(message.sid)

    async def pending_jobs_of_account(self, account: Account) -> list[PendingJob]:
        """`pending_jobs` for every message of the account (not its subaccounts'), oldest
        first."""
        async with self._ctx.store.read() as repo:
            return await repo.jobs.pending_of_account(account.sid)

    async def opt_outs(self, account: Account) -> list[tuple[str, str, datetime]]:
        async with self._ctx.store.read() as repo:
            return await repo.opt_outs.of_account(account.sid)

    async def reset(self, account: Account) -> int:
        async with self._ctx.store.transaction() as repo:
            media = await repo.media.sids_of_account(account.sid)
            deleted = await repo.messages.delete_all_of_account(account.sid)
        await self._media.forget_files(media)
        return deleted
