"""Fixtures for the console's browser tests: Debian's Chromium driven by Playwright's sync API,
and a textrelay server of each test's own, on SQLite and on PostgreSQL.

Playwright's sync API keeps an event loop running on the main thread for as long as it is
started, so `asyncio.run` fails there meanwhile. Two consequences: the browser lives for this
package only (not the whole session, where later tests call `asyncio.run`), and the
PostgreSQL schemas here are made and dropped from a worker thread, which is why these tests
use a server fixture of their own instead of tests/conftest.py's `isolated_server`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import BACKENDS, _postgres, _postgres_schema_url, _postgres_unavailable
from tests.servers import servers
from textrelay.testing import TextrelayServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
"""The longest any one wait in a browser test may take."""

ServerFactory = Callable[..., TextrelayServer]
PageFactory = Callable[..., Page]


def _postgres_off_loop(statement: str) -> None:
    """Run a statement on the test PostgreSQL from a thread with no event loop running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _postgres(statement)).result(timeout=30)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, headless, shared by the console's tests (each gets its own context)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Chromium with scripts/browser"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(params=BACKENDS)
def start_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a textrelay server of the test's own on a new, empty database (a SQLite file or
    a PostgreSQL schema); keyword arguments are Settings."""
    made = itertools.count()
    schemas: list[str] = []

    def database_url() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path}/console-{next(made)}.db"
        schema = f"textrelay_test_{secrets.token_hex(6)}"
        try:
            _postgres_off_loop(f"CREATE SCHEMA {schema}")
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            _postgres_unavailable(exc)
        schemas.append(schema)
        return _postgres_schema_url(schema)

    try:
        with servers(database_url, tmp_path) as start:
            yield start
    finally:
        for schema in schemas:
            _postgres_off_loop(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def open_console(browser: Browser, start_server: ServerFactory) -> Iterator[PageFactory]:
    """Open a page in a new browser context on a server's console (base URL set, so
    `page.goto("/console/")` works), signed in through the console link unless
    `signed_in=False`; other keyword arguments are context options (viewport, color_scheme).
    Depends on `start_server` so that pages close before their servers stop: an open event
    stream would otherwise hold a server's shutdown up."""
    contexts: list[BrowserContext] = []

    def open_page(server: TextrelayServer, *, signed_in: bool = True, **options: Any) -> Page:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=server.base_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        if signed_in:
            # The console link `serve` prints: on loopback its token signs the browser in.
            page.goto(server.console_url)
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
