"""Bounded storage (`retention_days`) on both databases: the sweep deletes old messages with
every row and file that belongs to them, keeps the rest, and works in bounded batches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from textrelay.app import Services, build_services, close_services
from textrelay.domain.accounts import Account, AccountStatus, AccountType
from textrelay.domain.carriers import Direction as PduDirection
from textrelay.domain.carriers import ExchangedPdu
from textrelay.domain.jobs import Dispatch, StatusCallback
from textrelay.domain.messages import Message
from textrelay.domain.retention import retention_cutoff
from textrelay.domain.statuses import Direction, MessageStatus
from textrelay.domain.webhooks import RecordedAttempt, WebhookAttempt
from textrelay.services.queue import ClaimLimits, JobQueue
from textrelay.services.retention import RetentionService
from textrelay.settings import Settings
from textrelay.storage import Database, migrate, open_database

T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=5)
DAYS = 30
ACCOUNT = Account(
    "AC" + "a" * 32,
    "AC" + "a" * 32,
    "acct",
    AccountStatus.ACTIVE,
    AccountType.FULL,
    "t" * 32,
    OLD - timedelta(days=1),
    OLD - timedelta(days=1),
)
# Every table a message's rows live in, and the column that names the message.
OWNED = {
    "messages": "sid",
    "message_events": "message_sid",
    "webhook_attempts": "message_sid",
    "media": "message_sid",
    "carrier_references": "message_sid",
    "carrier_log": "message_sid",
    "jobs": "message_sid",
}


def _message(index: int, created: datetime, status: MessageStatus) -> Message:
    return Message(
        sid=f"SM{index:032x}",
        account_sid=ACCOUNT.sid,
        direction=Direction.OUTBOUND_API,
        status=status,
        from_="+14155550100",
        to="+14155550199",
        body=f"message {index}",
        num_segments=1,
        num_media=1,
        date_created=created,
        date_updated=created,
    )


def _run(url: str, media: Path, scenario: Callable[[Services, Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = await open_database(url)
        await migrate(database)
        settings = Settings(database_url=url, media_dir=str(media), retention_days=DAYS)
        services = build_services(settings, database, lambda: NOW)
        try:
            async with services.ctx.store.transaction() as repo:
                await repo.accounts.insert(ACCOUNT)
            return await scenario(services, database)
        finally:
            await close_services(database, services)

    return asyncio.run(run())


async def _store_with_everything(services: Services, message: Message) -> list[str]:
    """The message with a row in every table that can hold one of its; its media SIDs."""
    async with services.ctx.store.transaction() as repo:
        await repo.messages.insert(message)
        await repo.events.insert(
            message.sid,
            MessageStatus.SENT,
            None,
            message.date_created,
            previous=MessageStatus.QUEUED,
        )
        await repo.attempts.insert(ACCOUNT.sid, _attempt(message))
        await repo.carrier_references.record_submitted(
            "smsc1", f"ref-{message.sid}", message.sid, part=1, parts=1, at=message.date_created
        )
        await repo.carrier_log.record(
            message.sid, "smsc1", [ExchangedPdu(PduDirection.SENT, "submit_sm", {"n": "1"})]
        )
        # A callback not yet due: it goes with its message.
        callback = StatusCallback(ACCOUNT.sid, "http://127.0.0.1:9/cb", (), "token")
        await repo.jobs.insert(message.sid, callback, due_at=NOW + timedelta(days=1), now=NOW)
    media = await services.media.stage_inbound(message, [("image/png", b"png bytes")])
    async with services.ctx.store.transaction() as repo:
        for item in media:
            await repo.media.insert(item)
    return [m.sid for m in media]


def _attempt(message: Message) -> RecordedAttempt:
    return RecordedAttempt(
        kind="status_callback",
        message_sid=message.sid,
        idempotency_token="token",
        params=(("MessageSid", message.sid),),
        started_at=message.date_created,
        attempt=WebhookAttempt("http://127.0.0.1:9/cb", "POST", "sig", 200, "", 1.0),
    )


async def _rows_of(database: Database, sids: list[str]) -> dict[str, int]:
    marks = ", ".join(f":s{i}" for i in range(len(sids)))
    params = {f"s{i}": sid for i, sid in enumerate(sids)}
    counts = {}
    async with database.read() as conn:
        for table, column in OWNED.items():
            row = await conn.fetch_one(
                f"SELECT COUNT(*) AS n FROM {table} WHERE {column} IN ({marks})", params
            )
            assert row is not None
            counts[table] = int(row["n"])
    return counts


def test_the_sweep_deletes_old_messages_with_every_row_and_file_and_keeps_the_rest(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    url, media_dir = fresh_database(), tmp_path / "media"

    async def scenario(services: Services, database: Database) -> None:
        delivered = MessageStatus.DELIVERED
        old = [_message(i, OLD + timedelta(minutes=i), delivered) for i in range(4)]
        recent = [_message(100 + i, RECENT, delivered) for i in range(2)]
        old_media = [sid for m in old for sid in await _store_with_everything(services, m)]
        recent_media = [sid for m in recent for sid in await _store_with_everything(services, m)]
        # Old, but its send is still to come (a SendAt ahead): it waits for its dispatch.
        scheduled = _message(200, OLD, MessageStatus.SCHEDULED)
        # Old, with a job in a worker's hands right now: it waits for the job to end.
        busy = _message(201, OLD, delivered)
        async with services.ctx.store.transaction() as repo:
            await repo.messages.insert(scheduled)
            await repo.jobs.insert(
                scheduled.sid, Dispatch(), due_at=NOW + timedelta(days=3), now=NOW
            )
            await repo.messages.insert(busy)
            callback = StatusCallback(ACCOUNT.sid, "http://127.0.0.1:9/cb", (), "token")
            await repo.jobs.insert(busy.sid, callback, due_at=NOW, now=NOW)
        queue = JobQueue(services.ctx, lease_clock=lambda: NOW)
        claimed = await queue.claim(
            ClaimLimits(delivery=0, webhooks=10, per_host=10), lease_s=60, claim_prefix="test"
        )
        assert [job.message_sid for job in claimed] == [busy.sid]
        waiting = [scheduled.sid, busy.sid]
        before = await _rows_of(database, [m.sid for m in recent])

        deleted = await services.retention.sweep(NOW)
        again = await services.retention.sweep(NOW)

        assert deleted == len(old)
        assert again == 0
        assert await _rows_of(database, [m.sid for m in old]) == dict.fromkeys(OWNED, 0)
        assert await _rows_of(database, [m.sid for m in recent]) == before
        assert all(count > 0 for count in before.values())
        assert (await _rows_of(database, waiting))["messages"] == 2
        assert (await _rows_of(database, waiting))["jobs"] == 2
        assert not [sid for sid in old_media if (media_dir / sid).exists()]
        assert all((media_dir / sid).exists() for sid in recent_media)

    _run(url, media_dir, scenario)


async def _store_plain(services: Services, count: int, *, first: int, created: datetime) -> None:
    async with services.ctx.store.transaction() as repo:
        for i in range(first, first + count):
            message = _message(i, created + timedelta(seconds=i), MessageStatus.DELIVERED)
            await repo.messages.insert(message)
            await repo.events.insert(
                message.sid,
                MessageStatus.DELIVERED,
                None,
                created,
                previous=MessageStatus.SENT,
            )


async def _message_count(database: Database) -> int:
    async with database.read() as conn:
        row = await conn.fetch_one("SELECT COUNT(*) AS n FROM messages")
    assert row is not None
    return int(row["n"])


def test_a_sweep_deletes_batch_after_batch_each_no_larger_than_the_batch_size(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    url = fresh_database()

    async def scenario(services: Services, database: Database) -> tuple[int, int, list[int]]:
        await _store_plain(services, 1200, first=0, created=OLD)
        await _store_plain(services, 10, first=5000, created=RECENT)
        retention = RetentionService(
            services.ctx, services.media, days=DAYS, batch_size=500, pause_s=0
        )
        changes = services.ctx.messages_changed
        generation = changes.generation
        deleted = await retention.sweep(NOW)
        # Each committed transaction that deleted messages raised one wake-up.
        transactions = changes.generation - generation
        await _store_plain(services, 1200, first=10_000, created=OLD)
        cutoff = retention_cutoff(NOW, DAYS)
        sizes = [len(await retention.delete_batch(cutoff)) for _ in range(4)]
        assert await _message_count(database) == 10
        return deleted, transactions, sizes

    deleted, transactions, sizes = _run(url, tmp_path / "media", scenario)

    assert deleted == 1200
    assert transactions == 3
    assert sizes == [500, 500, 200, 0]


def test_nodes_sweeping_one_database_at_once_share_the_work(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    url = fresh_database()

    async def scenario(services: Services, database: Database) -> tuple[list[int], int]:
        await _store_plain(services, 1500, first=0, created=OLD)
        others = [await open_database(url) for _ in range(2)]
        try:
            nodes = [
                build_services(
                    Settings(database_url=url, media_dir=str(tmp_path / "m")), db, lambda: NOW
                )
                for db in others
            ]
            sweeps = [
                RetentionService(node.ctx, node.media, days=DAYS, batch_size=100, pause_s=0)
                for node in [services, *nodes]
            ]
            counts = await asyncio.gather(*(sweep.sweep(NOW) for sweep in sweeps))
            for node in nodes:
                await node.webhooks.close()
                await node.media_fetcher.close()
        finally:
            for db in others:
                await db.close()
        return list(counts), await _message_count(database)

    counts, left = _run(url, tmp_path / "media", scenario)

    assert sum(counts) == 1500
    assert left == 0
