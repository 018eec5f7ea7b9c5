"""Accounts (main and subaccounts) and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textrelay.domain.accounts import (
    Account,
    AccountStatus,
    AccountType,
    ApiKey,
    SecondaryAuthToken,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class AccountStore(TableStore):
    __slots__ = ()

    async def insert(self, account: Account) -> None:
        await self._conn.execute(
            "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, type, "
            "auth_token, secondary_auth_token, secondary_auth_token_created, date_created, "
            "date_updated) VALUES (:sid, :owner_account_sid, :friendly_name, :status, :type, "
            ":auth_token, :secondary_auth_token, :secondary_auth_token_created, :date_created, "
            ":date_updated)",
            _account_params(account),
        )

    async def update(self, account: Account) -> None:
        await self._conn.execute(
            "UPDATE accounts SET friendly_name = :friendly_name, status = :status, "
            "type = :type, auth_token = :auth_token, secondary_auth_token = :secondary_auth_token, "
            "secondary_auth_token_created = :secondary_auth_token_created, "
            "date_updated = :date_updated WHERE sid = :sid",
            _account_params(account),
        )

    async def get(self, sid: str) -> Account | None:
        row = await self._conn.fetch_one("SELECT * FROM accounts WHERE sid = :sid", {"sid": sid})
        return None if row is None else _account(row)

    async def close_subaccounts(self, owner_sid: str, at: datetime) -> list[str]:
        """Close every subaccount of `owner_sid` not closed yet; the SIDs closed."""
        rows = await self._conn.fetch_all(
            "UPDATE accounts SET status = :closed, date_updated = :at "
            "WHERE owner_account_sid = :owner AND sid <> :owner AND status <> :closed "
            "RETURNING sid",
            {"closed": AccountStatus.CLOSED.value, "at": to_us(at), "owner": owner_sid},
        )
        return [row["sid"] for row in rows]

    async def every_account(self) -> list[Account]:
        """Every account, each main account followed by its subaccounts, oldest first (an
        operator's listing: `textrelay accounts list`)."""
        rows = await self._conn.fetch_all(
            "SELECT a.* FROM accounts a JOIN accounts o ON o.sid = a.owner_account_sid "
            "ORDER BY o.seq, a.sid <> a.owner_account_sid, a.seq"
        )
        return [_account(row) for row in rows]

    async def page(
        self,
        caller_sid: str,
        query: PageQuery,
        *,
        friendly_name: str | None = None,
        status: str | None = None,
    ) -> PageResult[Account]:
        """The caller and the subaccounts it owns."""
        where = ["(sid = :caller OR owner_account_sid = :caller)"]
        params: dict[str, Any] = {"caller": caller_sid}
        if friendly_name is not None:
            where.append("friendly_name = :friendly_name")
            params["friendly_name"] = friendly_name
        if status is not None:
            where.append("status = :status")
            params["status"] = status
        return await self._page("accounts", where, params, query, _account)


class KeyStore(TableStore):
    """API keys; the secret is kept only as a hash."""

    __slots__ = ()

    async def insert(self, key: ApiKey) -> None:
        await self._conn.execute(
            "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, date_created, "
            "date_updated) VALUES (:sid, :account_sid, :friendly_name, :secret_hash, "
            ":date_created, :date_updated)",
            _key_params(key),
        )

    async def update(self, key: ApiKey) -> None:
        await self._conn.execute(
            "UPDATE api_keys SET friendly_name = :friendly_name, date_updated = :date_updated "
            "WHERE sid = :sid",
            _key_params(key),
        )

    async def get(self, sid: str) -> ApiKey | None:
        row = await self._conn.fetch_one("SELECT * FROM api_keys WHERE sid = :sid", {"sid": sid})
        return None if row is None else _key(row)

    async def delete(self, key: ApiKey) -> None:
        await self._delete_keeping_anchor("api_keys", key.sid)

    async def page(self, account_sid: str, query: PageQuery) -> PageResult[ApiKey]:
        return await self._page(
            "api_keys", ["account_sid = :account"], {"account": account_sid}, query, _key
        )


def _account_params(account: Account) -> dict[str, Any]:
    secondary = account.secondary_auth_token
    return {
        "sid": account.sid,
        "owner_account_sid": account.owner_account_sid,
        "friendly_name": account.friendly_name,
        "status": account.status.value,
        "type": account.type.value,
        "auth_token": account.auth_token,
        "secondary_auth_token": secondary.token if secondary else None,
        "secondary_auth_token_created": to_us(secondary.date_created) if secondary else None,
        "date_created": to_us(account.date_created),
        "date_updated": to_us(account.date_updated),
    }


def _account(row: Row) -> Account:
    return Account(
        sid=row["sid"],
        owner_account_sid=row["owner_account_sid"],
        friendly_name=row["friendly_name"],
        status=AccountStatus(row["status"]),
        type=AccountType(row["type"]),
        auth_token=row["auth_token"],
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
        secondary_auth_token=_secondary(row),
    )


def _secondary(row: Row) -> SecondaryAuthToken | None:
    # `textrelay credentials` reads without migrating: a database before schema 12 has no
    # such column, and no secondary token.
    if "secondary_auth_token" not in row.keys():  # noqa: SIM118 (sqlite3.Row: `in` is on values)
        return None
    token = row["secondary_auth_token"]
    if token is None:
        return None
    return SecondaryAuthToken(token, from_us(row["secondary_auth_token_created"]))


def _key_params(key: ApiKey) -> dict[str, Any]:
    return {
        "sid": key.sid,
        "account_sid": key.account_sid,
        "friendly_name": key.friendly_name,
        "secret_hash": key.secret_hash,
        "date_created": to_us(key.date_created),
        "date_updated": to_us(key.date_updated),
    }


def _key(row: Row) -> ApiKey:
    return ApiKey(
        sid=row["sid"],
        account_sid=row["account_sid"],
        friendly_name=row["friendly_name"],
        secret_hash=row["secret_hash"],
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )
