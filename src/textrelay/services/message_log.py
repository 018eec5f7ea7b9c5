"""What the web console shows beyond the API's resources: one account's message log with its
wider filters, the handsets it talks with, a look-up of any SID it may see, and a marker that
moves when anything shown changes (for pages on other processes' changes)."""

from __future__ import annotations

from textrelay.domain.accounts import Account, ApiKey
from textrelay.domain.media import Media
from textrelay.domain.messages import LogFilter, Message
from textrelay.domain.messaging_services import MessagingServiceResource, PoolSender, ShortCode
from textrelay.domain.phone_numbers import IncomingPhoneNumber
from textrelay.domain.sids import is_sid, normalize
from textrelay.services.context import ServiceContext
from textrelay.storage import Repository

Owned = (
    Message
    | Media
    | IncomingPhoneNumber
    | MessagingServiceResource
    | ShortCode
    | ApiKey
    | PoolSender
)
"""What an account owns that a SID names."""
Visible = Account | Owned
"""Whatever a SID can name that the console has a page for."""


class MessageLogService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def page(
        self, account: Account, log: LogFilter, *, before_seq: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        """(seq, message), newest first, from `before_seq` down; the seq pages on."""
        async with self._ctx.store.read() as repo:
            return await repo.messages.search(account.sid, log, before_seq=before_seq, limit=limit)

    async def correspondents(self, account: Account, *, limit: int) -> list[str]:
        """Addresses the account has talked with lately, newest first."""
        async with self._ctx.store.read() as repo:
            return await repo.messages.recent_correspondents(account.sid, limit=limit)

    async def pending_job_kinds(self, message: Message) -> list[str]:
        async with self._ctx.store.read() as repo:
            return await repo.jobs.pending_kinds(message.sid)

    async def latest_change(self) -> tuple[object, ...]:
        async with self._ctx.store.read() as repo:
            return await repo.messages.latest_change()

    async def locate(self, account: Account, text: str) -> Visible | None:
        """What a SID names, if `account` may see it: itself, a subaccount it owns, or a
        resource of its own. Another account's resources are "nothing"."""
        if not is_sid(text):
            return None
        sid = normalize(text)
        async with self._ctx.store.read() as repo:
            if sid.startswith("AC"):
                found = await repo.accounts.get(sid)
                if found is not None and account.sid in (found.sid, found.owner_account_sid):
                    return found
                return None
            resource = await _fetch(repo, sid)
        if resource is None or resource.account_sid != account.sid:
            return None
        return resource


async def _fetch(repo: Repository, sid: str) -> Owned | None:
    prefix = sid[:2]
    if prefix in ("SM", "MM"):
        return await repo.messages.get(sid)
    if prefix == "ME":
        return await repo.media.get(sid)
    if prefix == "PN":
        return await repo.numbers.get(sid)
    if prefix == "MG":
        return await repo.services.get(sid)
    if prefix == "SC":
        return await repo.short_codes.get(sid)
    if prefix == "SK":
        return await repo.keys.get(sid)
    if prefix == "AI":
        return await repo.senders.get(sid)
    return None
