"""Shared fixtures: real servers on 127.0.0.1, one per database, and a fresh account a test.

The database tier runs every storage and API test twice: on SQLite and on the PostgreSQL at
TEXTRELAY_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test), each run in a
schema of its own that is dropped afterwards. Without a reachable PostgreSQL those runs are
skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from twilio.rest import Client

from tests.receiver import Receiver
from tests.servers import servers
from textrelay.domain.accounts import Account
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

POSTGRES_URL = os.environ.get(
    "TEXTRELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class DatabaseUnderTest:
    backend: str
    url: str


def _postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}search_path={schema}"


async def _postgres(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _postgres_unavailable(exc: BaseException) -> None:
    reason = f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseUnderTest]:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        path = Path(tmp_path_factory.mktemp("sqlite")) / "textrelay.db"
        yield DatabaseUnderTest("sqlite", f"sqlite:///{path}")
        return
    schema = f"textrelay_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        _postgres_unavailable(exc)
    try:
        yield DatabaseUnderTest("postgresql", _postgres_schema_url(schema))
    finally:
        asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1 that records every request."""
    with Receiver() as running:
        yield running


@pytest.fixture
def fresh_database(database: DatabaseUnderTest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make new, empty databases of the session's kind (a SQLite file, a PostgreSQL schema);
    each call returns a database URL."""
    made: list[str] = []
    schemas: list[str] = []

    def make() -> str:
        made.append("")
        if database.backend == "sqlite":
            return f"sqlite:///{tmp_path}/fresh-{len(made)}.db"
        schema = f"textrelay_test_{secrets.token_hex(6)}"
        asyncio.run(_postgres(f"CREATE SCHEMA {schema}"))
        schemas.append(schema)
        return _postgres_schema_url(schema)

    try:
        yield make
    finally:
        for schema in schemas:
            asyncio.run(_postgres(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def isolated_server(
    fresh_database: Callable[[], str], tmp_path: Path
) -> Iterator[Callable[..., TextrelayServer]]:
    """Start a server of its own, on a fresh database of the session's kind: for tests that
    change server-wide state (the simulator's mode and rules). Keyword arguments are Settings."""
    with servers(fresh_database, tmp_path) as start:
        yield start


@pytest.fixture(scope="session")
def server(
    database: DatabaseUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TextrelayServer]:
    """A textrelay server on a free port of 127.0.0.1, on each database."""
    media = tmp_path_factory.mktemp("media")
    with TextrelayServer(Settings(database_url=database.url, media_dir=str(media))) as running:
        yield running


@pytest.fixture
def account(server: TextrelayServer) -> Account:
    """A new top-level account, so each test sees only its own data."""
    return server.new_account()


@pytest.fixture
def client(server: TextrelayServer, account: Account) -> Client:
    """The official twilio client, pointed at textrelay, acting as `account`."""
    return server.client(account)


@pytest.fixture
def sender(client: Client) -> str:
    """A number `account` owns, usable as From."""
    number = client.incoming_phone_numbers.create(area_code="415")
    phone_number: str = number.phone_number
    return phone_number


# CI keeps only the end of the output: the failed tests are named again on the last line.
_failed: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _failed.append(
            report.nodeid if report.when == "call" else f"{report.nodeid} ({report.when})"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _failed:
        print(f"failed: {', '.join(_failed)}", file=sys.__stdout__, flush=True)
