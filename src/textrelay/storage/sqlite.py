"""SQLite adapter: one writer connection guarded by a lock, one reader connection (WAL).

Statements run on the event loop's thread: SQLite answers a keyed read or a small write in
microseconds, faster than a hop to a worker thread would take, and SQLite allows one writer at
a time anyway. Writes are group-committed (SqliteDatabase.transaction). Several processes may
share a database file: they take turns to write (storage/sqlite_processes.py) and hear of
each other's commits by polling (SqliteDatabase.listen).

`:memory:` is a private database of one connection that lives as long as the process holds
it open (SqliteDatabase.in_memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from textrelay.storage.connection import IntegrityConflict, Params, Row, StorageError, Unlisten
from textrelay.storage.sqlite_checkpoints import BACKSTOP_PAGES, Checkpointer
from textrelay.storage.sqlite_processes import Members, WriteTurn

_BUSY_TIMEOUT_S = 5.0
COMMIT_DELAY_S = 0.002
COMMIT_SIBLINGS = 4
"""A batch whose predecessor made this many transactions durable waits COMMIT_DELAY_S for
more before its COMMIT, as PostgreSQL's commit_delay with commit_siblings: under load a
message's CPU falls by ~5 % (docs/benchmarks.md), at the cost of up to 2 ms a write."""
WATCH_BUSY_S = 0.005
WATCH_QUIET_S = 0.05
QUIET_AFTER_S = 1.0
"""How often a listening process looks for other processes' commits (SqliteDatabase.listen):
a job another process inserts is claimed here within 5 ms while they write, within 50 ms
after a quiet second; reading costs a few microseconds."""
MEMORY = ":memory:"
_log = logging.getLogger(__name__)


