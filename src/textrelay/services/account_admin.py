"""An operator's account management (`textrelay accounts`): every account of the deployment,
top-level accounts made, statuses changed by SID.

Twilio's own rules hold (shared/twilio/api-core.md §2.1): a suspended account can be made
active again, a closed one never. Closing a main account closes its subaccounts too: their
only way in is through a parent that is gone (docs/cli.md).
"""

from __future__ import annotations

from dataclasses import replace

from textrelay.domain import errors
from textrelay.domain.accounts import Account, AccountStatus
from textrelay.services.accounts import MAIN_ACCOUNT_KEY, AccountService, account_by_sid
from textrelay.services.context import ServiceContext


class AccountAdministration:
    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self._ctx = ctx
        self._accounts = accounts

    async def create(self, friendly_name: str | None) -> Account:
        """A new top-level account, with a new auth token."""
        if friendly_name is None:
            return await self._accounts.create_main_account()
        return await self._accounts.create_main_account(friendly_name)

    async def listing(self) -> list[Account]:
        """Every account: each main account followed by its subaccounts, oldest first."""
        async with self._ctx.store.read() as repo:
            return await repo.accounts.every_account()

    async def suspend(self, account_sid: str) -> Account:
        return (await self._set_status(account_sid, AccountStatus.SUSPENDED))[0]

    async def reactivate(self, account_sid: str) -> Account:
        return (await self._set_status(account_sid, AccountStatus.ACTIVE))[0]

    async def close(self, account_sid: str) -> list[Account]:
        """Close the account, and a main account's subaccounts with it; the accounts closed
        (the one named first). Final: nothing reopens a closed account."""
        return await self._set_status(account_sid, AccountStatus.CLOSED, cascade=True)

    async def _set_status(
        self, account_sid: str, status: AccountStatus, *, cascade: bool = False
    ) -> list[Account]:
        now = self._ctx.now()
        async with self._ctx.store.transaction() as repo:
            account = await account_by_sid(repo, account_sid)
            if account.status is AccountStatus.CLOSED:
                raise errors.InvalidParameter(
                    f"Account {account.sid} is closed, and a closed account cannot be reopened"
                )
            if status is not AccountStatus.ACTIVE and account.sid == await repo.meta.get(
                MAIN_ACCOUNT_KEY
            ):
                # `serve` runs as it and the console's admin signs in as it.
                raise errors.InvalidParameter(
                    f"Account {account.sid} is the server's main account; it stays active"
                )
            if account.status is not status:
                account = replace(account, status=status, date_updated=now)
                await repo.accounts.update(account)
            changed = [account]
            if cascade and not account.is_subaccount:
                for sid in await repo.accounts.close_subaccounts(account.sid, now):
                    sub = await repo.accounts.get(sid)
                    assert sub is not None  # closed in this transaction, never deleted
                    changed.append(sub)
        for each in changed:
            self._accounts.forget(each.sid)
        return changed
