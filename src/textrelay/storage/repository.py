"""The repository: every query textrelay runs, named by what it means, on either database.

`Store.transaction()` yields a Repository whose writes commit together; `Store.read()` one for
reads. Services own the transaction boundaries; this module owns the SQL.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from textrelay.domain.accounts import Account, AccountStatus, AccountType, ApiKey
from textrelay.domain.messages import Message
from textrelay.domain.paging import (
    InvalidPageToken,
    PageDirection,
    PageQuery,
    PageResult,
)
from textrelay.domain.phone_numbers import (
    Capabilities,
    IncomingPhoneNumber,
    NumberConfig,
    NumberType,
)
from textrelay.domain.statuses import MessageStatus
from textrelay.storage.connection import Connection, Database, Row
from textrelay.storage.console import ConsoleQueries
from textrelay.storage.delivery import DeliveryQueries
from textrelay.storage.media import MediaQueries
from textrelay.storage.message_rows import message_from_row, message_params
from textrelay.storage.messaging_services import ServiceQueries
from textrelay.storage.timestamps import from_us, to_us


@dataclass(frozen=True, slots=True)
class MessageFilter:
    to: str | None = None
    from_: str | None = None
    date_sent_from: datetime | None = None
    """Inclusive lower bound on date_sent."""
    date_sent_until: datetime | None = None
    """Exclusive upper bound on date_sent."""


class Repository(DeliveryQueries, ServiceQueries, MediaQueries, ConsoleQueries):
    """Named queries over one connection (inside a transaction, or for reads)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- meta ------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self._conn.fetch_one("SELECT value FROM meta WHERE key = :key", {"key": key})
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (:key, :value) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            {"key": key, "value": value},
        )

    # --- accounts --------------------------------------------------------------------------

    async def insert_account(self, account: Account) -> None:
        await self._conn.execute(
            "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, type, "
            "auth_token, date_created, date_updated) VALUES (:sid, :owner_account_sid, "
            ":friendly_name, :status, :type, :auth_token, :date_created, :date_updated)",
            _account_params(account),
        )

    async def update_account(self, account: Account) -> None:
        await self._conn.execute(
            "UPDATE accounts SET friendly_name = :friendly_name, status = :status, "
            "type = :type, auth_token = :auth_token, date_updated = :date_updated "
            "WHERE sid = :sid",
            _account_params(account),
        )

    async def get_account(self, sid: str) -> Account | None:
        row = await self._conn.fetch_one("SELECT * FROM accounts WHERE sid = :sid", {"sid": sid})
        return None if row is None else _account(row)

    async def list_accounts(
        self,
        caller_sid: str,
        query: PageQuery,
        *,
        friendly_name: str | None = None,
        status: str | None = None,
    ) -> PageResult[Account]:
        where = ["(sid = :caller OR owner_account_sid = :caller)"]
        params: dict[str, Any] = {"caller": caller_sid}
        if friendly_name is not None:
            where.append("friendly_name = :friendly_name")
            params["friendly_name"] = friendly_name
        if status is not None:
            where.append("status = :status")
            params["status"] = status
        rows, has_next = await self._page("accounts", where, params, query)
        return PageResult([_account(r) for r in rows], has_next)

    # --- API keys --------------------------------------------------------------------------

    async def insert_key(self, key: ApiKey) -> None:
        await self._conn.execute(
            "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, date_created, "
            "date_updated) VALUES (:sid, :account_sid, :friendly_name, :secret_hash, "
            ":date_created, :date_updated)",
            _key_params(key),
        )

    async def update_key(self, key: ApiKey) -> None:
        await self._conn.execute(
            "UPDATE api_keys SET friendly_name = :friendly_name, date_updated = :date_updated "
            "WHERE sid = :sid",
            _key_params(key),
        )

    async def get_key(self, sid: str) -> ApiKey | None:
        row = await self._conn.fetch_one("SELECT * FROM api_keys WHERE sid = :sid", {"sid": sid})
        return None if row is None else _key(row)

    async def delete_key(self, key: ApiKey) -> None:
        await self._delete("api_keys", key.sid)

    async def list_keys(self, account_sid: str, query: PageQuery) -> PageResult[ApiKey]:
        rows, has_next = await self._page(
            "api_keys", ["account_sid = :account"], {"account": account_sid}, query
        )
        return PageResult([_key(r) for r in rows], has_next)

    # --- incoming phone numbers ------------------------------------------------------------

    async def insert_number(self, number: IncomingPhoneNumber) -> None:
        await self._conn.execute(
            "INSERT INTO incoming_phone_numbers (sid, account_sid, phone_number, friendly_name, "
            "number_type, config, capabilities, origin, date_created, date_updated) VALUES "
            "(:sid, :account_sid, :phone_number, :friendly_name, :number_type, :config, "
            ":capabilities, :origin, :date_created, :date_updated)",
            _number_params(number),
        )

    async def update_number(self, number: IncomingPhoneNumber) -> None:
        await self._conn.execute(
            "UPDATE incoming_phone_numbers SET account_sid = :account_sid, "
            "friendly_name = :friendly_name, config = :config, date_updated = :date_updated "
            "WHERE sid = :sid",
            _number_params(number),
        )

    async def get_number(self, sid: str) -> IncomingPhoneNumber | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM incoming_phone_numbers WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _number(row)

    async def find_number(self, phone_number: str) -> IncomingPhoneNumber | None:
        """The number record for an E.164 number, whichever account owns it."""
        row = await self._conn.fetch_one(
            "SELECT * FROM incoming_phone_numbers WHERE phone_number = :phone",
            {"phone": phone_number},
        )
        return None if row is None else _number(row)

    async def number_owner(self, phone_number: str) -> str | None:
        """The SID of the account that owns an E.164 number, if any (the hot path of create)."""
        row = await self._conn.fetch_one(
            "SELECT account_sid FROM incoming_phone_numbers WHERE phone_number = :phone",
            {"phone": phone_number},
        )
        return None if row is None else str(row["account_sid"])

    async def delete_number(self, number: IncomingPhoneNumber) -> None:
        await self._delete("incoming_phone_numbers", number.sid)

    async def list_numbers(
        self,
        account_sid: str,
        query: PageQuery,
        *,
        friendly_name: str | None = None,
        phone_number_like: str | None = None,
        number_type: NumberType | None = None,
    ) -> PageResult[IncomingPhoneNumber]:
        where = ["account_sid = :account"]
        params: dict[str, Any] = {"account": account_sid}
        if number_type is not None:
            where.append("number_type = :number_type")
            params["number_type"] = number_type.value
        if phone_number_like is not None:
            where.append("phone_number LIKE :phone_like")
            params["phone_like"] = phone_number_like
        if friendly_name is not None:
            where.append("friendly_name = :friendly_name")
            params["friendly_name"] = friendly_name
        rows, has_next = await self._page("incoming_phone_numbers", where, params, query)
        return PageResult([_number(r) for r in rows], has_next)

    # --- messages --------------------------------------------------------------------------

    async def insert_message(self, message: Message) -> None:
        await self._conn.execute(
            "INSERT INTO messages (sid, account_sid, direction, status, from_addr, to_addr, "
            "body, num_segments, num_media, messaging_service_sid, error_code, error_message, "
            "price, price_unit, tags, options, date_created, date_updated, date_sent) VALUES "
            "(:sid, :account_sid, :direction, :status, :from_addr, :to_addr, :body, "
            ":num_segments, :num_media, :messaging_service_sid, :error_code, :error_message, "
            ":price, :price_unit, :tags, :options, :date_created, :date_updated, :date_sent)",
            message_params(message),
        )

    async def update_message(self, message: Message) -> None:
        await self._conn.execute(
            "UPDATE messages SET status = :status, from_addr = :from_addr, body = :body, "
            "num_segments = :num_segments, num_media = :num_media, "
            "messaging_service_sid = :messaging_service_sid, error_code = :error_code, "
            "error_message = :error_message, price = :price, price_unit = :price_unit, "
            "tags = :tags, options = :options, date_updated = :date_updated, "
            "date_sent = :date_sent WHERE sid = :sid",
            message_params(message),
        )

    async def get_message(self, sid: str) -> Message | None:
        row = await self._conn.fetch_one("SELECT * FROM messages WHERE sid = :sid", {"sid": sid})
        return None if row is None else message_from_row(row)

    async def delete_message(self, message: Message) -> None:
        await self.delete_message_records(message.sid)
        await self._delete("messages", message.sid)

    async def list_messages(
        self, account_sid: str, query: PageQuery, filters: MessageFilter
    ) -> PageResult[Message]:
        where = ["account_sid = :account"]
        params: dict[str, Any] = {"account": account_sid}
        if filters.to is not None:
            where.append("to_addr = :to")
            params["to"] = filters.to
        if filters.from_ is not None:
            where.append("from_addr = :from")
            params["from"] = filters.from_
        if filters.date_sent_from is not None:
            where.append("date_sent >= :sent_from")
            params["sent_from"] = to_us(filters.date_sent_from)
        if filters.date_sent_until is not None:
            where.append("date_sent < :sent_until")
            params["sent_until"] = to_us(filters.date_sent_until)
        rows, has_next = await self._page("messages", where, params, query)
        return PageResult([message_from_row(r) for r in rows], has_next)

    # --- read-back and reset (textrelay's control API) ----------------------------------

    async def messages_to(
        self, account_sid: str, to: str, *, after_sid: str | None, limit: int
    ) -> list[Message]:
        """Outbound messages of the account addressed to `to`, newest first; only those after
        `after_sid` when it is given (and known)."""
        after = 0
        if after_sid is not None:
            row = await self._conn.fetch_one(
                "SELECT seq FROM messages WHERE sid = :sid", {"sid": after_sid}
            )
            after = 0 if row is None else int(row["seq"])
        rows = await self._conn.fetch_all(
            "SELECT * FROM messages WHERE account_sid = :account AND to_addr = :to "
            "AND direction <> 'inbound' "
            "AND seq > :after ORDER BY seq DESC LIMIT :limit",
            {"account": account_sid, "to": to, "after": after, "limit": limit},
        )
        return [message_from_row(row) for row in rows]

    async def conversation(
        self, account_sid: str, one: str, other: str, *, limit: int
    ) -> list[Message]:
        """Messages of the account between two addresses, either way, oldest first (the
        newest `limit`)."""
        rows = await self._conn.fetch_all(
            "SELECT * FROM messages WHERE account_sid = :account AND ("
            "(to_addr = :one AND from_addr = :other) OR (to_addr = :other AND from_addr = :one)"
            ") ORDER BY seq DESC LIMIT :limit",
            {"account": account_sid, "one": one, "other": other, "limit": limit},
        )
        return [message_from_row(row) for row in reversed(rows)]

    async def last_inbound_at(
        self, account_sid: str, handset: str, receiver: str
    ) -> datetime | None:
        """When `handset` last wrote to `receiver` (WhatsApp's customer-service window)."""
        # Newest first along the (account, To, seq) index: stops at the first match.
        row = await self._conn.fetch_one(
            "SELECT date_created AS last FROM messages WHERE account_sid = :account "
            "AND to_addr = :receiver AND from_addr = :handset AND direction = 'inbound' "
            "ORDER BY seq DESC LIMIT 1",
            {"account": account_sid, "receiver": receiver, "handset": handset},
        )
        return None if row is None else from_us(row["last"])

    async def messages_of_service(
        self, service_sid: str, statuses: tuple[MessageStatus, ...]
    ) -> list[Message]:
        marks = ", ".join(f":s{i}" for i in range(len(statuses)))
        rows = await self._conn.fetch_all(
            f"SELECT * FROM messages WHERE messaging_service_sid = :service "
            f"AND status IN ({marks}) ORDER BY seq",
            {"service": service_sid, **{f"s{i}": s.value for i, s in enumerate(statuses)}},
        )
        return [message_from_row(row) for row in rows]

    async def reset_account_messages(self, account_sid: str) -> int:
        """Delete every message of the account with its jobs, history and attempts."""
        owned = "SELECT sid FROM messages WHERE account_sid = :account"
        await self._conn.execute(
            "DELETE FROM jobs WHERE message_seq IN "
            "(SELECT seq FROM messages WHERE account_sid = :account)",
            {"account": account_sid},
        )
        for table in ("message_events", "media"):
            await self._conn.execute(
                f"DELETE FROM {table} WHERE message_sid IN ({owned})", {"account": account_sid}
            )
        await self._conn.execute(
            "DELETE FROM webhook_attempts WHERE account_sid = :account", {"account": account_sid}
        )
        return await self._conn.execute(
            "DELETE FROM messages WHERE account_sid = :account", {"account": account_sid}
        )

    # --- shared ----------------------------------------------------------------------------

    async def _delete(self, table: str, sid: str) -> None:
        row = await self._conn.fetch_one(f"SELECT seq FROM {table} WHERE sid = :sid", {"sid": sid})
        if row is None:
            return
        await self._conn.execute(
            "INSERT INTO page_anchors (sid, seq) VALUES (:sid, :seq) ON CONFLICT (sid) DO NOTHING",
            {"sid": sid, "seq": row["seq"]},
        )
        await self._conn.execute(f"DELETE FROM {table} WHERE sid = :sid", {"sid": sid})

    async def _anchor_seq(self, table: str, sid: str) -> int | None:
        row = await self._conn.fetch_one(f"SELECT seq FROM {table} WHERE sid = :sid", {"sid": sid})
        if row is None:
            row = await self._conn.fetch_one(
                "SELECT seq FROM page_anchors WHERE sid = :sid", {"sid": sid}
            )
        return None if row is None else int(row["seq"])

    async def _page(
        self, table: str, where: list[str], params: dict[str, Any], query: PageQuery
    ) -> tuple[list[Row], bool]:
        """One page, newest first, seeking from the query's anchor; and whether more follow."""
        clauses = list(where)
        bound = dict(params, limit=query.page_size + 1)
        order = "DESC"
        backwards = query.anchor is not None and query.anchor.direction is PageDirection.BEFORE
        if query.anchor is not None:
            seq = await self._anchor_seq(table, query.anchor.sid)
            if seq is None:
                raise InvalidPageToken(query.anchor.token)
            clauses.append("seq > :anchor" if backwards else "seq < :anchor")
            bound["anchor"] = seq
            if backwards:
                order = "ASC"
        sql = (
            f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY seq {order} LIMIT :limit"
        )
        rows = list(await self._conn.fetch_all(sql, bound))
        more = len(rows) > query.page_size
        rows = rows[: query.page_size]
        if backwards:
            rows.reverse()
            # A page reached backwards always has the page it came from after it.
            return rows, True
        return rows, more