class SqliteConnection:
    __slots__ = ("_conn",)
    dialect = "sqlite"
    notify_origin = ""  # nobody else listens

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def notify_at_commit(self, channel: str) -> None:
        pass  # this process's signals wake it; others see the commit (SqliteDatabase.listen)

    async def insert_later(self, sql: str, params: Params) -> None:
        await self.execute(sql, params)  # no round trip to save in process

    async def execute(self, sql: str, params: Params | None = None) -> int:
        try:
            return self._conn.execute(sql, params or {}).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityConflict(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        try:
            row: Row | None = self._conn.execute(sql, params or {}).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return row

    async def fetch_all(self, sql: str, params: Params | None = None) -> Sequence[Row]:
        try:
            rows: Sequence[Row] = self._conn.execute(sql, params or {}).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc
        return rows

    async def execute_script(self, sql: str) -> None:
        # executescript() would COMMIT the surrounding transaction; run statement by statement.
        for statement in _split_statements(sql):
            await self.execute(statement)


def _split_statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _create_private(path: str) -> None:
    """Create the database file, and its directory, readable by their owner only: the file
    holds auth tokens (docs/operations.md). SQLite would create it with the umask's mode
    (0644, as a rule); it gives the -wal and -shm files the database file's mode."""
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if os.stat(path).st_mode & 0o077:
        _log.warning(
            "%s is open to other users than its owner (mode %o), and it holds auth tokens: "
            "chmod 600 it and its -wal and -shm files",
            path,
            os.stat(path).st_mode & 0o777,
        )


def _open(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=_BUSY_TIMEOUT_S,
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode keeps every commit across a process crash (kill -9); FULL also
    # across power loss, at one fsync per commit. docs/operations.md explains the choice.
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    # 64 MiB of page cache a connection (the default is 2 MiB): SIDs are random, so every
    # insert lands on a random leaf of the SID index, and a small cache turns that into reads.
    conn.execute("PRAGMA cache_size=-65536")
    # Checkpoints run off the loop (storage/sqlite_checkpoints.py); SQLite's own, in a COMMIT
    # on the loop, only if those fall far behind.
    conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    return conn


def _open_memory() -> sqlite3.Connection:
    """The one connection of a `:memory:` database. No WAL (SQLite keeps a memory database's
    journal in memory), so no synchronous, checkpoint or cache size to set: its pages are
    the cache and nothing reaches a disk."""
    conn = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _take_back_claims(writer: sqlite3.Connection) -> int:
    """Make every claimed job due now (the real clock, never ahead of the service clock):
    run by the first process to open the file, when every claim is a dead process's."""
    try:
        return writer.execute(
            "UPDATE jobs SET due_at = ?, claim = NULL WHERE claim IS NOT NULL",
            (time.time_ns() // 1000,),
        ).rowcount
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0  # a new database: migrations have not made the queue yet
        raise


class _WriteTransaction:
    """One transaction of a group commit (see SqliteDatabase.transaction)."""

    __slots__ = ("_db",)

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def __aenter__(self) -> SqliteConnection:
        db = self._db
        await db._write_lock.acquire()
        try:
            if not db._batch_open:
                await db._begin_batch()
            db._writer.execute("SAVEPOINT tx")
        except BaseException:
            db._write_lock.release()
            raise
        return db._write_connection

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        db = self._db
        try:
            if exc_type is not None:
                db._writer.execute("ROLLBACK TO tx")
            db._writer.execute("RELEASE tx")
        finally:
            db._write_lock.release()
        if exc_type is None:
            # Each member waits on a future of its own: a cancelled caller (a client that went
            # away) cannot cancel the commit the batch shares.
            committed = asyncio.get_running_loop().create_future()
            db._waiters.append(committed)
            await committed


class _TransactionAlone:
    """One transaction of an in-memory database, committed at its own exit. Group commit
    shares an fsync that memory does not pay (a COMMIT is microseconds), and its batch stays
    open across tasks until the loop turn ends, where the one connection's reads would see
    what is not committed yet. Committed alone, a transaction is open only while its body
    runs, so other tasks read committed data, as WAL's reader does; reads inside the body
    see its own writes."""

    __slots__ = ("_db",)

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def __aenter__(self) -> SqliteConnection:
        db = self._db
        await db._write_lock.acquire()
        try:
            db._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            db._write_lock.release()
            raise StorageError(str(exc)) from exc
        return db._write_connection

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        writer = self._db._writer
        try:
            if exc_type is None:
                writer.execute("COMMIT")
            else:
                writer.execute("ROLLBACK")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back itself
                writer.execute("ROLLBACK")
            if exc_type is None:
                raise StorageError(f"commit failed: {exc}") from exc
        finally:
            self._db._write_lock.release()


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "NORMAL") -> None:
        self.in_memory = path == MEMORY
        """A private in-memory database: one connection for reads and writes, and each
        transaction committed at its own exit (_TransactionAlone). A second connection could
        not read a snapshot beside the writer as WAL's reader does: on a shared-cache memory
        database it fails with SQLITE_LOCKED on any table an open transaction wrote, on a
        `memdb` one it waits out the busy timeout on the loop's thread while any transaction
        is open (docs/benchmarks.md, "An in-memory database for tests")."""
        self.claims_taken_back = 0
        self._checkpoints: Checkpointer | None = None
        self._turn: WriteTurn | None = None
        """The write turn among the processes on the file (storage/sqlite_processes.py)."""
        self._members: Members | None = None
        try:
            if self.in_memory:
                self._writer = self._reader = _open_memory()
            else:
                _create_private(path)
                self._members = Members(path)
                self._turn = WriteTurn(path)
                self._writer = _open(path, synchronous)
                if self._members.first:
                    self.claims_taken_back = _take_back_claims(self._writer)
                self._members.let_others_in()
                self._reader = _open(path, synchronous)
                self._checkpoints = Checkpointer(path, busy_timeout_s=_BUSY_TIMEOUT_S)
        except (sqlite3.Error, OSError) as exc:
            # The locks beside the file go with their descriptors: a first process that failed
            # here must not keep the others from opening.
            for opened in (self._turn, self._members):
                if opened is not None:
                    opened.close()
            raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
        self._read_connection = SqliteConnection(self._reader)
        self._write_connection = SqliteConnection(self._writer)
        self._write_lock = asyncio.Lock()
        self._batch_open = False
        self._waiters: list[asyncio.Future[None]] = []
        """One future per committed member of the open batch, resolved by its COMMIT."""
        self._last_batch = 0
        """How many transactions the last COMMIT made durable (see _begin_batch)."""
        # With synchronous=FULL a COMMIT waits for an fsync: it runs on this thread, off the
        # event loop (sqlite3 lets go of the GIL), and the loop prepares the next batch
        # meanwhile. With NORMAL a COMMIT only writes to the OS cache, and the hop to a thread
        # would cost more than it saves: it runs inline.
        self._commit_off_loop = synchronous.upper() == "FULL"
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textrelay-commit")
        self._commit_tasks: set[asyncio.Task[None]] = set()

    async def listen(self, channel: str, on_notify: Callable[[], None]) -> Unlisten:
        """SQLite has no NOTIFY: `on_notify` is called when another process committed
        anything (_watch_other_writers). In memory nobody else can."""
        if self.in_memory:

            async def nothing_to_stop() -> None:
                return None

            return nothing_to_stop
        # The version now, before the caller first looks at the queue: a commit that comes
        # after it is heard, however soon.
        since = self._data_version()
        watching = asyncio.get_running_loop().create_task(
            self._watch_other_writers(on_notify, since)
        )

        async def unlisten() -> None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

        return unlisten

    def _data_version(self) -> int | None:
        try:
            return int(self._writer.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # read again at the next tick

    async def _watch_other_writers(
        self, on_notify: Callable[[], None], version: int | None
    ) -> None:
        """Call `on_notify` after another connection's commit. The writer's `PRAGMA
        data_version` changes with every commit but its own (microseconds to read, no I/O):
        read every WATCH_BUSY_S while other processes write, every WATCH_QUIET_S once none
        did for QUIET_AFTER_S. Not read while a transaction or COMMIT of this process has
        the connection."""
        changed_at = -QUIET_AFTER_S
        while True:
            busy = time.monotonic() - changed_at < QUIET_AFTER_S
            await asyncio.sleep(WATCH_BUSY_S if busy else WATCH_QUIET_S)
            if self._write_lock.locked():
                continue
            current = self._data_version()
            if current is None:
                continue
            if version is not None and current != version:
                changed_at = time.monotonic()
                on_notify()
            version = current

    def transaction(self) -> AbstractAsyncContextManager[SqliteConnection]:
        """One write transaction, committed before this context exits.

        Group commit: transactions share one SQLite transaction, each inside its own SAVEPOINT
        (so a failing one rolls back alone), and one COMMIT makes them all durable together.
        The COMMIT is queued at the end of the loop turn that opened the batch (or 2 ms
        later when busy: COMMIT_DELAY_S); transactions queued for the writer by then join
        the batch, and those that arrive while a COMMIT
        runs (on a thread, under synchronous=FULL) form the next one, so batches grow with the
        load, as in PostgreSQL's group commit. Nobody goes on before its COMMIT: a caller that
        answers "created" has committed data. In memory, each transaction commits alone.
        """
        if self.in_memory:
            return _TransactionAlone(self)
        return _WriteTransaction(self)

    async def _begin_batch(self) -> None:
        cancelled = False if self._turn is None else await self._turn.take()
        try:
            if self._checkpoints is not None and self._checkpoints.restart_due:
                self._checkpoints.finish(self._writer)
            self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._give_turn_back()
            raise StorageError(str(exc)) from exc
        self._open_batch()
        if cancelled:  # the batch is open, and its COMMIT gives the turn back
            raise asyncio.CancelledError

    def _give_turn_back(self) -> None:
        if self._turn is not None:
            self._turn.give_back()

    def _open_batch(self) -> None:
        self._batch_open = True
        loop = asyncio.get_running_loop()
        if self._last_batch >= COMMIT_SIBLINGS:
            # Busy: the last COMMIT had company, so more transactions are coming. Waiting a
            # moment for them spreads a COMMIT's WAL writes (most of them index pages that
            # several transactions share) over more of them; when idle, no wait.
            loop.call_later(COMMIT_DELAY_S, self._start_commit)
        else:
            loop.call_soon(self._start_commit)

    def _start_commit(self) -> None:
        # The task is kept referenced until done; it is the batch's own commit, not a
        # fire-and-forget: every member of the batch awaits its outcome.
        task = asyncio.get_running_loop().create_task(self._commit())
        self._commit_tasks.add(task)
        task.add_done_callback(self._commit_tasks.discard)

    async def _commit(self) -> None:
        # The lock waits for transactions already queued for it (they join this batch) and
        # keeps new ones off the writer connection while the COMMIT runs.
        async with self._write_lock:
            if not self._batch_open:
                return
            self._batch_open = False
            try:
                if self._commit_off_loop:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._committer, self._writer.execute, "COMMIT")
                else:
                    self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute("ROLLBACK")
                outcome: BaseException | None = StorageError(f"commit failed: {exc}")
            else:
                outcome = None
                if self._checkpoints is not None:
                    self._checkpoints.committed()
            finally:
                self._give_turn_back()
            waiters, self._waiters = self._waiters, []
            self._last_batch = len(waiters)
            for waiter in waiters:
                if waiter.done():  # its caller was cancelled
                    continue
                if outcome is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(outcome)

    def read(self) -> AbstractAsyncContextManager[SqliteConnection]:
        # Reads hold nothing to release: a plain object, not a generator, keeps them cheap.
        return contextlib.nullcontext(self._read_connection)

    def single_statement(self) -> AbstractAsyncContextManager[SqliteConnection]:
        return self.transaction()  # a group commit's savepoint: nothing to save

    def one_statement_change(self) -> AbstractAsyncContextManager[SqliteConnection]:
        return self.transaction()  # in process: no round trips to save

    def exclusive(self) -> AbstractAsyncContextManager[SqliteConnection]:
        # BEGIN IMMEDIATE already holds the database's single write lock for the batch.
        return self.transaction()

    def pool_use(self) -> tuple[int, int] | None:
        return None  # one writer and one reader connection, no pool

    async def close(self) -> None:
        await self._commit()  # whatever is pending
        for task in list(self._commit_tasks):
            await task
        self._committer.shutdown(wait=True)
        if self._checkpoints is not None:
            self._checkpoints.close()
        for closing in (self._turn, self._members):
            if closing is not None:
                closing.close()
        self._reader.close()
        self._writer.close()  # in memory the same connection, and the database goes with it
