"""Short codes: the 5- and 6-digit senders an account is given (through the control API)."""

from __future__ import annotations

from typing import Any

from textrelay.domain.messaging_services import ShortCode
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class ShortCodeStore(TableStore):
    __slots__ = ()

    async def insert(self, code: ShortCode) -> None:
        await self._conn.execute(
            "INSERT INTO short_codes (sid, account_sid, short_code, friendly_name, country_code, "
            "api_version, sms_url, sms_method, sms_fallback_url, sms_fallback_method, "
            "date_created, date_updated) VALUES (:sid, :account_sid, :short_code, "
            ":friendly_name, :country_code, :api_version, :sms_url, :sms_method, "
            ":sms_fallback_url, :sms_fallback_method, :date_created, :date_updated)",
            _short_code_params(code),
        )

    async def update(self, code: ShortCode) -> None:
        await self._conn.execute(
            "UPDATE short_codes SET friendly_name = :friendly_name, api_version = :api_version, "
            "sms_url = :sms_url, sms_method = :sms_method, sms_fallback_url = :sms_fallback_url, "
            "sms_fallback_method = :sms_fallback_method, date_updated = :date_updated "
            "WHERE sid = :sid",
            _short_code_params(code),
        )

    async def get(self, sid: str) -> ShortCode | None:
        row = await self._conn.fetch_one("SELECT * FROM short_codes WHERE sid = :sid", {"sid": sid})
        return None if row is None else _short_code(row)

    async def find(self, short_code: str) -> ShortCode | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM short_codes WHERE short_code = :code", {"code": short_code}
        )
        return None if row is None else _short_code(row)

    async def page(
        self,
        account_sid: str,
        query: PageQuery,
        *,
        friendly_name: str | None = None,
        short_code_like: str | None = None,
    ) -> PageResult[ShortCode]:
        where = ["account_sid = :account"]
        params: dict[str, Any] = {"account": account_sid}
        if friendly_name is not None:
            where.append("friendly_name = :friendly_name")
            params["friendly_name"] = friendly_name
        if short_code_like is not None:
            where.append("short_code LIKE :pattern")
            params["pattern"] = short_code_like
        return await self._page("short_codes", where, params, query, _short_code)


def _short_code_params(code: ShortCode) -> dict[str, Any]:
    return {
        "sid": code.sid,
        "account_sid": code.account_sid,
        "short_code": code.short_code,
        "friendly_name": code.friendly_name,
        "country_code": code.country_code,
        "api_version": code.api_version,
        "sms_url": code.sms_url,
        "sms_method": code.sms_method,
        "sms_fallback_url": code.sms_fallback_url,
        "sms_fallback_method": code.sms_fallback_method,
        "date_created": to_us(code.date_created),
        "date_updated": to_us(code.date_updated),
    }


def _short_code(row: Row) -> ShortCode:
    return ShortCode(
        sid=row["sid"],
        account_sid=row["account_sid"],
        short_code=row["short_code"],
        friendly_name=row["friendly_name"],
        country_code=row["country_code"],
        api_version=row["api_version"],
        sms_url=row["sms_url"],
        sms_method=row["sms_method"],
        sms_fallback_url=row["sms_fallback_url"],
        sms_fallback_method=row["sms_fallback_method"],
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )
