"""Accounts, subaccounts, API keys and who may act on which account.

Rules: shared/twilio/api-core.md §2.1, §2.6 and §6. Every denial is the same 401/20003, so a
caller learns nothing about accounts it may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textrelay.domain import errors
from textrelay.domain.accounts import (
    Account,
    AccountStatus,
    AccountType,
    ApiKey,
    can_act_on,
    default_subaccount_name,
    hash_secret,
    secret_matches,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.services.cache import TtlCache
from textrelay.services.context import ServiceContext
from textrelay.services.owned import get_owned
from textrelay.storage import Repository

MAIN_ACCOUNT_KEY = "main_account_sid"
MAX_FRIENDLY_NAME = 64


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account whose credentials were given, and the key if one was."""

    account: Account
    key_sid: str | None = None

    @property
    def uses_key(self) -> bool:
        return self.key_sid is not None


@dataclass(frozen=True, slots=True)
class MainAccount:
    account: Account
    token_generated: bool
    """Whether this start generated the auth token: the one time `serve` prints it."""


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str


def _friendly_name(value: str) -> str:
    if len(value) > MAX_FRIENDLY_NAME:
        raise errors.InvalidParameter(
            f"FriendlyName must be at most {MAX_FRIENDLY_NAME} characters"
        )
    return value


class AccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        # Accounts and keys by SID, for authentication (services/cache.py: the staleness bound).
        self._accounts: TtlCache[str, Account] = TtlCache()
        self._keys: TtlCache[str, ApiKey] = TtlCache()

    async def cached(self, sid: str) -> Account | None:
        """The account `sid`, from the one-second cache that authentication uses (a change
        made through this process is seen at once): for workers that sign webhooks."""
        return await self._accounts.get_or_load(sid, self._load_account)

    def forget(self, sid: str) -> None:
        """Drop the cached account `sid` after a change this process made to it."""
        self._accounts.forget(sid)

    async def _key(self, sid: str) -> ApiKey | None:
        return await self._keys.get_or_load(sid, self._load_key)

    async def _load_account(self, sid: str) -> Account | None:
        async with self._ctx.store.read() as repo:
            return await repo.accounts.get(sid)

    async def _load_key(self, sid: str) -> ApiKey | None:
        async with self._ctx.store.read() as repo:
            return await repo.keys.get(sid)

    # --- the main account ------------------------------------------------------------------

    async def ensure_main_account(
        self, sid: str | None = None, auth_token: str | None = None
    ) -> MainAccount:
        """The main account: the one configured, else the one generated on first start.

        Exclusive, so processes starting together on one PostgreSQL agree on one account.
        """
        generated = False
        async with self._ctx.store.exclusive() as repo:
            if sid is None:
                sid = await repo.meta.get(MAIN_ACCOUNT_KEY)
            existing = await repo.accounts.get(sid) if sid else None
            now = self._ctx.now()
            if existing is None:
                generated = auth_token is None
                account = Account(
                    sid=sid or self._ctx.sids.new(SidType.ACCOUNT),
                    owner_account_sid="",
                    friendly_name="textrelay main account",
                    status=AccountStatus.ACTIVE,
                    type=AccountType.FULL,
                    auth_token=auth_token or self._ctx.sids.new_hex(),
                    date_created=now,
                    date_updated=now,
                )
                account = replace(account, owner_account_sid=account.sid)
                await repo.accounts.insert(account)
            elif auth_token and auth_token != existing.auth_token:
                account = replace(existing, auth_token=auth_token, date_updated=now)
                await repo.accounts.update(account)
            else:
                account = existing
            await repo.meta.set(MAIN_ACCOUNT_KEY, account.sid)
        self._accounts.forget(account.sid)
        return MainAccount(account, token_generated=generated)

    async def main_account(self, sid: str | None = None) -> Account | None:
        """The main account `ensure_main_account` would give, without creating or changing
        it: the account `sid`, else the one generated on first start; None if there is none."""
        async with self._ctx.store.read() as repo:
            if sid is None:
                sid = await repo.meta.get(MAIN_ACCOUNT_KEY)
            return await repo.accounts.get(sid) if sid else None

    async def create_main_account(self, friendly_name: str = "textrelay account") -> Account:
        """Another top-level account (tests and the console use these to keep data apart;
        operators, `textrelay accounts create`)."""
        now = self._ctx.now()
        sid = self._ctx.sids.new(SidType.ACCOUNT)
        account = Account(
            sid,
            sid,
            _friendly_name(friendly_name),
            AccountStatus.ACTIVE,
            AccountType.FULL,
            self._ctx.sids.new_hex(),
            now,
            now,
        )
        async with self._ctx.store.transaction() as repo:
            await repo.accounts.insert(account)
        return account

    # --- authentication and authorization --------------------------------------------------

    async def authenticate(self, username: str | None, password: str | None) -> Principal:
        if not username or not password:
            raise errors.Unauthenticated()
        if is_sid(username, SidType.ACCOUNT):
            account = await self.cached(normalize(username))
            if account is None or not account.accepts_token(password):
                raise errors.Unauthenticated()
            principal = Principal(account)
        elif is_sid(username, SidType.API_KEY):
            key = await self._key(normalize(username))
            if key is None or not secret_matches(password, key.secret_hash):
                raise errors.Unauthenticated()
            owner = await self.cached(key.account_sid)
            if owner is None:
                raise errors.Unauthenticated()
            principal = Principal(owner, key.sid)
        else:
            raise errors.Unauthenticated()
        if principal.account.status is not AccountStatus.ACTIVE:
            raise errors.Unauthenticated()
        return principal

    async def resolve(
        self, principal: Principal, account_sid: str, *, account_admin: bool = False
    ) -> Account:
        """The account named in the path, if the caller may act on it.

        `account_admin` marks the Accounts and Keys resources, which Standard API keys (the
        only kind textrelay issues) may not touch. A key acts only on its own account.
        """
        if account_admin and principal.uses_key:
            raise errors.Unauthenticated()
        if not is_sid(account_sid, SidType.ACCOUNT):
            raise errors.Unauthenticated()
        sid = normalize(account_sid)
        if sid == principal.account.sid:
            return principal.account
        if principal.uses_key:
            raise errors.Unauthenticated()
        target = await self.cached(sid)
        if target is None or not can_act_on(principal.account, target):
            raise errors.Unauthenticated()
        return target

    async def acting_as(self, signed_in_sid: str, requested_sid: str | None) -> Account | None:
        """The account a console user signed in as `signed_in_sid` works on: a subaccount it
        owns when one is requested, else its own (None if that is gone)."""
        base = await self._load_account(signed_in_sid)
        if base is None or not requested_sid or not is_sid(requested_sid, SidType.ACCOUNT):
            return base
        wanted = await self._load_account(normalize(requested_sid))
        if wanted is not None and wanted.sid != base.sid and can_act_on(base, wanted):
            return wanted
        return base

    @staticmethod
    def require_active(account: Account) -> Account:
        """Resources of a suspended or closed account are out of reach (20005)."""
        if account.status is not AccountStatus.ACTIVE:
            raise errors.AccountNotActive(f"Account {account.sid} is {account.status.value}")
        return account

    # --- Accounts resource -----------------------------------------------------------------

    async def create_subaccount(self, principal: Principal, friendly_name: str | None) -> Account:
        parent = principal.account
        if principal.uses_key or parent.is_subaccount:
            raise errors.Unauthenticated()
        now = self._ctx.now()
        account = Account(
            sid=self._ctx.sids.new(SidType.ACCOUNT),
            owner_account_sid=parent.sid,
            friendly_name=_friendly_name(friendly_name or default_subaccount_name(now)),
            status=AccountStatus.ACTIVE,
            type=parent.type,
            auth_token=self._ctx.sids.new_hex(),
            date_created=now,
            date_updated=now,
        )
        async with self._ctx.store.transaction() as repo:
            await repo.accounts.insert(account)
        return account

    async def list_accounts(
        self,
        principal: Principal,
        query: PageQuery,
        *,
        friendly_name: str | None,
        status: str | None,
    ) -> PageResult[Account]:
        if principal.uses_key:
            raise errors.Unauthenticated()
        if status is not None:
            _parse_status(status)
        async with self._ctx.store.read() as repo:
            return await repo.accounts.page(
                principal.account.sid, query, friendly_name=friendly_name, status=status
            )

    async def update_account(
        self,
        principal: Principal,
        target: Account,
        *,
        friendly_name: str | None,
        status: str | None,
    ) -> Account:
        updated = target
        if friendly_name is not None:
            updated = replace(updated, friendly_name=_friendly_name(friendly_name))
        if status is not None:
            new_status = _parse_status(status)
            if new_status is not target.status:
                if target.sid == principal.account.sid:
                    # Twilio changes a main account's status only in its Console, and a
                    # subaccount's only through its parent.
                    raise errors.InvalidParameter(
                        "An account cannot change its own Status; its parent account can"
                    )
                if target.status is AccountStatus.CLOSED:
                    raise errors.InvalidParameter("A closed account cannot be reopened")
                updated = replace(updated, status=new_status)
        if updated == target:
            return target
        updated = replace(updated, date_updated=self._ctx.now())
        async with self._ctx.store.transaction() as repo:
            await repo.accounts.update(updated)
        self._accounts.forget(updated.sid)
        return updated

    # --- Keys resource ---------------------------------------------------------------------

    async def create_key(self, account: Account, friendly_name: str | None) -> CreatedKey:
        now = self._ctx.now()
        secret = self._ctx.sids.new_hex()
        key = ApiKey(
            sid=self._ctx.sids.new(SidType.API_KEY),
            account_sid=account.sid,
            friendly_name=_friendly_name(friendly_name or ""),
            secret_hash=hash_secret(secret),
            date_created=now,
            date_updated=now,
        )
        async with self._ctx.store.transaction() as repo:
            await repo.keys.insert(key)
        return CreatedKey(key, secret)

    async def get_key(self, account: Account, sid: str) -> ApiKey:
        return await get_owned(self._ctx, account, sid, lambda repo: repo.keys, SidType.API_KEY)

    async def list_keys(self, account: Account, query: PageQuery) -> PageResult[ApiKey]:
        async with self._ctx.store.read() as repo:
            return await repo.keys.page(account.sid, query)

    async def update_key(self, account: Account, sid: str, friendly_name: str | None) -> ApiKey:
        key = await self.get_key(account, sid)
        if friendly_name is None:
            return key
        updated = replace(
            key, friendly_name=_friendly_name(friendly_name), date_updated=self._ctx.now()
        )
        async with self._ctx.store.transaction() as repo:
            await repo.keys.update(updated)
        self._keys.forget(updated.sid)
        return updated

    async def delete_key(self, account: Account, sid: str) -> None:
        key = await self.get_key(account, sid)
        async with self._ctx.store.transaction() as repo:
            await repo.keys.delete(key)
        self._keys.forget(key.sid)


async def account_by_sid(repo: Repository, sid: str) -> Account:
    """The account an operator named; UnknownAccount if there is none."""
    account = await repo.accounts.get(normalize(sid)) if is_sid(sid, SidType.ACCOUNT) else None
    if account is None:
        raise errors.UnknownAccount(f"No account {sid}")
    return account


def _parse_status(value: str) -> AccountStatus:
    try:
        return AccountStatus(value)
    except ValueError:
        raise errors.InvalidParameter(
            f"Invalid Status '{value}': must be one of active, suspended, closed"
        ) from None
