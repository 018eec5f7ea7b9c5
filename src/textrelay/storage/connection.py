"""The narrow connection interface both databases implement, and the error it raises.

SQL is written once with `:name` parameters; each adapter translates to its driver's style.
No driver exception leaves this package: each adapter turns them into StorageError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = Mapping[str, Any]
Unlisten = Callable[[], Awaitable[None]]
Params = Mapping[str, Any]


class StorageError(Exception):
    """The database failed or refused a statement."""


class IntegrityConflict(StorageError):
    """A unique or foreign-key constraint refused the write."""


class ChangeRefused(StorageError):
    """A write of a one-statement change changed no row, so the whole change was undone."""


class Connection(Protocol):
    dialect: str
    notify_origin: str
    """What this process's signals to other processes carry (PostgreSQL's NOTIFY payload),
    so that its own listener can tell them from other processes' and skip them."""

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None: ...

    async def fetch_all(self, sql: str, params: Params | None = None) -> Sequence[Row]: ...

    async def execute_script(self, sql: str) -> None:
        """Run several `;`-separated statements (migrations)."""
        ...

    def notify_at_commit(self, channel: str) -> None:
        """Signal `channel` to other processes when this transaction commits (PostgreSQL's
        NOTIFY, sent with the COMMIT); nothing on SQLite, whose other processes see the
        commit itself (SqliteDatabase.listen)."""
        ...

    async def insert_later(self, sql: str, params: Params) -> None:
        """An `INSERT ... VALUES (...)` of one row whose outcome the caller does not read.
        PostgreSQL holds it until the transaction's next statement or its COMMIT and then
        sends the rows held for each statement as one multi-row INSERT: as data-modifying
        CTEs of that next statement where it is an UPDATE or DELETE that reads none of their
        tables, else a statement each. Rows of different statements may reach the database
        in another order than asked, so only rows that do not depend on each other go this
        way (history rows, jobs). SQLite, in process, runs it at once."""
        ...


class Database(Protocol):
    dialect: str
    """"sqlite" or "postgresql": the few statements that differ choose by it."""

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection inside one write transaction: committed on exit, rolled back on error."""
        ...

    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads that sees everything committed before each statement."""
        ...

    def single_statement(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for one write statement that commits by itself (PostgreSQL: no BEGIN
        and COMMIT round trips); where a transaction costs nothing more (SQLite's group
        commit), a transaction. More than one write in it is a StorageError on PostgreSQL."""
        ...

    def one_statement_change(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction without reads, sent whole at its end. On PostgreSQL its writes
        are held and go as one statement of data-modifying CTEs (one round trip where a
        transaction takes a BEGIN, a COMMIT and one a statement); every write in it must
        change a row, else nothing of it is written and ChangeRefused is raised; until then
        each write reports one row changed, and a read is a StorageError. On SQLite, a
        transaction (its writes report what they changed)."""
        ...

    def exclusive(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction that also excludes every other process's `exclusive()` one:
        for start-up work (migrations, the main account) that must happen once."""
        ...

    claims_taken_back: int
    """Jobs whose claims opening the database took back (made due now): on SQLite, the
    first process to open the file finds only dead processes' claims. 0 on PostgreSQL,
    where leases end by themselves."""

    async def listen(self, channel: str, on_notify: Callable[[], None]) -> Unlisten:
        """Call `on_notify` when another process may have signalled `channel`: PostgreSQL's
        NOTIFY; on SQLite, another process's commit (storage/sqlite.py). Returns the way to
        stop."""
        ...

    def pool_use(self) -> tuple[int, int] | None:
        """Connections (open, in use) of the pool; None where there is no pool (SQLite)."""
        ...

    async def close(self) -> None: ...
