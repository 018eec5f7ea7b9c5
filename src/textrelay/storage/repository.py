"""The repository: every query textrelay runs, named by what it means, on either database.

`Store.transaction()` yields a Repository whose writes commit together; `Store.read()` one for
reads. A Repository is a set of small stores over one connection, each named by the data it
holds (`repo.messages`, `repo.jobs`, …). Services own the transaction boundaries; the stores
own the SQL; the Store raises this process's wake-ups once a transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from textrelay.domain.statuses import MessageStatus
from textrelay.storage.accounts import AccountStore, KeyStore
from textrelay.storage.attempts import AttemptStore
from textrelay.storage.carriers import (
    CarrierLogStore,
    CarrierReferenceStore,
    MobileOriginatedPartStore,
)
from textrelay.storage.connection import Connection, Database, StorageError
from textrelay.storage.console_sessions import ConsoleSessionStore
from textrelay.storage.cookies import CookieStore
from textrelay.storage.events import EventStore
from textrelay.storage.jobs import JobStore
from textrelay.storage.media import MediaRecordStore
from textrelay.storage.messages import MessageStore
from textrelay.storage.messaging_services import SenderStore, ServiceStore, StickySenderStore
from textrelay.storage.meta import MetaStore
from textrelay.storage.migrations import SchemaStore
from textrelay.storage.numbers import NumberStore
from textrelay.storage.opt_outs import OptOutStore
from textrelay.storage.short_codes import ShortCodeStore
from textrelay.storage.signals import Signal
from textrelay.storage.simulator_settings import SimulatorSettingsStore
from textrelay.storage.tables import Changes


class Repository:
    """Named queries over one connection (inside a transaction, or for reads).

    Each store is made when first asked for: most transactions touch two or three of them.
    """

    __slots__ = ("_changes", "_conn")

    def __init__(self, conn: Connection, changes: Changes | None = None) -> None:
        self._conn = conn
        self._changes = Changes() if changes is None else changes

    @property
    def meta(self) -> MetaStore:
        return MetaStore(self._conn, self._changes)

    @property
    def schema(self) -> SchemaStore:
        return SchemaStore(self._conn, self._changes)

    @property
    def accounts(self) -> AccountStore:
        return AccountStore(self._conn, self._changes)

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self._conn, self._changes)

    @property
    def numbers(self) -> NumberStore:
        return NumberStore(self._conn, self._changes)

    @property
    def messages(self) -> MessageStore:
        return MessageStore(self._conn, self._changes)

    @property
    def events(self) -> EventStore:
        return EventStore(self._conn, self._changes)

    @property
    def jobs(self) -> JobStore:
        return JobStore(self._conn, self._changes)

    @property
    def opt_outs(self) -> OptOutStore:
        return OptOutStore(self._conn, self._changes)

    @property
    def cookies(self) -> CookieStore:
        return CookieStore(self._conn, self._changes)

    @property
    def attempts(self) -> AttemptStore:
        return AttemptStore(self._conn, self._changes)

    @property
    def services(self) -> ServiceStore:
        return ServiceStore(self._conn, self._changes)

    @property
    def senders(self) -> SenderStore:
        return SenderStore(self._conn, self._changes)

    @property
    def sticky_senders(self) -> StickySenderStore:
        return StickySenderStore(self._conn, self._changes)

    @property
    def short_codes(self) -> ShortCodeStore:
        return ShortCodeStore(self._conn, self._changes)

    @property
    def media(self) -> MediaRecordStore:
        return MediaRecordStore(self._conn, self._changes)

    @property
    def console_sessions(self) -> ConsoleSessionStore:
        return ConsoleSessionStore(self._conn, self._changes)

    @property
    def simulator_settings(self) -> SimulatorSettingsStore:
        return SimulatorSettingsStore(self._conn, self._changes)

    @property
    def carrier_references(self) -> CarrierReferenceStore:
        return CarrierReferenceStore(self._conn, self._changes)

    @property
    def carrier_log(self) -> CarrierLogStore:
        return CarrierLogStore(self._conn, self._changes)

    @property
    def mo_parts(self) -> MobileOriginatedPartStore:
        return MobileOriginatedPartStore(self._conn, self._changes)


def _ignore(_statuses: list[tuple[MessageStatus, int | None]]) -> None:
    pass


class Store:
    """Hands out repositories bound to a read connection or to one write transaction, and
    raises this process's wake-ups after a commit that calls for them."""

    def __init__(
        self,
        database: Database,
        *,
        translate: Callable[[StorageError], Exception] | None = None,
    ) -> None:
        self.database = database
        self.translate = translate
        """What a StorageError raised inside a transaction or read becomes for the caller
        (the services' own exception); None keeps it."""
        self.jobs_ready = Signal()
        """Raised after a commit that inserted, released or freed a job: wakes workers."""
        self.messages_changed = Signal()
        """Raised after a commit that changed a message, its history or its attempts: wakes
        read-back waits and the console's event streams."""
        self.statuses_committed: Callable[[list[tuple[MessageStatus, int | None]]], None] = _ignore
        """Told, after each commit, the statuses messages entered in it (the metrics)."""

    def transaction(self) -> AbstractAsyncContextManager[Repository]:
        return _Transaction(self, self.database.transaction())

    def single_statement(self) -> AbstractAsyncContextManager[Repository]:
        """A write of one statement, committed by itself (Database.single_statement)."""
        return _Transaction(self, self.database.single_statement())

    def one_statement_change(self) -> AbstractAsyncContextManager[Repository]:
        """A write transaction without reads, sent whole at its end
        (Database.one_statement_change): a write that changes nothing undoes all of it."""
        return _Transaction(self, self.database.one_statement_change())

    def exclusive(self) -> AbstractAsyncContextManager[Repository]:
        """A transaction no other process's `exclusive()` runs beside (start-up work)."""
        return _Transaction(self, self.database.exclusive())

    def read(self) -> AbstractAsyncContextManager[Repository]:
        return _Read(self, self.database.read())

    def committed(self, changes: Changes) -> None:
        if changes.jobs:
            self.jobs_ready.notify()
        if changes.messages:
            self.messages_changed.notify()
        if changes.statuses is not None:
            self.statuses_committed(changes.statuses)

    def failed(self, exc: BaseException | None) -> None:
        """Raise the caller's form of a storage failure that ends a transaction or read."""
        if isinstance(exc, StorageError) and self.translate is not None:
            raise self.translate(exc) from exc


class _Transaction:
    """A write transaction's context: a Repository over its connection, and the wake-ups its
    writes call for once it has committed (no generator: this is on every create's path)."""

    __slots__ = ("_changes", "_inner", "_repo", "_store")

    def __init__(self, store: Store, inner: AbstractAsyncContextManager[Connection]) -> None:
        self._store = store
        self._inner = inner
        self._changes = Changes()
        self._repo: Repository | None = None

    async def __aenter__(self) -> Repository:
        try:
            self._repo = Repository(await self._inner.__aenter__(), self._changes)
        except StorageError as failure:
            self._store.failed(failure)
            raise
        return self._repo

    async def __aexit__(self, *exc: Any) -> bool | None:
        if exc[0] is None and self._changes.promised is not None and self._repo is not None:
            try:  # the callbacks promised in this transaction, one job a message
                await self._repo.jobs.insert_promised()
            except BaseException as failure:
                await self.__aexit__(type(failure), failure, failure.__traceback__)
                raise
        try:
            suppressed = await self._inner.__aexit__(*exc)
        except StorageError as failure:  # the commit itself failed
            self._store.failed(failure)
            raise
        if exc[0] is None:
            self._store.committed(self._changes)
        else:
            self._store.failed(exc[1])
        return suppressed


class _Read:
    __slots__ = ("_inner", "_store")

    def __init__(self, store: Store, inner: AbstractAsyncContextManager[Connection]) -> None:
        self._store = store
        self._inner = inner

    async def __aenter__(self) -> Repository:
        try:
            return Repository(await self._inner.__aenter__())
        except StorageError as failure:
            self._store.failed(failure)
            raise

    async def __aexit__(self, *exc: Any) -> bool | None:
        suppressed = await self._inner.__aexit__(*exc)
        if exc[0] is not None:
            self._store.failed(exc[1])
        return suppressed
