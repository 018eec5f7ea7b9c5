"""What the web console shows beyond the API's resources: one account's message log with its
wider filters, the handsets it talks with, a look-up of any SID it may see, and a marker that
moves when anything shown changes (for pages on other processes' changes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from textrelay.domain.accounts import Account, ApiKey
from textrelay.domain.media import Media
from textrelay.domain.messages import LogFilter, Message
from textrelay.domain.messaging_services import MessagingServiceResource, PoolSender, ShortCode
from textrelay.domain.phone_numbers import IncomingPhoneNumber
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.services.context import ServiceContext
from textrelay.services.owned import BySid, find_owned
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
        if sid.startswith("AC"):
            async with self._ctx.store.read() as repo:
                found = await repo.accounts.get(sid)
            if found is not None and account.sid in (found.sid, found.owner_account_sid):
                return found
            return None
        store = _STORE_OF_PREFIX.get(sid[:2])
        return None if store is None else await find_owned(self._ctx, account, sid, store)


_STORE_OF_PREFIX: Mapping[str, Callable[[Repository], BySid[Owned]]] = {
    SidType.MESSAGE: lambda repo: repo.messages,
    SidType.MMS_MESSAGE: lambda repo: repo.messages,
    SidType.MEDIA: lambda repo: repo.media,
    SidType.PHONE_NUMBER: lambda repo: repo.numbers,
    SidType.MESSAGING_SERVICE: lambda repo: repo.services,
    SidType.SHORT_CODE: lambda repo: repo.short_codes,
    SidType.API_KEY: lambda repo: repo.keys,
    SidType.ALPHA_SENDER: lambda repo: repo.senders,
}
"""Where each kind of owned resource is kept, by its SID's prefix (SidType values are
str: a SID's first two characters look them up)."""
