"""Messaging Services (messaging.twilio.com/v1), their sender pools, and short codes.

Facts: shared/twilio/messaging-and-webhooks.md §1 and api-core.md §2.7. Sending through a
service lives in services/messaging.py (create) and services/delivery.py (sender choice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.addresses import region_of
from textrelay.domain.messaging_services import (
    MAX_FRIENDLY_NAME,
    MessagingServiceResource,
    PoolSender,
    SenderKind,
    ServiceSettings,
    ShortCode,
    is_alpha_sender,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.domain.statuses import MessageStatus
from textrelay.services.callbacks import promise_status_callback
from textrelay.services.context import ServiceContext
from textrelay.services.errors import WriteConflict
from textrelay.services.owned import BySid, OwnedT, find_owned, get_owned
from textrelay.storage import Repository

_SHORT_CODE_LENGTHS = range(3, 9)


class MessagingServiceRegistry:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    # --- services --------------------------------------------------------------------------

    async def create(
        self, account: Account, friendly_name: str | None, settings: ServiceSettings
    ) -> MessagingServiceResource:
        if not friendly_name:
            raise errors.MissingParameter("FriendlyName")
        _check_name(friendly_name)
        now = self._ctx.now()
        service = MessagingServiceResource(
            sid=self._ctx.sids.new(SidType.MESSAGING_SERVICE),
            account_sid=account.sid,
            friendly_name=friendly_name,
            settings=settings,
            date_created=now,
            date_updated=now,
        )
        async with self._ctx.store.transaction() as repo:
            await repo.services.insert(service)
        return service

    async def get(self, account: Account, sid: str) -> MessagingServiceResource:
        service = await self.find(account, sid)
        if service is None:
            raise errors.NotFound()
        return service

    async def find(self, account: Account, sid: str) -> MessagingServiceResource | None:
        """The account's service `sid`, or None (another account's service is invisible)."""
        # services/owned.find_owned's rule, written out: every create naming a
        # MessagingServiceSid comes through here, and the hot path takes no helper frames.
        if not is_sid(sid, SidType.MESSAGING_SERVICE):
            return None
        async with self._ctx.store.read() as repo:
            service = await repo.services.get(normalize(sid))
        if service is None or service.account_sid != account.sid:
            return None
        return service

    async def list(
        self, account: Account, query: PageQuery
    ) -> PageResult[MessagingServiceResource]:
        async with self._ctx.store.read() as repo:
            return await repo.services.page(account.sid, query)

    async def update(
        self,
        account: Account,
        sid: str,
        friendly_name: str | None,
        changes: dict[str, Any],
    ) -> MessagingServiceResource:
        service = await self.get(account, sid)
        if friendly_name is not None:
            _check_name(friendly_name)
        updated = replace(
            service,
            friendly_name=friendly_name or service.friendly_name,
            settings=replace(service.settings, **changes),
            date_updated=self._ctx.now(),
        )
        async with self._ctx.store.transaction() as repo:
            await repo.services.update(updated)
        return updated

    async def delete(self, account: Account, sid: str) -> None:
        """Delete a service. Its scheduled and not-yet-assigned messages are canceled (with
        their `canceled` callback): they could never be sent without it."""
        service = await self.get(account, sid)
        now = self._ctx.now()
        async with self._ctx.store.transaction() as repo:
            waiting = await repo.messages.of_service(
                service.sid, (MessageStatus.SCHEDULED, MessageStatus.ACCEPTED)
            )
            for message in waiting:
                canceled = replace(message, status=MessageStatus.CANCELED, date_updated=now)
                if await repo.messages.transition(canceled, from_status=message.status):
                    await repo.events.insert(
                        message.sid, canceled.status, None, now, previous=message.status
                    )
                    await promise_status_callback(repo, canceled, now=self._ctx.clock())
            await repo.services.delete(service.sid)

    # --- sender pools ----------------------------------------------------------------------

    async def add_phone_number(
        self, account: Account, service_sid: str, phone_number_sid: str | None
    ) -> PoolSender:
        service = await self.get(account, service_sid)
        number = await self._named_sender(
            account,
            "PhoneNumberSid",
            phone_number_sid,
            SidType.PHONE_NUMBER,
            lambda repo: repo.numbers,
        )
        caps = number.capabilities
        capabilities = tuple(
            name for name, on in (("MMS", caps.mms), ("SMS", caps.sms), ("Voice", caps.voice)) if on
        )
        return await self._add(
            service,
            SenderKind.PHONE_NUMBER,
            number.sid,
            number.phone_number,
            region_of(number.phone_number),
            capabilities,
        )

    async def add_short_code(
        self, account: Account, service_sid: str, short_code_sid: str | None
    ) -> PoolSender:
        service = await self.get(account, service_sid)
        code = await self._named_sender(
            account,
            "ShortCodeSid",
            short_code_sid,
            SidType.SHORT_CODE,
            lambda repo: repo.short_codes,
        )
        return await self._add(
            service,
            SenderKind.SHORT_CODE,
            code.sid,
            code.short_code,
            code.country_code,
            code.capabilities,
        )

    async def add_alpha_sender(
        self, account: Account, service_sid: str, alpha_sender: str | None
    ) -> PoolSender:
        service = await self.get(account, service_sid)
        if not alpha_sender:
            raise errors.AlphaSenderMissing()
        if not is_alpha_sender(alpha_sender):
            raise errors.AlphaSenderInvalid(alpha_sender)
        async with self._ctx.store.read() as repo:
            existing = await repo.senders.find(service.sid, SenderKind.ALPHA_SENDER, alpha_sender)
        if existing is not None:
            raise errors.SenderAlreadyInService()
        return await self._add(
            service,
            SenderKind.ALPHA_SENDER,
            self._ctx.sids.new(SidType.ALPHA_SENDER),
            alpha_sender,
            None,
            ("SMS",),
        )

    async def _named_sender(
        self,
        account: Account,
        parameter: str,
        sid: str | None,
        kind: SidType,
        store: Callable[[Repository], BySid[OwnedT]],
    ) -> OwnedT:
        """The account's number or short code whose SID `parameter` gives (20404 if none)."""
        if not sid:
            raise errors.MissingParameter(parameter)
        found = await find_owned(self._ctx, account, sid, store, kind)
        if found is None:
            raise errors.SenderNotFound(parameter, sid)
        return found

    async def _add(
        self,
        service: MessagingServiceResource,
        kind: SenderKind,
        sid: str,
        address: str,
        country_code: str | None,
        capabilities: tuple[str, ...],
    ) -> PoolSender:
        now = self._ctx.now()
        sender = PoolSender(
            sid=sid,
            service_sid=service.sid,
            account_sid=service.account_sid,
            kind=kind,
            address=address,
            country_code=country_code,
            capabilities=capabilities,
            date_created=now,
            date_updated=now,
        )
        try:
            async with self._ctx.store.transaction() as repo:
                await self._refuse_if_pooled(repo, sender)
                await repo.senders.insert(sender)
        except WriteConflict:
            # Added by a concurrent request between the check and the insert.
            raise errors.SenderInAnotherService() from None
        return sender

    @staticmethod
    async def _refuse_if_pooled(repo: Repository, sender: PoolSender) -> None:
        pooled = await repo.senders.get(sender.sid)
        if pooled is None:
            return
        if pooled.service_sid == sender.service_sid:
            raise errors.SenderAlreadyInService()
        raise errors.SenderInAnotherService()

    async def pool(self, service: MessagingServiceResource) -> Sequence[PoolSender]:
        """Every sender in a service's pool, oldest first."""
        async with self._ctx.store.read() as repo:
            return await repo.senders.of_service(service.sid)

    async def pool_addresses(self, service_sid: str) -> set[str]:
        async with self._ctx.store.read() as repo:
            return {sender.address for sender in await repo.senders.of_service(service_sid)}

    async def list_pool(
        self, account: Account, service_sid: str, kind: SenderKind, query: PageQuery
    ) -> PageResult[PoolSender]:
        service = await self.get(account, service_sid)
        async with self._ctx.store.read() as repo:
            return await repo.senders.page(service.sid, kind, query)

    async def get_pool_sender(
        self, account: Account, service_sid: str, kind: SenderKind, sid: str
    ) -> PoolSender:
        service = await self.get(account, service_sid)
        async with self._ctx.store.read() as repo:
            sender = await repo.senders.get(normalize(sid)) if is_sid(sid) else None
        if sender is None or sender.service_sid != service.sid or sender.kind is not kind:
            raise errors.NotFound()
        return sender

    async def remove_pool_sender(
        self, account: Account, service_sid: str, kind: SenderKind, sid: str
    ) -> None:
        """Take a sender out of the pool (the number itself stays). Messages it is already
        sending keep it: they carry their From."""
        sender = await self.get_pool_sender(account, service_sid, kind, sid)
        async with self._ctx.store.transaction() as repo:
            await repo.senders.remove(sender)

    # --- short codes -----------------------------------------------------------------------

    async def provision_short_code(
        self,
        account: Account,
        short_code: str,
        *,
        friendly_name: str | None = None,
        country_code: str = "US",
    ) -> ShortCode:
        """textrelay's own: Twilio provisions short codes out of band (docs/control-api.md)."""
        if not short_code.isdigit() or len(short_code) not in _SHORT_CODE_LENGTHS:
            raise errors.InvalidParameter("short_code is 3 to 8 digits")
        if len(country_code) != 2 or not country_code.isalpha():
            raise errors.InvalidParameter("country_code is an ISO 3166 two-letter code")
        now = self._ctx.now()
        code = ShortCode(
            sid=self._ctx.sids.new(SidType.SHORT_CODE),
            account_sid=account.sid,
            short_code=short_code,
            friendly_name=friendly_name or short_code,
            country_code=country_code.upper(),
            date_created=now,
            date_updated=now,
        )
        try:
            async with self._ctx.store.transaction() as repo:
                await repo.short_codes.insert(code)
        except WriteConflict:
            raise errors.InvalidParameter(
                f"Short code {short_code} is already provisioned"
            ) from None
        return code

    async def get_short_code(self, account: Account, sid: str) -> ShortCode:
        return await get_owned(
            self._ctx, account, sid, lambda repo: repo.short_codes, SidType.SHORT_CODE
        )

    async def short_code_owner(self, short_code: str) -> str | None:
        async with self._ctx.store.read() as repo:
            code = await repo.short_codes.find(short_code)
        return None if code is None else code.account_sid

    async def list_short_codes(
        self,
        account: Account,
        query: PageQuery,
        *,
        friendly_name: str | None,
        short_code_like: str | None,
    ) -> PageResult[ShortCode]:
        async with self._ctx.store.read() as repo:
            return await repo.short_codes.page(
                account.sid, query, friendly_name=friendly_name, short_code_like=short_code_like
            )

    async def update_short_code(
        self, account: Account, sid: str, changes: dict[str, Any]
    ) -> ShortCode:
        code = await self.get_short_code(account, sid)
        updated = replace(code, **changes, date_updated=self._ctx.now())
        async with self._ctx.store.transaction() as repo:
            await repo.short_codes.update(updated)
        return updated


def _check_name(name: str) -> None:
    if len(name) > MAX_FRIENDLY_NAME:
        raise errors.InvalidParameter(
            f"FriendlyName is at most {MAX_FRIENDLY_NAME} characters long"
        )
