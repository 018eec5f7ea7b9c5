"""Storage on both databases: migrations, the repository's round trips, keyset paging."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import orjson
import pytest

from tests.conftest import POSTGRES_URL, DatabaseUnderTest
from textrelay.domain.accounts import Account, AccountStatus, AccountType, SecondaryAuthToken
from textrelay.domain.jobs import (
    CarrierReports,
    Dispatch,
    Job,
    JobKind,
    JobPayload,
    StatusCallback,
)
from textrelay.domain.messages import Message, MessageFilter, SendOptions
from textrelay.domain.paging import InvalidPageToken, PageAnchor, PageDirection, PageQuery
from textrelay.domain.sids import SidGenerator
from textrelay.domain.statuses import Direction, MessageStatus
from textrelay.domain.webhooks import RecordedAttempt, WebhookAttempt
from textrelay.services.accounts import MAIN_ACCOUNT_KEY
from textrelay.services.context import ServiceContext
from textrelay.services.finishing import FinishedTogether
from textrelay.services.simulator import SimulatorService
from textrelay.storage import (
    ChangeRefused,
    Database,
    IntegrityConflict,
    StorageError,
    Store,
    migrate,
    open_database,
)
from textrelay.storage.jobs import NextDue
from textrelay.storage.migrations import available

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def db_url(database: DatabaseUnderTest) -> Iterator[str]:
    """A fresh, unmigrated database of each kind (its own file or schema)."""
    if database.backend == "sqlite":
        yield database.url.replace("textrelay.db", f"storage-{secrets.token_hex(4)}.db")
        return
    schema = f"textrelay_storage_{secrets.token_hex(6)}"

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?search_path={schema}"
    finally:
        asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


async def _opened(url: str) -> Database:
    return await open_database(url)


def _account(sid: str = "AC" + "a" * 32) -> Account:
    return Account(sid, sid, "acct", AccountStatus.ACTIVE, AccountType.FULL, "t" * 32, NOW, NOW)


def _message(index: int, account_sid: str, **overrides: object) -> Message:
    fields: dict[str, object] = {
        "sid": f"SM{index:032x}",
        "account_sid": account_sid,
        "direction": Direction.OUTBOUND_API,
        "status": MessageStatus.QUEUED,
        "from_": "+14155550100",
        "to": "+14155550199",
        "body": f"message {index}",
        "num_segments": 1,
        "num_media": 0,
        "date_created": NOW + timedelta(seconds=index),
        "date_updated": NOW + timedelta(seconds=index),
        "tags": {"n": str(index)},
        "options": SendOptions(status_callback="https://example.test/cb", send_at=NOW),
    }
    fields.update(overrides)
    return Message(**fields)  # type: ignore[arg-type]


def test_migrations_apply_once_and_record_each_version(db_url: str) -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        db = await _opened(db_url)
        try:
            first = [m.version for m in await migrate(db)]
            second = [m.version for m in await migrate(db)]
        finally:
            await db.close()
        return first, second

    first, second = asyncio.run(scenario())

    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert first == [m.version for m in available(dialect)]
    assert second == []


def test_jobs_of_an_older_schema_still_find_their_message_after_migration_5(
    db_url: str,
) -> None:
    """Migration 5 indexes jobs by their message's seq: jobs written before it keep theirs."""

    async def scenario() -> tuple[list[str], list[str], int]:
        db = await _opened(db_url)
        try:
            await migrate(db, up_to=4)
            store = Store(db)
            message = _message(1, "AC" + "a" * 32)
            async with db.transaction() as conn:  # the account as schema 4 wrote it
                await conn.execute(
                    "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, type, "
                    "auth_token, date_created, date_updated) "
                    "VALUES (:sid, :sid, 'acct', 'active', 'Full', :token, 1, 1)",
                    {"sid": message.account_sid, "token": "t" * 32},
                )
            async with store.transaction() as repo:
                await repo.messages.insert(message)
            async with db.transaction() as conn:  # a job as schema 4 wrote it
                await conn.execute(
                    "INSERT INTO jobs (kind, message_sid, payload, due_at, created_at) "
                    "VALUES ('dispatch', :sid, '{}', 1, 1)",
                    {"sid": message.sid},
                )
            applied = [m.name for m in await migrate(db)]
            async with store.read() as repo:
                before = await repo.jobs.pending_kinds(message.sid)
            async with store.transaction() as repo:
                callback = StatusCallback(message.account_sid, "http://127.0.0.1/cb", (), "token")
                await repo.jobs.insert(message.sid, callback, due_at=NOW, now=NOW)
                dropped = await repo.jobs.drop_pending(message.sid, JobKind.DISPATCH)
            async with store.read() as repo:
                after = await repo.jobs.pending_kinds(message.sid)
        finally:
            await db.close()
        return applied, [*before, "|", *after], dropped

    applied, kinds, dropped = asyncio.run(scenario())

    assert applied[0] == "jobs_by_message_seq"
    assert kinds == ["dispatch", "|", "callback"]
    assert dropped == 1


def test_migrations_are_numbered_alike_for_both_databases() -> None:
    sqlite = [(m.version, m.name) for m in available("sqlite")]
    postgres = [(m.version, m.name) for m in available("postgresql")]

    assert sqlite == postgres
    assert [v for v, _ in sqlite] == list(range(1, len(sqlite) + 1))


def test_concurrent_migrations_apply_each_version_once(db_url: str) -> None:
    async def scenario() -> list[list[int]]:
        dbs = [await _opened(db_url) for _ in range(3)]
        try:
            results = await asyncio.gather(*(migrate(db) for db in dbs))
        finally:
            for db in dbs:
                await db.close()
        return [[m.version for m in applied] for applied in results]

    results = asyncio.run(scenario())

    assert sorted(len(r) for r in results) == [0, 0, len(available("postgresql"))]
    # (Both databases have the same migrations: test_migrations_are_numbered_alike…)


T = TypeVar("T")


class LoopStore(Store):
    """A migrated store with the event loop its connections belong to."""

    def __init__(self, database: Database, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(database)
        self.loop = loop


@pytest.fixture
def store(db_url: str) -> Iterator[LoopStore]:
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(_opened(db_url))
    loop.run_until_complete(migrate(db))
    try:
        yield LoopStore(db, loop)
    finally:
        loop.run_until_complete(db.close())
        loop.close()


def on(store: LoopStore, coro: Coroutine[Any, Any, T]) -> T:
    return store.loop.run_until_complete(coro)


async def _claimed_jobs(
    store: LoopStore, account: Account, jobs: list[tuple[Message, JobPayload]]
) -> list[Job]:
    """The account, the messages and a job of each, stored and claimed by "worker-a"."""
    async with store.transaction() as repo:
        await repo.accounts.insert(account)
        for message, payload in jobs:
            await repo.messages.insert(message)
            await repo.jobs.insert(message.sid, payload, due_at=NOW, now=NOW)
    async with store.single_statement() as repo:
        claimed, _ = await repo.jobs.claim(
            now=NOW,
            lease_now=NOW,
            lease_until=NOW + timedelta(seconds=15),
            claim="worker-a",
            delivery_limit=len(jobs),
            webhook_limit=len(jobs),
            per_host=len(jobs),
        )
    return claimed


async def _one_claimed_job(
    store: LoopStore, account: Account, message: Message, payload: JobPayload
) -> Job:
    """The account, its message and one job of it, stored and claimed by "worker-a"."""
    [job] = await _claimed_jobs(store, account, [(message, payload)])
    return job


async def _claimed_callbacks(
    store: LoopStore, account: Account, messages: list[Message]
) -> list[Job]:
    """The account, its messages and a status callback job of each (a host each), stored and
    claimed by "worker-a"."""
    return await _claimed_jobs(
        store,
        account,
        [
            (m, StatusCallback(account.sid, f"http://127.0.0.1:9/{m.sid}", (), m.sid))
            for m in messages
        ],
    )


def test_message_round_trip_keeps_every_field(store: LoopStore) -> None:
    account = _account()
    message = _message(1, account.sid, error_code=30003, price="-0.00750", body="Hello! 👍")

    async def scenario() -> Message | None:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
        async with store.read() as repo:
            return await repo.messages.get(message.sid)

    assert on(store, scenario()) == message


def test_a_failed_transaction_leaves_nothing_behind(store: LoopStore) -> None:
    account = _account()
    later = _account("AC" + "b" * 32)

    async def scenario() -> tuple[Account | None, Account | None]:
        with pytest.raises(IntegrityConflict):  # noqa: PT012 - the block is the transaction
            async with store.transaction() as repo:
                await repo.accounts.insert(account)
                await repo.accounts.insert(account)  # same SID: refused, whole write undone
        # A later transaction commits; the failed one's first insert must not ride along.
        async with store.transaction() as repo:
            await repo.accounts.insert(later)
        async with store.read() as repo:
            return await repo.accounts.get(account.sid), await repo.accounts.get(later.sid)

    assert on(store, scenario()) == (None, later)


def test_a_message_and_its_job_are_written_by_one_statement_together(store: LoopStore) -> None:
    account = _account()
    message = _message(7, account.sid)
    duplicate = _message(7, account.sid, body="the same SID again")

    async def scenario() -> tuple[Message | None, list[str], int]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
        async with store.single_statement() as repo:
            await repo.messages.insert_with_job(message, Dispatch(), due_at=NOW, now=NOW)
        # A refused message leaves no job behind: the two rows are one write.
        with pytest.raises(IntegrityConflict):
            async with store.single_statement() as repo:
                await repo.messages.insert_with_job(duplicate, Dispatch(), due_at=NOW, now=NOW)
        async with store.read() as repo:
            kinds = await repo.jobs.pending_kinds(message.sid)
            stored = await repo.messages.get(message.sid)
            jobs = await repo.jobs.waiting_dispatches(account.sid)
        return stored, kinds, jobs

    stored, kinds, dispatches = on(store, scenario())
    assert stored == message
    assert kinds == ["dispatch"]
    assert dispatches == 1


def test_an_accounts_backlog_counts_the_work_owed_now_not_later_nor_parked(
    store: LoopStore,
) -> None:
    busy, calm, idle = _account(), _account("AC" + "b" * 32), _account("AC" + "c" * 32)
    owed, scheduled, parked, two_callbacks, running = (
        _message(index, busy.sid) for index in range(20, 25)
    )
    theirs = _message(25, calm.sid)
    later = NOW + timedelta(hours=1)

    def callback(message: Message) -> StatusCallback:
        return StatusCallback(busy.sid, "http://127.0.0.1:9/cb", (), message.sid)

    async def scenario() -> dict[str, int]:
        # Claimed first, so its lease (due_at 15 s on) is all that makes it count.
        await _one_claimed_job(store, busy, running, callback(running))
        async with store.transaction() as repo:
            await repo.accounts.insert(calm)
            await repo.accounts.insert(idle)
            for message in (owed, scheduled, parked, two_callbacks, theirs):
                await repo.messages.insert(message)
            await repo.jobs.insert(owed.sid, Dispatch(), due_at=NOW, now=NOW)
            await repo.jobs.insert(scheduled.sid, Dispatch(), due_at=later, now=NOW)
            await repo.jobs.insert(parked.sid, CarrierReports(()), due_at=None, now=NOW)
            for _ in range(2):  # the second waits its turn: still owed
                await repo.jobs.insert(
                    two_callbacks.sid, callback(two_callbacks), due_at=NOW, now=NOW
                )
            await repo.jobs.insert(theirs.sid, callback(theirs), due_at=NOW, now=NOW)
        async with store.read() as repo:
            return await repo.jobs.backlogs(now=NOW)

    assert on(store, scenario()) == {busy.sid: 4, calm.sid: 1}


def test_a_callbacks_attempt_and_its_jobs_end_are_one_write(store: LoopStore) -> None:
    account = _account()
    message = _message(8, account.sid)
    callback = StatusCallback(
        account.sid, "http://127.0.0.1:9/cb", (("MessageStatus", "sent"),), "tok"
    )
    attempt = RecordedAttempt(
        kind="status callback",
        message_sid=message.sid,
        idempotency_token="tok",
        params=callback.params,
        started_at=NOW,
        attempt=WebhookAttempt(callback.url, "POST", "sig", 200, "", 1.0),
    )

    async def scenario() -> tuple[bool, bool, list[str], int]:
        job = await _one_claimed_job(store, account, message, callback)
        async with store.single_statement() as repo:
            finished = await repo.attempts.insert_finishing(account.sid, [attempt], job)
        # Again, as a worker whose lease was lost: the job is not its to finish any more,
        # and what it did is recorded all the same.
        async with store.single_statement() as repo:
            again = await repo.attempts.insert_finishing(account.sid, [attempt], job)
        async with store.read() as repo:
            kinds = await repo.jobs.pending_kinds(message.sid)
            recorded = await repo.attempts.of_message(message.sid)
        return finished, again, kinds, len(recorded)

    assert on(store, scenario()) == (True, False, [], 2)


def test_jobs_that_end_together_are_finished_in_one_write_their_attempts_all_recorded(
    store: LoopStore,
) -> None:
    account = _account()
    first, second = _message(10, account.sid), _message(11, account.sid)

    def attempt(message: Message, code: int) -> RecordedAttempt:
        return RecordedAttempt(
            kind="status callback",
            message_sid=message.sid,
            idempotency_token=message.sid,
            params=(("MessageStatus", "sent"),),
            started_at=NOW,
            attempt=WebhookAttempt("http://127.0.0.1:9/cb", "POST", "sig", code, "", 1.0),
        )

    async def scenario() -> tuple[int, list[str], list[str], list[int | None], list[int | None]]:
        jobs = await _claimed_callbacks(store, account, [first, second])
        by_message = {job.message_sid: job for job in jobs}
        lost = replace(by_message[second.sid], claim="worker-gone")  # its lease went elsewhere
        async with store.single_statement() as repo:
            finished = await repo.attempts.insert_finishing_all(
                [
                    (
                        account.sid,
                        [attempt(first, 500), attempt(first, 200)],
                        by_message[first.sid],
                    ),
                    (account.sid, [attempt(second, 200)], lost),
                ]
            )
        async with store.read() as repo:
            kinds_first = await repo.jobs.pending_kinds(first.sid)
            kinds_second = await repo.jobs.pending_kinds(second.sid)
            codes_first = [r.attempt.status_code for r in await repo.attempts.of_message(first.sid)]
            codes_second = [
                r.attempt.status_code for r in await repo.attempts.of_message(second.sid)
            ]
        return finished, kinds_first, kinds_second, codes_first, codes_second

    finished, kinds_first, kinds_second, codes_first, codes_second = on(store, scenario())
    assert finished == 1
    assert (kinds_first, kinds_second) == ([], ["callback"])
    assert codes_first == [500, 200]  # in their order
    assert codes_second == [200]  # recorded all the same: it happened


def test_webhook_jobs_ending_in_one_loop_turn_share_one_write(store: LoopStore) -> None:
    account = _account()
    messages = [_message(20 + i, account.sid) for i in range(3)]
    writes = 0
    single_statement = store.single_statement

    def counted() -> Any:
        nonlocal writes
        writes += 1
        return single_statement()

    async def scenario() -> tuple[int, list[list[str]], int]:
        jobs = await _claimed_callbacks(store, account, messages)
        finishing = FinishedTogether(ServiceContext(store, SidGenerator(secrets.token_bytes), _now))
        store.single_statement = counted  # type: ignore[method-assign]
        # One handler is cancelled while it waits: the write the others share still happens.
        waits = [asyncio.ensure_future(finishing.finish(account.sid, [], job)) for job in jobs]
        await asyncio.sleep(0)
        waits[0].cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        store.single_statement = single_statement  # type: ignore[method-assign]
        async with store.read() as repo:
            pending = [await repo.jobs.pending_kinds(m.sid) for m in messages]
        return len(jobs), pending, writes

    claimed, pending, writes_made = on(store, scenario())
    assert claimed == 3
    assert pending == [[], [], []]
    assert writes_made == 1


def test_rows_held_for_a_single_statement_go_with_it_all_or_none(store: LoopStore) -> None:
    account = _account()
    message = _message(30, account.sid)

    async def history() -> list[MessageStatus]:
        async with store.read() as repo:
            return [event.status for event in await repo.events.of_message(message)]

    async def scenario() -> tuple[list[MessageStatus], list[MessageStatus], bool]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
        # Held rows and no statement after them: they are the statement.
        async with store.single_statement() as repo:
            for status in (MessageStatus.SENDING, MessageStatus.SENT):
                await repo.events.insert(
                    message.sid, status, None, NOW, previous=MessageStatus.QUEUED
                )
        alone = await history()
        # Held rows, then a write that reads their table and so cannot carry them: two
        # statements, not atomic outside a transaction, refused before either goes
        # (PostgreSQL; SQLite's single statement is a transaction of its own).
        refused = False
        try:
            async with store.database.single_statement() as conn:
                await conn.insert_later(
                    "INSERT INTO message_events (message_sid, status, previous_status, "
                    "occurred_at) VALUES (:sid, 'delivered', 'sent', 0)",
                    {"sid": message.sid},
                )
                await conn.execute(
                    "DELETE FROM message_events WHERE message_sid = :sid", {"sid": message.sid}
                )
        except StorageError:
            refused = True
        return alone, await history(), refused

    alone, after, refused = on(store, scenario())
    assert alone[1:] == [MessageStatus.SENDING, MessageStatus.SENT]
    if store.database.dialect == "postgresql":
        assert refused
        assert after == alone  # neither write was made
    else:
        assert not refused
        assert after == alone[:1]  # one transaction: the DELETE took both


def test_rows_inserted_later_are_seen_by_the_next_statement_and_commit_in_order(
    store: LoopStore,
) -> None:
    account = _account()
    message = _message(9, account.sid)
    callbacks = [
        StatusCallback(account.sid, "http://127.0.0.1:9/cb", (("MessageStatus", s),), s)
        for s in ("sending", "sent", "delivered")
    ]

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
            for callback, status in zip(callbacks, ("sending", "sent", "delivered"), strict=True):
                await repo.events.insert(
                    message.sid, MessageStatus(status), None, NOW, previous=MessageStatus.QUEUED
                )
                await repo.jobs.insert(message.sid, callback, due_at=NOW, now=NOW)
            # Held rows go out before the next statement: this one sees all three.
            seen = await repo.jobs.pending_kinds(message.sid)
            await repo.jobs.insert(message.sid, Dispatch(), due_at=NOW, now=NOW)
        async with store.read() as repo:
            kinds = await repo.jobs.pending_kinds(message.sid)
        async with store.database.read() as conn:
            rows = await conn.fetch_all(
                "SELECT payload FROM jobs WHERE kind = 'callback' ORDER BY seq", {}
            )
        return seen, kinds, [orjson.loads(row["payload"])["token"] for row in rows]

    seen, kinds, tokens = on(store, scenario())
    assert seen == ["callback"] * 3
    assert kinds == ["callback"] * 3 + ["dispatch"]
    assert tokens == ["sending", "sent", "delivered"]  # job seqs in the order asked


def test_rows_inserted_later_in_a_failed_transaction_leave_nothing_behind(
    store: LoopStore,
) -> None:
    account = _account()
    message = _message(10, account.sid)

    async def scenario() -> tuple[list[str], int]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
        with pytest.raises(RuntimeError):  # noqa: PT012 - the block is the transaction
            async with store.transaction() as repo:
                await repo.jobs.insert(message.sid, Dispatch(), due_at=NOW, now=NOW)
                raise RuntimeError("the transaction fails before its commit")
        # A row that fails when the held rows go out (at the COMMIT) fails its transaction.
        with pytest.raises(StorageError):  # noqa: PT012 - the block is the transaction
            async with store.database.transaction() as conn:
                await conn.insert_later(
                    "INSERT INTO message_events (message_sid, status, previous_status, "
                    "error_code, occurred_at) VALUES (:sid, 'sent', 'queued', NULL, 0)",
                    {"sid": message.sid},
                )
                await conn.insert_later(
                    "INSERT INTO meta (key, value) VALUES (:key, :value)",
                    {"key": "k", "value": None},  # NOT NULL: refused
                )
        async with store.read() as repo:
            kinds = await repo.jobs.pending_kinds(message.sid)
        async with store.database.read() as conn:
            history = await conn.fetch_all("SELECT seq FROM message_events", {})
        return kinds, len(history)

    assert on(store, scenario()) == ([], 0)


def test_held_rows_ride_with_a_write_that_does_not_read_them_and_not_with_one_that_does(
    store: LoopStore,
) -> None:
    account = _account()
    message = _message(11, account.sid)
    event = (
        "INSERT INTO message_events (message_sid, status, previous_status, error_code, "
        "occurred_at) VALUES (:sid, :status, 'queued', NULL, 0)"
    )

    async def scenario() -> tuple[int, int, int]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
        async with store.database.transaction() as conn:
            for status in ("sending", "sent"):
                await conn.insert_later(event, {"sid": message.sid, "status": status})
            # Reads none of the held rows' table: they ride along, and its count is its own.
            updated = await conn.execute(
                "UPDATE messages SET body = 'changed' WHERE sid = :sid", {"sid": message.sid}
            )
            await conn.insert_later(event, {"sid": message.sid, "status": "delivered"})
            # Reads their table: they must be in before it runs, or it would miss them.
            marked = await conn.execute(
                "UPDATE message_events SET error_code = 1 WHERE message_sid = :sid",
                {"sid": message.sid},
            )
        async with store.database.read() as conn:
            rows = await conn.fetch_all("SELECT seq FROM message_events", {})
        return updated, marked, len(rows)

    assert on(store, scenario()) == (1, 3, 3)


def test_a_one_statement_change_writes_all_of_it_or_none(store: LoopStore) -> None:
    account = _account()
    message = _message(12, account.sid)
    sending = replace(message, status=MessageStatus.SENDING)

    async def change(job: Job, from_status: MessageStatus) -> None:
        async with store.one_statement_change() as repo:
            await repo.jobs.finish(job)
            await repo.events.insert(
                message.sid, MessageStatus.SENDING, None, NOW, previous=from_status
            )
            await repo.jobs.insert(message.sid, CarrierReports(()), due_at=NOW, now=NOW)
            await repo.messages.transition(sending, from_status=from_status)

    async def scenario() -> tuple[list[str], int, MessageStatus | None]:
        job = await _one_claimed_job(store, account, message, Dispatch())
        if store.database.dialect == "postgresql":
            # The message is not in the status the change expects: nothing of it is written.
            with pytest.raises(ChangeRefused):
                await change(job, MessageStatus.ACCEPTED)
            async with store.one_statement_change() as repo:
                with pytest.raises(StorageError, match="cannot read"):
                    await repo.messages.get(message.sid)
        await change(job, MessageStatus.QUEUED)
        async with store.read() as repo:
            kinds = await repo.jobs.pending_kinds(message.sid)
            stored = await repo.messages.get(message.sid)
        async with store.database.read() as conn:
            history = await conn.fetch_all("SELECT seq FROM message_events", {})
        return kinds, len(history), None if stored is None else stored.status

    assert on(store, scenario()) == (["carrier"], 1, MessageStatus.SENDING)


def test_a_claim_tells_when_the_next_job_is_due_on_postgresql(store: LoopStore) -> None:
    account = _account()
    message = _message(13, account.sid)
    later = NOW + timedelta(seconds=5)

    async def scenario() -> tuple[list[JobKind], NextDue | None, NextDue]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(message)
            await repo.jobs.insert(message.sid, Dispatch(), due_at=NOW, now=NOW)
            await repo.jobs.insert(message.sid, CarrierReports(()), due_at=later, now=NOW)
        async with store.single_statement() as repo:
            jobs, told = await repo.jobs.claim(
                now=NOW,
                lease_now=NOW,
                lease_until=NOW + timedelta(seconds=15),
                claim="worker-a",
                delivery_limit=10,
                webhook_limit=10,
                per_host=1,
            )
        async with store.read() as repo:
            asked = await repo.jobs.next_due(after=NOW, lease_after=NOW)
        return [job.kind for job in jobs], told, asked

    kinds, told, asked = on(store, scenario())
    assert kinds == [JobKind.DISPATCH]
    assert asked == NextDue(later, NOW + timedelta(seconds=15), None, None)
    # The claim's answer is asking after it, but for the leases it takes itself (their
    # runner renews them); SQLite asks later, only when needed.
    expected = NextDue(later, None, None, None)
    assert told == (expected if store.database.dialect == "postgresql" else None)


def test_a_process_is_woken_by_another_of_its_schema_not_by_itself_nor_another_schema(
    db_url: str,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's; SQLite's wake-up: test_sqlite_processes.py")

    async def scenario() -> list[int]:
        one = await _opened(db_url)
        senders = {
            "itself": one,
            "another schema": await _opened(f"{POSTGRES_URL}?search_path=public"),
            "another process": await _opened(db_url),
        }
        heard: list[str] = []
        unlisten = await one.listen("textrelay_test", lambda: heard.append("heard"))
        woken = []
        try:
            for sender in senders.values():
                before = len(heard)
                async with sender.transaction() as conn:
                    conn.notify_at_commit("textrelay_test")
                for _ in range(10):  # a NOTIFY arrives well within a second
                    if len(heard) > before:
                        break
                    await asyncio.sleep(0.1)
                woken.append(len(heard) - before)
            return woken
        finally:
            await unlisten()
            for db in {id(db): db for db in senders.values()}.values():
                await db.close()

    assert asyncio.run(scenario()) == [0, 0, 1]


def test_a_single_statement_write_refuses_a_second_on_postgresql(db_url: str) -> None:
    async def scenario() -> None:
        db = await _opened(db_url)
        try:
            await migrate(db)
            async with db.single_statement() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('one', '1')")
                if db.dialect == "postgresql":
                    with pytest.raises(StorageError, match="not be atomic"):
                        await conn.execute("INSERT INTO meta (key, value) VALUES ('two', '2')")
        finally:
            await db.close()

    asyncio.run(scenario())


def test_keyset_pages_walk_forward_and_back_and_survive_deletes(store: LoopStore) -> None:
    account = _account()
    messages = [_message(i, account.sid) for i in range(10)]

    async def scenario() -> None:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            for m in messages:
                await repo.messages.insert(m)
        async with store.read() as repo:
            first = await repo.messages.page(account.sid, PageQuery(4), MessageFilter())
        assert [m.sid for m in first.items] == [m.sid for m in messages[9:5:-1]]
        assert first.has_next

        # The anchor record is deleted before the next page is asked for.
        async with store.transaction() as repo:
            await repo.messages.delete(first.items[-1])
        after = PageAnchor(PageDirection.AFTER, first.items[-1].sid)
        async with store.read() as repo:
            second = await repo.messages.page(account.sid, PageQuery(4, 1, after), MessageFilter())
            before = PageAnchor(PageDirection.BEFORE, second.items[0].sid)
            back = await repo.messages.page(account.sid, PageQuery(4, 0, before), MessageFilter())
            last = PageAnchor(PageDirection.AFTER, second.items[-1].sid)
            third = await repo.messages.page(account.sid, PageQuery(4, 2, last), MessageFilter())
        assert [m.sid for m in second.items] == [m.sid for m in messages[5:1:-1]]
        assert [m.sid for m in back.items] == [m.sid for m in messages[9:6:-1]]
        assert [m.sid for m in third.items] == [m.sid for m in messages[1::-1]]
        assert not third.has_next

    on(store, scenario())


def test_unknown_page_anchor_is_an_invalid_token(store: LoopStore) -> None:
    account = _account()

    async def scenario() -> None:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
        anchor = PageAnchor(PageDirection.AFTER, "SM" + "f" * 32)
        async with store.read() as repo:
            with pytest.raises(InvalidPageToken):
                await repo.messages.page(account.sid, PageQuery(5, 1, anchor), MessageFilter())

    on(store, scenario())


def test_message_filters(store: LoopStore) -> None:
    account = _account()
    sent = NOW + timedelta(days=1)
    a = _message(1, account.sid, to="+14155550111")
    b = _message(2, account.sid, from_="+14155550222", date_sent=sent, status=MessageStatus.SENT)

    async def scenario() -> dict[str, list[str]]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.messages.insert(a)
            await repo.messages.insert(b)
        async with store.read() as repo:
            page = PageQuery(50)

            async def sids(f: MessageFilter) -> list[str]:
                return [m.sid for m in (await repo.messages.page(account.sid, page, f)).items]

            return {
                "to": await sids(MessageFilter(to="+14155550111")),
                "from": await sids(MessageFilter(from_="+14155550222")),
                "sent": await sids(MessageFilter(date_sent_from=sent)),
                "before": await sids(MessageFilter(date_sent_until=sent)),
            }

    found = on(store, scenario())

    assert found == {"to": [a.sid], "from": [b.sid], "sent": [b.sid], "before": []}


def test_processes_starting_together_agree_on_one_main_account(db_url: str) -> None:
    from textrelay.app import Runtime
    from textrelay.settings import Settings

    async def scenario() -> set[str]:
        runtimes = await asyncio.gather(
            *(Runtime.start(Settings(database_url=db_url)) for _ in range(3))
        )
        try:
            return {rt.main_account.sid for rt in runtimes}
        finally:
            for rt in runtimes:
                await rt.close()

    assert len(asyncio.run(scenario())) == 1


def test_a_failing_transaction_leaves_its_concurrent_neighbours_committed(
    store: LoopStore,
) -> None:
    """Group commit on SQLite: concurrent transactions share a COMMIT; one that fails rolls back
    alone (its earlier write too), and every other one is durable when its caller goes on."""
    accounts = [_account("AC" + f"{i:032x}") for i in range(8)]
    orphan = _account("AC" + "f" * 32)

    async def insert(account: Account) -> str:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
        return "committed"

    async def insert_then_fail() -> str:
        try:
            async with store.transaction() as repo:
                await repo.accounts.insert(orphan)  # succeeds, then must be undone
                await repo.accounts.insert(accounts[0])  # a duplicate by the time it runs
        except IntegrityConflict:
            return "refused"
        return "committed"

    async def scenario() -> tuple[list[str], list[Account | None], Account | None]:
        outcomes = await asyncio.gather(
            *(insert(a) for a in accounts[:4]),
            insert_then_fail(),
            *(insert(a) for a in accounts[4:]),
        )
        async with store.read() as repo:
            found = [await repo.accounts.get(a.sid) for a in accounts]
            leftover = await repo.accounts.get(orphan.sid)
        return list(outcomes), found, leftover

    outcomes, found, leftover = on(store, scenario())

    assert outcomes.count("refused") == 1
    assert found == accounts
    assert leftover is None


# --- simulator settings per account (issue 12 #3) ---------------------------------------------


def test_an_accounts_simulator_settings_round_trip_and_are_forgotten(store: LoopStore) -> None:
    account, other = _account(), _account("AC" + "b" * 32)

    async def scenario() -> tuple[dict[str, str], dict[str, str], bool, dict[str, str]]:
        async with store.transaction() as repo:
            await repo.accounts.insert(account)
            await repo.accounts.insert(other)
            await repo.simulator_settings.set(account.sid, '{"mode": "timed"}', at=NOW)
            await repo.simulator_settings.set(account.sid, '{"mode": "manual"}', at=NOW)
        async with store.read() as repo:
            both = await repo.simulator_settings.get_many([account.sid, other.sid])
        async with store.transaction() as repo:
            await repo.simulator_settings.set(other.sid, "{}", at=NOW)
            forgotten = await repo.simulator_settings.delete(account.sid)
        async with store.read() as repo:
            after = await repo.simulator_settings.get_many([account.sid, other.sid])
            none = await repo.simulator_settings.get_many([])
        return both, after, forgotten, none

    both, after, forgotten, none = on(store, scenario())

    assert both == {account.sid: '{"mode": "manual"}'}
    assert forgotten is True
    assert after == {other.sid: "{}"}
    assert none == {}


def test_a_subaccount_sees_its_parents_change_at_once_through_the_cache(store: LoopStore) -> None:
    """The carrier reads an account's settings on every dispatch, from a cache: a change made
    through this process reaches every account that inherits it at once."""
    main, tenant = _account(), _account("AC" + "b" * 32)
    sub = replace(_account("AC" + "c" * 32), owner_account_sid=tenant.sid)
    service = SimulatorService(ServiceContext(store, SidGenerator(secrets.token_bytes), _now))

    async def scenario() -> list[tuple[str, str, str]]:
        async with store.transaction() as repo:
            for account in (main, tenant, sub):
                await repo.accounts.insert(account)
            await repo.meta.set(MAIN_ACCOUNT_KEY, main.sid)

        async def modes() -> tuple[str, str, str]:
            configs = [await service.config(a.sid) for a in (main, tenant, sub)]
            return configs[0].mode.value, configs[1].mode.value, configs[2].mode.value

        seen = [await modes()]
        await service.update(main, {"mode": "timed"})  # the server-wide default
        seen.append(await modes())
        await service.update(tenant, {"mode": "manual"})
        seen.append(await modes())
        await service.update(sub, {"mode": "immediate"})
        await service.update(tenant, {"mode": "timed"})
        seen.append(await modes())
        await service.forget(sub)
        await service.forget(main)
        seen.append(await modes())
        return seen

    assert on(store, scenario()) == [
        ("immediate", "immediate", "immediate"),
        ("timed", "timed", "timed"),
        ("timed", "manual", "manual"),
        ("timed", "timed", "immediate"),
        ("immediate", "timed", "timed"),
    ]


def test_a_stored_rule_that_no_longer_loads_is_left_out(store: LoopStore) -> None:
    """Settings saved by a release that matched with Python's `re` may hold a pattern RE2
    refuses: the other rules and settings still apply, instead of every read failing."""
    main = _account()
    service = SimulatorService(ServiceContext(store, SidGenerator(secrets.token_bytes), _now))
    stored = {
        "mode": "timed",
        "rules": [
            {"body_regex": "(?<=x)y", "outcome": "failed", "error_code": 30007},
            {"to_prefix": "+1555", "outcome": "undelivered", "error_code": 30003},
        ],
    }

    async def scenario() -> tuple[str, list[str | None]]:
        async with store.transaction() as repo:
            await repo.accounts.insert(main)
            await repo.meta.set(MAIN_ACCOUNT_KEY, main.sid)
            await repo.meta.set("simulator", orjson.dumps(stored).decode())
        config = await service.config(main.sid)
        return config.mode.value, [rule.to_prefix for rule in config.rules]

    assert on(store, scenario()) == ("timed", ["+1555"])


def _now() -> datetime:
    return NOW


def test_an_accounts_secondary_token_round_trips_and_closing_cascades_to_subaccounts(
    store: LoopStore,
) -> None:
    first, second = _account(), _account("AC" + "b" * 32)
    subs = [replace(_account(f"AC{c * 32}"), owner_account_sid=first.sid) for c in "cd"]
    with_secondary = replace(first, secondary_auth_token=SecondaryAuthToken("s" * 32, NOW))

    async def scenario() -> tuple[Account | None, list[str], list[str], list[AccountStatus]]:
        async with store.transaction() as repo:
            for account in (first, subs[0], second, subs[1]):
                await repo.accounts.insert(account)
            await repo.accounts.update(with_secondary)
        async with store.read() as repo:
            stored = await repo.accounts.get(first.sid)
            order = [a.sid for a in await repo.accounts.every_account()]
        async with store.transaction() as repo:
            closed = await repo.accounts.close_subaccounts(first.sid, NOW)
        async with store.read() as repo:
            statuses = [a.status for a in await repo.accounts.every_account()]
        return stored, order, sorted(closed), statuses

    stored, order, closed, statuses = on(store, scenario())

    assert stored == with_secondary
    assert order == [first.sid, subs[0].sid, subs[1].sid, second.sid]
    assert closed == [subs[0].sid, subs[1].sid]
    closed_, active = AccountStatus.CLOSED, AccountStatus.ACTIVE
    assert statuses == [active, closed_, closed_, active]


def test_an_account_reads_from_a_database_before_schema_12(db_url: str) -> None:
    """`textrelay credentials` reads without migrating: an older database still answers."""

    async def scenario() -> Account | None:
        db = await _opened(db_url)
        try:
            await migrate(db, up_to=11)
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, type, "
                    "auth_token, date_created, date_updated) "
                    "VALUES (:sid, :sid, 'acct', 'active', 'Full', :token, 1, 1)",
                    {"sid": "AC" + "a" * 32, "token": "t" * 32},
                )
            async with Store(db).read() as repo:
                return await repo.accounts.get("AC" + "a" * 32)
        finally:
            await db.close()

    account = asyncio.run(scenario())

    assert account is not None
    assert (account.auth_token, account.secondary_auth_token) == ("t" * 32, None)