class Store:
    """Hands out repositories bound to a read connection or to one write transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def transaction(self) -> AbstractAsyncContextManager[Repository]:
        return _Bound(self.database.transaction())

    def exclusive(self) -> AbstractAsyncContextManager[Repository]:
        """A transaction no other process's `exclusive()` runs beside (start-up work)."""
        return _Bound(self.database.exclusive())

    def read(self) -> AbstractAsyncContextManager[Repository]:
        return _Bound(self.database.read())


class _Bound:
    """A connection context that yields a Repository over the connection (no generator: reads
    are on every request's path)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: AbstractAsyncContextManager[Connection]) -> None:
        self._inner = inner

    async def __aenter__(self) -> Repository:
        return Repository(await self._inner.__aenter__())

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._inner.__aexit__(*exc)


# --- row <-> domain ------------------------------------------------------------------------


def _account_params(account: Account) -> dict[str, Any]:
    return {
        "sid": account.sid,
        "owner_account_sid": account.owner_account_sid,
        "friendly_name": account.friendly_name,
        "status": account.status.value,
        "type": account.type.value,
        "auth_token": account.auth_token,
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
    )


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


def _number_params(number: IncomingPhoneNumber) -> dict[str, Any]:
    return {
        "sid": number.sid,
        "account_sid": number.account_sid,
        "phone_number": number.phone_number,
        "friendly_name": number.config.friendly_name or "",
        "number_type": number.number_type.value,
        "config": orjson.dumps(asdict(number.config)).decode(),
        "capabilities": orjson.dumps(asdict(number.capabilities)).decode(),
        "origin": number.origin,
        "date_created": to_us(number.date_created),
        "date_updated": to_us(number.date_updated),
    }


def _number(row: Row) -> IncomingPhoneNumber:
    return IncomingPhoneNumber(
        sid=row["sid"],
        account_sid=row["account_sid"],
        phone_number=row["phone_number"],
        number_type=NumberType(row["number_type"]),
        config=NumberConfig(**orjson.loads(row["config"])),
        capabilities=Capabilities(**orjson.loads(row["capabilities"])),
        origin=row["origin"],
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )
