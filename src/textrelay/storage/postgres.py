"""PostgreSQL adapter on asyncpg: a connection pool; any number of processes may share it."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any, cast

import asyncpg

from textrelay.storage.connection import (
    ChangeRefused,
    IntegrityConflict,
    Params,
    Row,
    StorageError,
    Unlisten,
)

_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
# Any constant works; it only has to be the same in every textrelay process.
_EXCLUSIVE_LOCK_KEY = 0x7E87_2E1A


@lru_cache(maxsize=512)
def to_positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters to asyncpg's `$n`, with the order of names to bind."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED_PARAM.sub(number, sql), tuple(names)


@lru_cache(maxsize=64)
def _insert_parts(sql: str) -> tuple[str, str, tuple[str, ...]]:
    """An `INSERT ... VALUES (row)` split into its head, its row with `{}` where each
    parameter goes, and the parameters' names in their order there."""
    head, values = sql.rsplit(" VALUES ", 1)
    names = tuple(match.group(1) for match in _NAMED_PARAM.finditer(values))
    return head, _NAMED_PARAM.sub("{}", values.replace("{", "{{").replace("}", "}}")), names


def multi_row_insert(sql: str, rows: Sequence[Params], *, first: int = 1) -> tuple[str, list[Any]]:
    """One statement inserting every row of `rows` with the single-row INSERT `sql`, its
    parameters numbered from `first`."""
    head, row, names = _insert_parts(sql)
    values: list[str] = []
    args: list[Any] = []
    for params in rows:
        start = first + len(args)
        values.append(row.format(*(f"${start + i}" for i in range(len(names)))))
        args.extend(params[name] for name in names)
    return f"{head} VALUES {', '.join(values)}", args


_POSITIONAL = re.compile(r"\$(\d+)")


def _shifted(text: str, by: int) -> str:
    """A statement's `$n` parameters numbered `by` higher (to follow others in one statement)."""
    return _POSITIONAL.sub(lambda match: f"${int(match.group(1)) + by}", text) if by else text


def _held_inserts(later: dict[str, list[Params]], args: list[Any]) -> list[str]:
    """Each statement's held rows as one multi-row INSERT, its parameters appended to `args`
    and numbered after those already there (to go as CTEs of one statement)."""
    inserts = []
    for sql, rows in later.items():
        text, values = multi_row_insert(sql, rows, first=len(args) + 1)
        inserts.append(text)
        args.extend(values)
    return inserts


@lru_cache(maxsize=256)
def _words(sql: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", sql))


def _can_carry(sql: str, held: Iterable[str]) -> bool:
    """Whether the write `sql` can take held INSERTs as data-modifying CTEs: an INSERT,
    UPDATE or DELETE (or a WITH of such) that reads none of their tables (it would not see
    their rows: one snapshot)."""
    if not sql.startswith(("INSERT ", "UPDATE ", "DELETE ", "WITH ")) or sql.startswith(
        "WITH RECURSIVE "
    ):
        return False
    words = _words(sql)
    return not any(insert.split(None, 3)[2] in words for insert in held)


def _bind(sql: str, params: Params | None) -> tuple[str, list[Any]]:
    text, names = to_positional(sql)
    values = params or {}
    return text, [values[name] for name in names]


def _translate(exc: Exception) -> StorageError:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityConflict(str(exc))
    return StorageError(str(exc))


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class PostgresConnection:
    __slots__ = (
        "_conn",
        "_in_transaction",
        "_later",
        "_notify",
        "_statements_left",
        "notify_origin",
    )
    dialect = "postgresql"

    def __init__(
        self,
        conn: Any,
        origin: str,
        *,
        in_transaction: bool = False,
        single_statement: bool = False,
    ) -> None:
        # A pooled connection proxy; typed loosely because asyncpg's proxy and connection
        # types are not related in its stubs.
        self._conn = conn
        self.notify_origin = origin
        self._notify: set[str] = set()
        self._later: dict[str, list[Params]] = {}
        """Rows insert_later holds, by statement, in the order asked."""
        self._in_transaction = in_transaction
        """Held rows go with the COMMIT; elsewhere (a read, a single statement) at once."""
        self._statements_left = 1 if single_statement else -1
        """Writes still allowed outside a transaction (-1: any number)."""

    def notify_at_commit(self, channel: str) -> None:
        self._notify.add(channel)

    def notify_statements(self) -> str:
        """The NOTIFYs asked for, as one simple query ("" if none), each carrying this
        process's origin (a token of hex digits: nothing to quote)."""
        return "".join(
            f"NOTIFY {channel}, '{self.notify_origin}'; " for channel in sorted(self._notify)
        )

    async def insert_later(self, sql: str, params: Params) -> None:
        if not (self._in_transaction or self._statements_left == 1):
            await self.execute(sql, params)  # no COMMIT, and no statement, to send it with
            return
        # Sent with the COMMIT, or carried by the single statement still to come.
        self._later.setdefault(sql, []).append(params)

    async def send_unsent(self) -> None:
        """The end of a single statement: rows held for a statement that never came are sent
        as that statement."""
        if self._later:
            await self._send_held()

    async def _send_held(self) -> None:
        """Send the held rows before a read, or at a single statement's end. In a
        transaction, a statement each; outside one they are the one statement allowed, all
        of them in it (several statements would not be atomic)."""
        if self._in_transaction:
            await self.send_held_rows()
            return
        self._spend_statement()
        await self._run(*self._carrying_held_rows("SELECT 1", None))

    def _spend_statement(self) -> None:
        if self._statements_left == 0:
            raise StorageError("a second write outside a transaction would not be atomic")
        if self._statements_left > 0:
            self._statements_left -= 1

    async def send_held_rows(self) -> None:
        """Send the rows insert_later holds: a statement each (before a statement that cannot
        carry them, and before the COMMIT)."""
        later, self._later = self._later, {}
        for sql, rows in later.items():
            text, args = multi_row_insert(sql, rows)
            try:
                await self._conn.execute(text, *args)
            except _DRIVER_ERRORS as exc:
                raise _translate(exc) from exc

    def _carrying_held_rows(self, sql: str, params: Params | None) -> tuple[str, list[Any]]:
        """`sql` with the held rows' INSERTs before it as data-modifying CTEs: one round trip
        for all (PostgreSQL runs each CTE once, whether or not the statement reads it)."""
        later, self._later = self._later, {}
        args: list[Any] = []
        ctes = [f"held_{i} AS ({text})" for i, text in enumerate(_held_inserts(later, args))]
        main, main_args = _bind(sql, params)
        main = _shifted(main, len(args))
        if main.startswith("WITH "):  # one WITH for all
            return f"WITH {', '.join(ctes)}, {main.removeprefix('WITH ')}", args + main_args
        return f"WITH {', '.join(ctes)} {main}", args + main_args

    async def execute(self, sql: str, params: Params | None = None) -> int:
        if self._later and _can_carry(sql, self._later):
            self._spend_statement()
            text, args = self._carrying_held_rows(sql, params)
        else:
            if self._later and not self._in_transaction:
                # Held rows and this statement would be two: refused before either goes.
                raise StorageError("a second write outside a transaction would not be atomic")
            if self._later:
                await self.send_held_rows()
            self._spend_statement()
            text, args = _bind(sql, params)
        status = await self._run(text, args)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _run(self, text: str, args: list[Any]) -> str:
        try:
            status: str = await self._conn.execute(text, *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        return status

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        if self._later:
            await self._send_held()
        text, args = _bind(sql, params)
        try:
            row = await self._conn.fetchrow(text, *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        return cast(Row | None, row)

    async def fetch_all(self, sql: str, params: Params | None = None) -> Sequence[Row]:
        if self._later:
            await self._send_held()
        text, args = _bind(sql, params)
        try:
            rows = await self._conn.fetch(text, *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc
        return cast(Sequence[Row], rows)

    async def execute_script(self, sql: str) -> None:
        try:
            await self._conn.execute(sql)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc


class PostgresChange:
    """A one-statement change (Database.one_statement_change): writes are held, then sent as
    data-modifying CTEs of one statement whose result divides by the product of "did each
    write change a row" (0 or 1): a write that changed nothing makes it fail with a division
    by zero, which undoes every CTE (the statement is its own transaction)."""

    __slots__ = ("_conn", "_later", "_notify", "_writes", "notify_origin")
    dialect = "postgresql"

    def __init__(self, conn: Any, origin: str) -> None:
        self._conn = conn
        self.notify_origin = origin
        self._writes: list[tuple[str, Params | None]] = []
        self._later: dict[str, list[Params]] = {}
        self._notify: set[str] = set()

    def notify_at_commit(self, channel: str) -> None:
        self._notify.add(channel)

    async def execute(self, sql: str, params: Params | None = None) -> int:
        if " RETURNING " in sql or not sql.startswith(("INSERT ", "UPDATE ", "DELETE ")):
            raise StorageError("a one-statement change holds plain writes only")
        self._writes.append((sql, params))
        return 1  # checked when the change is sent

    async def insert_later(self, sql: str, params: Params) -> None:
        self._later.setdefault(sql, []).append(params)

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        raise StorageError("a one-statement change cannot read")

    async def fetch_all(self, sql: str, params: Params | None = None) -> Sequence[Row]:
        raise StorageError("a one-statement change cannot read")

    async def execute_script(self, sql: str) -> None:
        raise StorageError("a one-statement change cannot run a script")

    async def send(self) -> None:
        ctes: list[str] = []
        args: list[Any] = []
        for sql, params in self._writes:
            text, values = _bind(sql, params)
            ctes.append(f"w{len(ctes)} AS ({_shifted(text, len(args))} RETURNING 1)")
            args.extend(values)
        for text in _held_inserts(self._later, args):
            ctes.append(f"w{len(ctes)} AS ({text} RETURNING 1)")
        if not ctes:
            return
        changed = " * ".join(f"(SELECT LEAST(COUNT(*), 1) FROM w{i})" for i in range(len(ctes)))
        notify = "".join(
            f", pg_notify('{channel}', '{self.notify_origin}')" for channel in sorted(self._notify)
        )
        sql = f"WITH {', '.join(ctes)} SELECT 1 / ({changed}){notify}"
        try:
            await self._conn.execute(sql, *args)
        except asyncpg.DivisionByZeroError as exc:
            raise ChangeRefused(
                "a write of the change changed nothing; none of it was made"
            ) from exc


async def _rollback(conn: Any) -> None:
    """End a failed transaction. If the connection cannot (a query cut short), the pool's
    release rolls it back or closes the connection: it never goes back mid-transaction."""
    with contextlib.suppress(*_DRIVER_ERRORS):
        await conn.execute("ROLLBACK")


async def _nothing_to_reset(_conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection, which by default sends `RESET ALL`,
    `UNLISTEN *`, `CLOSE ALL` and `pg_advisory_unlock_all()`: a round trip on every release,
    5 % of the server's CPU at full load (py-spy). textrelay leaves nothing of that kind on
    a pooled connection: settings are `SET LOCAL`, advisory locks `_xact_`, cursors live in
    their transaction, and listening has a connection of its own (listen below). asyncpg
    still rolls back an open transaction before this is called."""


class PostgresDatabase:
    dialect = "postgresql"
    claims_taken_back = 0  # other processes may hold claims; a dead one's leases end

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, schema: str = "") -> None:
        self._pool = pool
        self._dsn = dsn
        self._deployment = hashlib.sha256(schema.encode()).hexdigest()[:12]
        """Names the schema in NOTIFY payloads: a channel is the whole database's, and
        deployments in other schemas of it must not wake this one."""
        self._origin = f"{self._deployment}.{secrets.token_hex(8)}"
        """The payload of this process's NOTIFYs: its listener skips them, since its own
        commits raise its signals already (each echo cost a claim and a next-due query)."""

    @classmethod
    async def connect(cls, dsn: str, *, pool_size: int = 10) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=pool_size, reset=_nothing_to_reset
            )
            schema = await pool.fetchval("SELECT current_schema()")
        except (*_DRIVER_ERRORS, ValueError) as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool, dsn, schema=str(schema))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        # BEGIN and COMMIT by hand rather than asyncpg's transaction(): the COMMIT then
        # carries the transaction's NOTIFYs in the same round trip (a message's life commits
        # five transactions that wake workers: five round trips fewer).
        try:
            async with self._pool.acquire() as conn:
                await conn.execute("BEGIN")
                transaction = PostgresConnection(conn, self._origin, in_transaction=True)
                try:
                    yield transaction
                except BaseException:
                    await _rollback(conn)
                    raise
                try:
                    await transaction.send_held_rows()
                except BaseException:
                    await _rollback(conn)
                    raise
                # One round trip for the NOTIFYs and the COMMIT.
                await conn.execute(transaction.notify_statements() + "COMMIT")
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[PostgresConnection]:
        try:
            async with self._pool.acquire() as conn:
                statement = PostgresConnection(conn, self._origin, single_statement=True)
                yield statement
                await statement.send_unsent()
                notify = statement.notify_statements()
                if notify:  # a store asked for one beside its statement
                    await conn.execute(notify)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc

    @asynccontextmanager
    async def one_statement_change(self) -> AsyncIterator[PostgresChange]:
        try:
            async with self._pool.acquire() as conn:
                change = PostgresChange(conn, self._origin)
                yield change
                await change.send()
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresConnection]:
        try:
            async with self._pool.acquire() as conn:
                yield PostgresConnection(conn, self._origin)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc) from exc

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[PostgresConnection]:
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(:key)", {"key": _EXCLUSIVE_LOCK_KEY})
            yield conn

    def exclusive(self) -> AbstractAsyncContextManager[PostgresConnection]:
        return self._locked()

    async def listen(self, channel: str, on_notify: Callable[[], None]) -> Unlisten:
        """Call `on_notify` whenever another process NOTIFYs `channel`, on a connection of its
        own (outside the pool: a listening connection must stay open)."""
        origin, ours = self._origin, f"{self._deployment}."

        def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            # Another process of this schema; an empty payload is a version before origins.
            if payload != origin and (payload == "" or str(payload).startswith(ours)):
                on_notify()

        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(channel, heard)
        except (*_DRIVER_ERRORS, ValueError) as exc:
            raise _translate(exc) from exc

        async def unlisten() -> None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await conn.close()

        return unlisten

    def pool_use(self) -> tuple[int, int] | None:
        size = self._pool.get_size()
        return size, size - self._pool.get_idle_size()

    async def close(self) -> None:
        await self._pool.close()
