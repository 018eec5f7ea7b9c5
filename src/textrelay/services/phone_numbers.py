"""IncomingPhoneNumbers: provisioning ("purchase"), configuration and release.

Rules: shared/twilio/api-core.md §2.5 and the magic values of §5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import phonenumbers

from textrelay.domain import errors, magic
from textrelay.domain.accounts import Account
from textrelay.domain.addresses import AddressError, friendly_name_for, parse_e164
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.phone_numbers import IncomingPhoneNumber, NumberConfig, NumberType
from textrelay.domain.sids import SidType
from textrelay.services.cache import TtlCache
from textrelay.services.context import ServiceContext
from textrelay.services.errors import WriteConflict
from textrelay.services.owned import get_owned

_AREA_CODE_TRIES = 20


@dataclass(frozen=True, slots=True)
class NumberFilter:
    friendly_name: str | None = None
    phone_number: str | None = None
    number_type: NumberType | None = None


def number_type_of(e164: str) -> NumberType:
    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    if kind == phonenumbers.PhoneNumberType.TOLL_FREE:
        return NumberType.TOLL_FREE
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return NumberType.MOBILE
    return NumberType.LOCAL


def like_pattern(partial: str) -> str:
    """Twilio's PhoneNumber filter: a partial number, `*` standing for any one digit."""
    escaped = partial.replace("%", "").replace("_", "")
    return "%" + escaped.replace("*", "_") + "%"


class PhoneNumberService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        # E.164 → owning account SID, or "" for "nobody" (services/cache.py: staleness bound).
        self._owners: TtlCache[str, str] = TtlCache()

    async def provision(
        self,
        account: Account,
        *,
        phone_number: str | None,
        area_code: str | None,
        number_type: NumberType | None = None,
        config: NumberConfig | None = None,
    ) -> IncomingPhoneNumber:
        if phone_number:
            e164 = self._requested_number(phone_number)
        elif area_code:
            e164 = await self._number_in_area(area_code)
        else:
            raise errors.MissingParameter("PhoneNumber")
        now = self._ctx.now()
        config = config or NumberConfig()
        if config.friendly_name is None:
            config = replace(config, friendly_name=friendly_name_for(e164))
        number = IncomingPhoneNumber(
            sid=self._ctx.sids.new(SidType.PHONE_NUMBER),
            account_sid=account.sid,
            phone_number=e164,
            number_type=number_type or number_type_of(e164),
            config=config,
            date_created=now,
            date_updated=now,
        )
        unavailable = errors.PhoneNumberUnavailable(f"PhoneNumber {e164} is unavailable.")
        try:
            async with self._ctx.store.transaction() as repo:
                if await repo.numbers.find(e164) is not None:
                    raise unavailable
                await repo.numbers.insert(number)
        except WriteConflict:
            self._owners.forget(e164)
            # Another request provisioned the same number between our check and insert.
            raise unavailable from None
        self._owners.forget(e164)
        return number

    @staticmethod
    def _requested_number(phone_number: str) -> str:
        try:
            e164 = parse_e164(phone_number)
        except AddressError:
            raise errors.PhoneNumberInvalid(f"PhoneNumber {phone_number} is invalid.") from None
        if e164 == magic.NUMBER_INVALID:
            raise errors.PhoneNumberInvalid(f"PhoneNumber {e164} is invalid.")
        if e164 == magic.NUMBER_UNAVAILABLE:
            raise errors.PhoneNumberUnavailable(f"PhoneNumber {e164} is unavailable.")
        return e164

    async def _number_in_area(self, area_code: str) -> str:
        if area_code == magic.AREA_CODE_EMPTY or not (
            len(area_code) == 3 and area_code.isdigit() and area_code[0] not in "01"
        ):
            raise errors.NoNumbersInAreaCode(f"No phone numbers found in area code {area_code}.")
        if area_code == magic.AREA_CODE_MAGIC:
            return magic.MAGIC_NUMBER_OK
        async with self._ctx.store.read() as repo:
            for _ in range(_AREA_CODE_TRIES):
                digits = int(self._ctx.sids.new_hex(4), 16)
                exchange = 200 + digits % 800
                line = (digits // 800) % 10000
                candidate = f"+1{area_code}{exchange:03d}{line:04d}"
                if await repo.numbers.find(candidate) is None:
                    return candidate
        raise errors.NoNumbersInAreaCode(f"No phone numbers found in area code {area_code}.")

    async def get(self, account: Account, sid: str) -> IncomingPhoneNumber:
        return await get_owned(
            self._ctx, account, sid, lambda repo: repo.numbers, SidType.PHONE_NUMBER
        )

    async def owner_of(self, e164: str) -> str | None:
        """The SID of the account owning `e164`, if any account does."""
        owner = self._owners.get(e164)
        if owner is None:
            async with self._ctx.store.read() as repo:
                owner = await repo.numbers.owner_of(e164) or ""
            self._owners.put(e164, owner)
        return owner or None

    async def list(
        self, account: Account, query: PageQuery, filters: NumberFilter
    ) -> PageResult[IncomingPhoneNumber]:
        pattern = like_pattern(filters.phone_number) if filters.phone_number else None
        async with self._ctx.store.read() as repo:
            return await repo.numbers.page(
                account.sid,
                query,
                friendly_name=filters.friendly_name,
                phone_number_like=pattern,
                number_type=filters.number_type,
            )

    async def update(
        self,
        account: Account,
        sid: str,
        config: NumberConfig,
        *,
        move_to: Account | None = None,
    ) -> IncomingPhoneNumber:
        number = await self.get(account, sid)
        updated = replace(number, config=config)
        if move_to is not None:
            updated = replace(updated, account_sid=move_to.sid)
        if updated == number:
            return number
        updated = replace(updated, date_updated=self._ctx.now())
        async with self._ctx.store.transaction() as repo:
            await repo.numbers.update(updated)
        self._owners.forget(number.phone_number)
        return updated

    async def release(self, account: Account, sid: str) -> None:
        number = await self.get(account, sid)
        async with self._ctx.store.transaction() as repo:
            await repo.numbers.delete(number)
            await repo.senders.remove_everywhere(number.sid)  # a released number leaves its pool
        self._owners.forget(number.phone_number)
