"""Queries of Messaging Services, their sender pools, sticky senders and short codes.

Mixed into Repository.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from textrelay.domain.messaging_services import (
    MessagingServiceResource,
    PoolSender,
    SenderKind,
    ServiceSettings,
    ShortCode,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.storage.connection import Connection, Row
from textrelay.storage.timestamps import from_us, to_us


class ServiceQueries:
    _conn: Connection

    # Provided by Repository: one page of a table, keyset-paged by seq, newest first.
    async def _page(
        self, table: str, where: list[str], params: dict[str, Any], query: PageQuery
    ) -> tuple[list[Row], bool]:
        raise NotImplementedError

    # --- services --------------------------------------------------------------------------

    async def insert_service(self, service: MessagingServiceResource) -> None:
        await self._conn.execute(
            "INSERT INTO messaging_services (sid, account_sid, friendly_name, settings, "
            "date_created, date_updated) VALUES (:sid, :account_sid, :friendly_name, "
            ":settings, :date_created, :date_updated)",
            _service_params(service),
        )

    async def update_service(self, service: MessagingServiceResource) -> None:
        await self._conn.execute(
            "UPDATE messaging_services SET friendly_name = :friendly_name, "
            "settings = :settings, date_updated = :date_updated WHERE sid = :sid",
            _service_params(service),
        )

    async def get_service(self, sid: str) -> MessagingServiceResource | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM messaging_services WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _service(row)

    async def list_services(
        self, account_sid: str, query: PageQuery
    ) -> PageResult[MessagingServiceResource]:
        rows, more = await self._page(
            "messaging_services", ["account_sid = :account"], {"account": account_sid}, query
        )
        return PageResult([_service(r) for r in rows], more)

    async def delete_service(self, sid: str) -> None:
        for sql in (
            "DELETE FROM sticky_senders WHERE service_sid = :sid",
            "DELETE FROM service_senders WHERE service_sid = :sid",
            "DELETE FROM messaging_services WHERE sid = :sid",
        ):
            await self._conn.execute(sql, {"sid": sid})

    # --- sender pools ----------------------------------------------------------------------

    async def insert_pool_sender(self, sender: PoolSender) -> None:
        await self._conn.execute(
            "INSERT INTO service_senders (sid, service_sid, account_sid, kind, address, "
            "country_code, capabilities, date_created, date_updated) VALUES (:sid, "
            ":service_sid, :account_sid, :kind, :address, :country_code, :capabilities, "
            ":date_created, :date_updated)",
            {
                "sid": sender.sid,
                "service_sid": sender.service_sid,
                "account_sid": sender.account_sid,
                "kind": sender.kind.value,
                "address": sender.address,
                "country_code": sender.country_code,
                "capabilities": orjson.dumps(sender.capabilities).decode(),
                "date_created": to_us(sender.date_created),
                "date_updated": to_us(sender.date_updated),
            },
        )

    async def get_pool_sender(self, sid: str) -> PoolSender | None:
        """The pool entry of a sender SID, in whichever service holds it."""
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _pool_sender(row)

    async def find_pool_sender(
        self, service_sid: str, kind: SenderKind, address: str
    ) -> PoolSender | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE service_sid = :service AND kind = :kind "
            "AND address = :address",
            {"service": service_sid, "kind": kind.value, "address": address},
        )
        return None if row is None else _pool_sender(row)

    async def find_pool_address(self, address: str) -> PoolSender | None:
        """The pool entry of a number or short code by its address, in any service."""
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE address = :address AND kind <> 'alpha_sender'",
            {"address": address},
        )
        return None if row is None else _pool_sender(row)

    async def list_pool(
        self, service_sid: str, kind: SenderKind, query: PageQuery
    ) -> PageResult[PoolSender]:
        rows, more = await self._page(
            "service_senders",
            ["service_sid = :service", "kind = :kind"],
            {"service": service_sid, "kind": kind.value},
            query,
        )
        return PageResult([_pool_sender(r) for r in rows], more)

    async def whole_pool(self, service_sid: str) -> list[PoolSender]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM service_senders WHERE service_sid = :service ORDER BY seq",
            {"service": service_sid},
        )
        return [_pool_sender(r) for r in rows]

    async def remove_pool_sender(self, sender: PoolSender) -> None:
        # Removing a sender deletes the sticky mappings to it (§2).
        await self._conn.execute(
            "DELETE FROM sticky_senders WHERE service_sid = :service AND sender = :address",
            {"service": sender.service_sid, "address": sender.address},
        )
        await self._conn.execute(
            "DELETE FROM service_senders WHERE sid = :sid", {"sid": sender.sid}
        )

    async def remove_sender_everywhere(self, sid: str) -> None:
        """A released number leaves the pool it was in."""
        sender = await self.get_pool_sender(sid)
        if sender is not None:
            await self.remove_pool_sender(sender)

    # --- sticky senders --------------------------------------------------------------------

    async def sticky_sender(self, service_sid: str, channel: str, recipient: str) -> str | None:
        row = await self._conn.fetch_one(
            "SELECT sender FROM sticky_senders WHERE service_sid = :service "
            "AND channel = :channel AND recipient = :recipient",
            {"service": service_sid, "channel": channel, "recipient": recipient},
        )
        return None if row is None else str(row["sender"])

    async def set_sticky_sender(
        self, service_sid: str, channel: str, recipient: str, sender: str
    ) -> None:
        await self._conn.execute(
            "INSERT INTO sticky_senders (service_sid, channel, recipient, sender) VALUES "
            "(:service, :channel, :recipient, :sender) ON CONFLICT (service_sid, channel, "
            "recipient) DO UPDATE SET sender = excluded.sender",
            {"service": service_sid, "channel": channel, "recipient": recipient, "sender": sender},
        )

    # --- short codes -----------------------------------------------------------------------

    async def insert_short_code(self, code: ShortCode) -> None:
        await self._conn.execute(
            "INSERT INTO short_codes (sid, account_sid, short_code, friendly_name, country_code, "
            "api_version, sms_url, sms_method, sms_fallback_url, sms_fallback_method, "
            "date_created, date_updated) VALUES (:sid, :account_sid, :short_code, "
            ":friendly_name, :country_code, :api_version, :sms_url, :sms_method, "
            ":sms_fallback_url, :sms_fallback_method, :date_created, :date_updated)",
            _short_code_params(code),
        )

    async def update_short_code(self, code: ShortCode) -> None:
        await self._conn.execute(
            "UPDATE short_codes SET friendly_name = :friendly_name, api_version = :api_version, "
            "sms_url = :sms_url, sms_method = :sms_method, sms_fallback_url = :sms_fallback_url, "
            "sms_fallback_method = :sms_fallback_method, date_updated = :date_updated "
            "WHERE sid = :sid",
            _short_code_params(code),
        )

    async def get_short_code(self, sid: str) -> ShortCode | None:
        row = await self._conn.fetch_one("SELECT * FROM short_codes WHERE sid = :sid", {"sid": sid})
        return None if row is None else _short_code(row)

    async def find_short_code(self, short_code: str) -> ShortCode | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM short_codes WHERE short_code = :code", {"code": short_code}
        )
        return None if row is None else _short_code(row)

    async def list_short_codes(
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
        rows, more = await self._page("short_codes", where, params, query)
        return PageResult([_short_code(r) for r in rows], more)


def _service_params(service: MessagingServiceResource) -> dict[str, Any]:
    return {
        "sid": service.sid,
        "account_sid": service.account_sid,
        "friendly_name": service.friendly_name,
        "settings": orjson.dumps(asdict(service.settings)).decode(),
        "date_created": to_us(service.date_created),
        "date_updated": to_us(service.date_updated),
    }


def _service(row: Row) -> MessagingServiceResource:
    stored: dict[str, Any] = orjson.loads(row["settings"])
    known = ServiceSettings.__dataclass_fields__
    return MessagingServiceResource(
        sid=row["sid"],
        account_sid=row["account_sid"],
        friendly_name=row["friendly_name"],
        settings=ServiceSettings(**{k: v for k, v in stored.items() if k in known}),
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )


def _pool_sender(row: Row) -> PoolSender:
    return PoolSender(
        sid=row["sid"],
        service_sid=row["service_sid"],
        account_sid=row["account_sid"],
        kind=SenderKind(row["kind"]),
        address=row["address"],
        country_code=row["country_code"],
        capabilities=tuple(orjson.loads(row["capabilities"])),
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
    )


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
