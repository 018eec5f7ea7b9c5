"""What textrelay keeps of its carriers' traffic: the references each message was taken under
(with the receipts that came for them), the log of what was exchanged, and the parts of
handsets' long messages waiting for the rest."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

import orjson

from textrelay.domain.carriers import Direction, ExchangedPdu, PartReport, Receipt
from textrelay.domain.statuses import MessageStatus
from textrelay.storage.connection import Row
from textrelay.storage.tables import TableStore
from textrelay.storage.timestamps import from_us, opt_from_us, to_us


@dataclass(frozen=True, slots=True)
class WaitingReceipt:
    status: MessageStatus
    error_code: int | None


@dataclass(frozen=True, slots=True)
class StoredPart:
    sequence: int
    body: str


@dataclass(frozen=True, slots=True)
class ReceiptOwner:
    """The message a receipt's reference was taken for, and which of its parts."""

    message_sid: str
    part: int
    parts: int

    @property
    def alone(self) -> bool:
        """The message went in this one part: the receipt alone decides its outcome."""
        return self.part == 1 and self.parts == 1


_KEPT = (
    "CASE WHEN carrier_references.message_sid IS NULL OR carrier_references.part = 0 "
    "OR carrier_references.message_sid = excluded.message_sid "
    "THEN carrier_references.{0} ELSE NULL END"
)


class CarrierReferenceStore(TableStore):
    __slots__ = ()

    async def record_submitted(
        self,
        carrier: str,
        reference: str,
        message_sid: str,
        *,
        part: int,
        parts: int,
        at: datetime,
    ) -> WaitingReceipt | None:
        """Record that `carrier` took part `part` of the message under `reference`; the
        receipt that was already waiting for it, if one came first."""
        row = await self._conn.fetch_one(
            "INSERT INTO carrier_references "
            "(carrier, reference, message_sid, part, parts, submitted_at) "
            "VALUES (:carrier, :reference, :message_sid, :part, :parts, :at) "
            # A receipt already there is kept when it was waiting for this reference (no
            # message yet, or one adopted as an earlier submission, part 0) or is this
            # message's own; under another message's reference, the carrier has reused its
            # id (an SMSC restarted its counter) and the old receipt is not this message's.
            "ON CONFLICT (carrier, reference) DO UPDATE SET "
            f"receipt_status = {_KEPT.format('receipt_status')}, "
            f"receipt_error = {_KEPT.format('receipt_error')}, "
            f"receipt_detail = {_KEPT.format('receipt_detail')}, "
            f"receipt_at = {_KEPT.format('receipt_at')}, "
            "message_sid = excluded.message_sid, part = excluded.part, parts = excluded.parts, "
            "submitted_at = excluded.submitted_at "
            "RETURNING receipt_status, receipt_error",
            {
                "carrier": carrier,
                "reference": reference,
                "message_sid": message_sid,
                "part": part,
                "parts": parts,
                "at": to_us(at),
            },
        )
        if row is None or row["receipt_status"] is None:
            return None
        return WaitingReceipt(MessageStatus(row["receipt_status"]), row["receipt_error"])

    async def record_receipt(
        self, carrier: str, receipt: Receipt, *, at: datetime
    ) -> ReceiptOwner | None:
        """Record a final receipt for `carrier`'s `reference`; the message (and part) it is
        for, or None while no message is known under that reference."""
        row = await self._conn.fetch_one(
            "INSERT INTO carrier_references "
            "(carrier, reference, receipt_status, receipt_error, receipt_detail, receipt_at) "
            "VALUES (:carrier, :reference, :status, :error, :detail, :at) "
            "ON CONFLICT (carrier, reference) DO UPDATE SET "
            "receipt_status = excluded.receipt_status, receipt_error = excluded.receipt_error, "
            "receipt_detail = excluded.receipt_detail, receipt_at = excluded.receipt_at "
            "RETURNING message_sid, part, parts",
            {
                "carrier": carrier,
                "reference": receipt.reference,
                "status": receipt.status.value,
                "error": receipt.error_code,
                "detail": receipt.detail,
                "at": to_us(at),
            },
        )
        if row is None or row["message_sid"] is None:
            return None
        return ReceiptOwner(str(row["message_sid"]), int(row["part"]), int(row["parts"]))

    async def adopt(self, carrier: str, reference: str, message_sid: str, *, at: datetime) -> None:
        """Give a waiting receipt's reference to `message_sid`, as an earlier submission of it
        (part 0: it does not count towards the message's outcome, which its latest submission
        decides)."""
        await self._conn.execute(
            "UPDATE carrier_references SET message_sid = :sid, part = 0, parts = 0, "
            "submitted_at = :at WHERE carrier = :carrier AND reference = :reference",
            {"sid": message_sid, "at": to_us(at), "carrier": carrier, "reference": reference},
        )

    async def record_received(
        self, carrier: str, reference: str, message_sid: str, *, at: datetime
    ) -> bool:
        """Record that the handset's message `carrier` delivered under `reference` is stored
        as `message_sid`; False, writing nothing, when that reference is already taken (the
        carrier delivered the same message again)."""
        row = await self._conn.fetch_one(
            "INSERT INTO carrier_references "
            "(carrier, reference, message_sid, part, parts, submitted_at) "
            "VALUES (:carrier, :reference, :message_sid, 1, 1, :at) "
            "ON CONFLICT (carrier, reference) DO NOTHING RETURNING message_sid",
            {
                "carrier": carrier,
                "reference": reference,
                "message_sid": message_sid,
                "at": to_us(at),
            },
        )
        return row is not None

    async def message_of(self, carrier: str, reference: str) -> str | None:
        """The message `carrier` took under `reference`, if one is known."""
        row = await self._conn.fetch_one(
            "SELECT message_sid FROM carrier_references WHERE carrier = :carrier "
            "AND reference = :reference",
            {"carrier": carrier, "reference": reference},
        )
        return None if row is None else row["message_sid"]

    async def forget(self, carrier: str, reference: str) -> None:
        await self._conn.execute(
            "DELETE FROM carrier_references WHERE carrier = :carrier AND reference = :reference",
            {"carrier": carrier, "reference": reference},
        )

    async def of_message(self, message_sid: str) -> list[PartReport]:
        rows = await self._conn.fetch_all(
            "SELECT * FROM carrier_references WHERE message_sid = :sid ORDER BY part",
            {"sid": message_sid},
        )
        return [_part_report(row) for row in rows]

    async def carrier_of(self, message_sid: str) -> str | None:
        row = await self._conn.fetch_one(
            "SELECT carrier FROM carrier_references WHERE message_sid = :sid LIMIT 1",
            {"sid": message_sid},
        )
        return None if row is None else str(row["carrier"])

    async def count_unmatched(self, carrier: str) -> int:
        row = await self._conn.fetch_one(
            "SELECT COUNT(*) AS n FROM carrier_references "
            "WHERE carrier = :carrier AND message_sid IS NULL",
            {"carrier": carrier},
        )
        return 0 if row is None else int(row["n"])

    async def forget_unmatched(self, *, received_before: datetime) -> int:
        """Drop receipts that never found their message (an id the carrier made up, or a
        submit whose answer was lost in a crash), once they are older than anyone waits."""
        return await self._conn.execute(
            "DELETE FROM carrier_references WHERE message_sid IS NULL AND receipt_at < :before",
            {"before": to_us(received_before)},
        )


class CarrierLogStore(TableStore):
    __slots__ = ()

    async def record(self, message_sid: str, carrier: str, pdus: Sequence[ExchangedPdu]) -> None:
        """One statement for the PDUs of one exchange (a submit_sm and its response)."""
        if not pdus:
            return
        params: dict[str, object] = {"sid": message_sid, "carrier": carrier}
        for n, pdu in enumerate(pdus):
            params[f"direction{n}"] = pdu.direction.value
            params[f"command{n}"] = pdu.command
            params[f"status{n}"] = pdu.status
            params[f"fields{n}"] = orjson.dumps(dict(pdu.fields)).decode()
            params[f"at{n}"] = to_us(pdu.at) if pdu.at is not None else 0
        await self._conn.execute(_log_insert(len(pdus)), params)
        self._changes.messages = True

    async def of_message(self, message_sid: str) -> list[tuple[str, ExchangedPdu]]:
        """(carrier, unit) of everything exchanged for the message, oldest first."""
        rows = await self._conn.fetch_all(
            "SELECT * FROM carrier_log WHERE message_sid = :sid ORDER BY seq",
            {"sid": message_sid},
        )
        return [
            (
                str(row["carrier"]),
                ExchangedPdu(
                    direction=Direction(row["direction"]),
                    command=str(row["command"]),
                    fields=orjson.loads(row["fields"]),
                    status=row["status"],
                    at=from_us(row["at"]) if row["at"] else None,
                ),
            )
            for row in rows
        ]


