"""How receipts and references meet in storage, on SQLite and PostgreSQL: a receipt that
comes first waits for its submit, one adopted from a lost submit is kept, and a reused id does
not hand an old message's receipt to a new one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from tests.integration.test_storage import _account, _message
from tests.integration.test_storage import db_url as db_url
from textrelay.domain.carriers import Receipt
from textrelay.domain.statuses import Direction, MessageStatus
from textrelay.storage import Repository, Store, migrate, open_database
from textrelay.storage.carriers import ReceiptOwner, WaitingReceipt

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T = TypeVar("T")
DELIVERED = Receipt("r1", MessageStatus.DELIVERED, detail="stat:DELIVRD")
ACCOUNT = "AC" + "a" * 32
HANDSET = "+14155550199"
SENDER = "+14155550100"
UNDELIVERED = Receipt("r1", MessageStatus.UNDELIVERED, 30003, "stat:UNDELIV")


def _run(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        database = await open_database(url)
        try:
            await migrate(database)
            return await work(Store(database))
        finally:
            await database.close()

    return asyncio.run(main())


async def _in(store: Store, step: Callable[[Repository], Awaitable[T]]) -> T:
    async with store.transaction() as repo:
        return await step(repo)


def test_a_receipt_that_comes_first_waits_for_its_submit(db_url: str) -> None:
    async def work(store: Store) -> tuple[ReceiptOwner | None, WaitingReceipt | None]:
        sid = await _in(
            store, lambda r: r.carrier_references.record_receipt("c", DELIVERED, at=NOW)
        )
        waiting = await _in(
            store,
            lambda r: r.carrier_references.record_submitted(
                "c", "r1", "SM1", part=1, parts=1, at=NOW
            ),
        )
        return sid, waiting

    sid, waiting = _run(db_url, work)
    assert sid is None
    assert waiting == WaitingReceipt(MessageStatus.DELIVERED, None)


def test_a_receipt_after_its_submit_finds_the_message_and_part(db_url: str) -> None:
    async def work(store: Store) -> ReceiptOwner | None:
        await _in(
            store,
            lambda r: r.carrier_references.record_submitted(
                "c", "r1", "SM1", part=2, parts=3, at=NOW
            ),
        )
        return await _in(
            store, lambda r: r.carrier_references.record_receipt("c", UNDELIVERED, at=NOW)
        )

    owner = _run(db_url, work)
    assert owner == ReceiptOwner("SM1", part=2, parts=3)
    assert not owner.alone


def test_a_reused_reference_does_not_hand_over_the_old_receipt(db_url: str) -> None:
    async def work(store: Store) -> tuple[WaitingReceipt | None, list[str]]:
        await _in(
            store,
            lambda r: r.carrier_references.record_submitted(
                "c", "r1", "SM1", part=1, parts=1, at=NOW
            ),
        )
        await _in(store, lambda r: r.carrier_references.record_receipt("c", DELIVERED, at=NOW))
        waiting = await _in(
            store,
            lambda r: r.carrier_references.record_submitted(
                "c", "r1", "SM2", part=1, parts=1, at=NOW
            ),
        )
        async with store.read() as repo:
            reports = await repo.carrier_references.of_message("SM2")
        return waiting, [str(report.receipt_status) for report in reports]

    waiting, statuses = _run(db_url, work)
    assert waiting is None
    assert statuses == ["None"]


def test_an_adopted_receipt_is_kept_for_the_submit_that_claims_it(db_url: str) -> None:
    async def work(store: Store) -> WaitingReceipt | None:
        await _in(store, lambda r: r.carrier_references.record_receipt("c", DELIVERED, at=NOW))
        await _in(store, lambda r: r.carrier_references.adopt("c", "r1", "SM9", at=NOW))
        return await _in(
            store,
            lambda r: r.carrier_references.record_submitted(
                "c", "r1", "SM1", part=1, parts=1, at=NOW
            ),
        )

    assert _run(db_url, work) == WaitingReceipt(MessageStatus.DELIVERED, None)


def test_a_lost_submit_is_found_as_the_oldest_message_still_queued_between_the_addresses(
    db_url: str,
) -> None:
    """The owner of a receipt whose reference a crash lost: of any account, outbound, still
    queued, from the receipt's sender to its handset; the oldest of those first."""
    other = "AC" + "b" * 32
    messages = [
        _message(1, ACCOUNT, status=MessageStatus.SENT),  # answered: has its reference
        _message(2, other),  # the oldest still queued, in another account
        _message(3, ACCOUNT),
        _message(4, ACCOUNT, to="+14155550111"),  # another handset
        _message(5, ACCOUNT, from_="+14155550122"),  # another sender
        _message(6, ACCOUNT, direction=Direction.INBOUND, status=MessageStatus.RECEIVED),
    ]

    async def work(store: Store) -> list[str | None]:
        async def insert(repo: Repository) -> None:
            for account in (ACCOUNT, other):
                await repo.accounts.insert(_account(account))
            for message in messages:
                await repo.messages.insert(message)

        await _in(store, insert)
        found = [await _in(store, lambda r: r.messages.oldest_queued(HANDSET, SENDER))]
        await _in(store, lambda r: r.messages.delete(messages[1]))
        found.append(await _in(store, lambda r: r.messages.oldest_queued(HANDSET, SENDER)))
        found.append(await _in(store, lambda r: r.messages.oldest_queued(SENDER, HANDSET)))
        return found

    assert _run(db_url, work) == [messages[1].sid, messages[2].sid, None]
