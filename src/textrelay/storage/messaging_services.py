"""Messaging Services, their sender pools and their sticky senders."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from textrelay.domain.messaging_services import (
    MessagingServiceResource,
    PoolSender,
    SenderKind,
    ServiceSettings,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, to_us


class ServiceStore(TableStore):
    """Messaging Services; deleting one deletes its sender pool and sticky senders."""

    __slots__ = ()

    async def insert(self, service: MessagingServiceResource) -> None:
        await self._conn.execute(
            "INSERT INTO messaging_services (sid, account_sid, friendly_name, settings, "
            "date_created, date_updated) VALUES (:sid, :account_sid, :friendly_name, "
            ":settings, :date_created, :date_updated)",
            _service_params(service),
        )

    async def update(self, service: MessagingServiceResource) -> None:
        await self._conn.execute(
            "UPDATE messaging_services SET friendly_name = :friendly_name, "
            "settings = :settings, date_updated = :date_updated WHERE sid = :sid",
            _service_params(service),
        )

    async def get(self, sid: str) -> MessagingServiceResource | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM messaging_services WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _service(row)

    async def page(
        self, account_sid: str, query: PageQuery
    ) -> PageResult[MessagingServiceResource]:
        return await self._page(
            "messaging_services",
            ["account_sid = :account"],
            {"account": account_sid},
            query,
            _service,
        )

    async def delete(self, sid: str) -> None:
        for sql in (
            "DELETE FROM sticky_senders WHERE service_sid = :sid",
            "DELETE FROM service_senders WHERE service_sid = :sid",
            "DELETE FROM messaging_services WHERE sid = :sid",
        ):
            await self._conn.execute(sql, {"sid": sid})


class SenderStore(TableStore):
    """The sender pools of Messaging Services: numbers, short codes and alphanumeric IDs."""

    __slots__ = ()

    async def insert(self, sender: PoolSender) -> None:
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

    async def get(self, sid: str) -> PoolSender | None:
        """The pool entry of a sender SID, in whichever service holds it."""
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE sid = :sid", {"sid": sid}
        )
        return None if row is None else _pool_sender(row)

    async def find(self, service_sid: str, kind: SenderKind, address: str) -> PoolSender | None:
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE service_sid = :service AND kind = :kind "
            "AND address = :address",
            {"service": service_sid, "kind": kind.value, "address": address},
        )
        return None if row is None else _pool_sender(row)

    async def find_address(self, address: str) -> PoolSender | None:
        """The pool entry of a number or short code by its address, in any service."""
        row = await self._conn.fetch_one(
            "SELECT * FROM service_senders WHERE address = :address AND kind <> 'alpha_sender'",
            {"address": address},
        )
        return None if row is None else _pool_sender(row)

    async def page(
        self, service_sid: str, kind: SenderKind, query: PageQuery
    ) -> PageResult[PoolSender]:
        return await self._page(
            "service_senders",
            ["service_sid = :service", "kind = :kind"],
            {"service": service_sid, "kind": kind.value},
            query,
            _pool_sender,
        )

    async def of_service(self, service_sid: str) -> list[PoolSender]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM service_senders WHERE service_sid = :service ORDER BY seq",
            {"service": service_sid},
        )
        return [_pool_sender(r) for r in rows]

    async def remove(self, sender: PoolSender) -> None:
        # Removing a sender deletes the sticky mappings to it (§2).
        await self._conn.execute(
            "DELETE FROM sticky_senders WHERE service_sid = :service AND sender = :address",
            {"service": sender.service_sid, "address": sender.address},
        )
        await self._conn.execute(
            "DELETE FROM service_senders WHERE sid = :sid", {"sid": sender.sid}
        )

    async def remove_everywhere(self, sid: str) -> None:
        """A released number leaves the pool it was in."""
        sender = await self.get(sid)
        if sender is not None:
            await self.remove(sender)


class StickySenderStore(TableStore):
    """The sender a service last used for a recipient, when the service keeps it sticky."""

    __slots__ = ()

    async def get(self, service_sid: str, channel: str, recipient: str) -> str | None:
        row = await self._conn.fetch_one(
            "SELECT sender FROM sticky_senders WHERE service_sid = :service "
            "AND channel = :channel AND recipient = :recipient",
            {"service": service_sid, "channel": channel, "recipient": recipient},
        )
        return None if row is None else str(row["sender"])

    async def set(self, service_sid: str, channel: str, recipient: str, sender: str) -> None:
        await self._conn.execute(
            "INSERT INTO sticky_senders (service_sid, channel, recipient, sender) VALUES "
            "(:service, :channel, :recipient, :sender) ON CONFLICT (service_sid, channel, "
            "recipient) DO UPDATE SET sender = excluded.sender",
            {"service": service_sid, "channel": channel, "recipient": recipient, "sender": sender},
        )


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