@functools.cache
def _log_insert(rows: int) -> str:
    values = ", ".join(
        f"(:sid, :carrier, :direction{n}, :command{n}, :status{n}, :fields{n}, :at{n})"
        for n in range(rows)
    )
    return (
        "INSERT INTO carrier_log (message_sid, carrier, direction, command, status, fields, at) "
        f"VALUES {values}"
    )


class MobileOriginatedPartStore(TableStore):
    """Parts of handsets' long messages, keyed by (carrier, source, destination, reference)."""

    __slots__ = ()

    async def add(
        self,
        carrier: str,
        source: str,
        destination: str,
        *,
        reference: int,
        total: int,
        sequence: int,
        body: str,
        at: datetime,
    ) -> list[StoredPart]:
        """Keep one part (a repeated part replaces its twin); every part of its message so
        far, in order. Parts of one message stored at once see each other: on PostgreSQL the
        second waits for the first's commit (a lock on the message's key), so one of them
        finds them all; SQLite writes one transaction at a time anyway."""
        key = _part_key(carrier, source, destination, reference)
        if self._conn.dialect == "postgresql":
            await self._conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(:name))",
                {"name": f"textrelay-mo:{carrier}:{source}:{destination}:{reference}"},
            )
        await self._conn.execute(
            "INSERT INTO carrier_mo_parts "
            "(carrier, source, destination, reference, total, sequence, body, received_at) "
            "VALUES (:carrier, :source, :destination, :reference, :total, :sequence, :body, :at) "
            "ON CONFLICT (carrier, source, destination, reference, sequence) "
            "DO UPDATE SET body = excluded.body",
            dict(key, total=total, sequence=sequence, body=body, at=to_us(at)),
        )
        return await self.parts_of(carrier, source, destination, reference)

    async def parts_of(
        self, carrier: str, source: str, destination: str, reference: int
    ) -> list[StoredPart]:
        rows = await self._conn.fetch_all(
            f"SELECT sequence, body FROM carrier_mo_parts WHERE {_PART_KEY} ORDER BY sequence",
            _part_key(carrier, source, destination, reference),
        )
        return [_stored_part(row) for row in rows]

    async def take(
        self, carrier: str, source: str, destination: str, reference: int
    ) -> list[StoredPart]:
        """Remove and return every part of one message (empty if another node took them)."""
        rows = await self._conn.fetch_all(
            f"DELETE FROM carrier_mo_parts WHERE {_PART_KEY} RETURNING sequence, body",
            _part_key(carrier, source, destination, reference),
        )
        return sorted((_stored_part(row) for row in rows), key=attrgetter("sequence"))

    async def overdue(self, *, received_before: datetime) -> list[tuple[str, str, str, int, int]]:
        """(carrier, source, destination, reference, total) of messages whose first part is
        older than `received_before` and still incomplete."""
        rows = await self._conn.fetch_all(
            "SELECT carrier, source, destination, reference, MAX(total) AS total "
            "FROM carrier_mo_parts GROUP BY carrier, source, destination, reference "
            "HAVING MIN(received_at) < :before",
            {"before": to_us(received_before)},
        )
        return [
            (
                str(r["carrier"]),
                str(r["source"]),
                str(r["destination"]),
                int(r["reference"]),
                int(r["total"]),
            )
            for r in rows
        ]


_PART_KEY = (
    "carrier = :carrier AND source = :source AND destination = :destination "
    "AND reference = :reference"
)


def _part_key(carrier: str, source: str, destination: str, reference: int) -> dict[str, object]:
    return {
        "carrier": carrier,
        "source": source,
        "destination": destination,
        "reference": reference,
    }


def _stored_part(row: Row) -> StoredPart:
    return StoredPart(int(row["sequence"]), str(row["body"]))


def _part_report(row: Row) -> PartReport:
    status = row["receipt_status"]
    return PartReport(
        carrier=str(row["carrier"]),
        reference=str(row["reference"]),
        part=int(row["part"]),
        parts=int(row["parts"]),
        submitted_at=opt_from_us(row["submitted_at"]),
        receipt_status=MessageStatus(status) if status is not None else None,
        receipt_error=row["receipt_error"],
        receipt_detail=row["receipt_detail"],
        receipt_at=opt_from_us(row["receipt_at"]),
    )
