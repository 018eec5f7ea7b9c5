"""Incoming phone numbers: the E.164 numbers an account owns, with their webhook settings."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.phone_numbers import (
    Capabilities,
    IncomingPhoneNumber,
    NumberConfig,
    NumberType,
)
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class NumberStore(TableStore):
    __slots__ = ()

    async def insert(self, number: IncomingPhoneNumber) -> None:
        await self._conn.execute(
            "INSERT INTO incoming_phone_numbers (sid, account_sid, phone_number, friendly_name, "
            "number_type, config, capabilities, origin, date_created, date_updated) VALUES "
            "(:sid, :account_sid, :phone_number, :friendly_name, :number_type, :config, "
            ":capabilities, :origin, :date_created, :date_updated)",
            _number_params(number),
        )

    async def update(self, number: IncomingPhoneNumber) -> None:
        await self._conn.execute(
            "UPDATE incoming_phone_numbers SET account_sid = :account_sid, "
            "friendly_name = :friendly_name, config = :config, date_updated = :date_updated "
            "WHERE sid = :sid",
            _number_params(number),
        )

    async def get(self, sid: str) -> IncomingPhoneNumber | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM incoming_phone_numbers WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _number(row)

    async def find(self, phone_number: str) -> IncomingPhoneNumber | None:
        """The number record for an E.164 number, whichever account owns it."""
        row = await self._conn.fetch_one(
            "SELECT * FROM incoming_phone_numbers WHERE phone_number = :phone",
            {"phone": phone_number},
        )
        return None if row is None else _number(row)

    async def owner_of(self, phone_number: str) -> str | None:
        """The SID of the account that owns an E.164 number, if any (the hot path of create)."""
        row = await self._conn.fetch_one(
            "SELECT account_sid FROM incoming_phone_numbers WHERE phone_number = :phone",
            {"phone": phone_number},
        )
        return None if row is None else str(row["account_sid"])

    async def delete(self, number: IncomingPhoneNumber) -> None:
        await self._delete_keeping_anchor("incoming_phone_numbers", number.sid)

    async def page(
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
        return await self._page("incoming_phone_numbers", where, params, query, _number)


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
