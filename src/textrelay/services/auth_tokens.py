"""An account's auth tokens: Twilio's secondary token (create, promote, delete) and an
operator's immediate rotation of the primary.

Twilio's Accounts v1 API acts on the account whose credentials call it; the CLI names the
account by SID. Both come here. Each change forgets the account in the authentication cache,
so this process sees it at once and others within the cache's second (services/cache.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from textrelay.domain import errors
from textrelay.domain.accounts import (
    Account,
    AccountStatus,
    promoted,
    with_new_primary_token,
    with_secondary_token,
    without_secondary_token,
)
from textrelay.services.accounts import AccountService, Principal, account_by_sid
from textrelay.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class PromotedToken:
    account: Account
    """The account after promotion: `auth_token` is the promoted token."""
    token_created: datetime
    """When the promoted token was made (as the secondary)."""


class AuthTokenService:
    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self._ctx = ctx
        self._accounts = accounts

    @staticmethod
    def token_owner(principal: Principal) -> Account:
        """The account whose tokens a caller may manage: its own, and only with its auth
        token. API keys may not, as they may not touch the Accounts and Keys resources."""
        if principal.uses_key:
            raise errors.Unauthenticated()
        return principal.account

    async def create_secondary(self, account_sid: str) -> Account:
        """A new secondary token (one made before is replaced: docs/compatibility.md)."""
        token = self._ctx.sids.new_hex()
        _, after = await self._change(
            account_sid, lambda account, now: with_secondary_token(account, token, at=now)
        )
        return after

    async def delete_secondary(self, account_sid: str) -> Account:
        _, after = await self._change(
            account_sid, lambda account, now: without_secondary_token(account, at=now)
        )
        return after

    async def promote_secondary(self, account_sid: str) -> PromotedToken:
        before, after = await self._change(
            account_sid, lambda account, now: promoted(account, at=now)
        )
        assert before.secondary_auth_token is not None  # else promoted() raised
        return PromotedToken(after, before.secondary_auth_token.date_created)

    async def rotate_primary(self, account_sid: str) -> Account:
        """A new primary token at once: the old one stops authenticating (an operator's
        answer to a leaked token, where waiting for a deploy is not wanted)."""
        token = self._ctx.sids.new_hex()
        _, after = await self._change(
            account_sid, lambda account, now: with_new_primary_token(account, token, at=now)
        )
        return after

    async def _change(
        self, account_sid: str, change: Callable[[Account, datetime], Account]
    ) -> tuple[Account, Account]:
        """The account before and after `change`, committed."""
        async with self._ctx.store.transaction() as repo:
            account = await account_by_sid(repo, account_sid)
            if account.status is AccountStatus.CLOSED:
                raise errors.AccountNotActive(f"Account {account.sid} is closed")
            updated = change(account, self._ctx.now())
            await repo.accounts.update(updated)
        self._accounts.forget(updated.sid)
        return account, updated
