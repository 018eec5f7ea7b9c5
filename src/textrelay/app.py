"""The composition root: the one place that builds concrete objects from Settings."""

from __future__ import annotations

import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from textrelay.api.context import ApiContext
from textrelay.api.errors import (
    http_error_handler,
    storage_error_handler,
    twilio_error_handler,
    unexpected_error_handler,
)
from textrelay.api.routes import ROUTES
from textrelay.domain.accounts import Account
from textrelay.domain.errors import TwilioError
from textrelay.domain.sids import SidGenerator
from textrelay.services.accounts import AccountService
from textrelay.services.context import Clock, ServiceContext
from textrelay.services.messaging import MessagingService
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.settings import Settings
from textrelay.storage import Database, StorageError, Store, migrate, open_database


def system_clock() -> datetime:
    return datetime.now(UTC)


def random_source(seed: int | None) -> Callable[[int], bytes]:
    """Cryptographic randomness, or a seeded generator when deterministic runs are wanted."""
    if seed is None:
        return secrets.token_bytes
    return random.Random(seed).randbytes


@dataclass(frozen=True, slots=True)
class Services:
    accounts: AccountService
    messaging: MessagingService
    numbers: PhoneNumberService


def build_services(settings: Settings, database: Database, clock: Clock) -> Services:
    ctx = ServiceContext(Store(database), SidGenerator(random_source(settings.seed)), clock)
    numbers = PhoneNumberService(ctx)
    return Services(
        accounts=AccountService(ctx),
        messaging=MessagingService(
            ctx, numbers, auto_provision_senders=settings.auto_provision_senders
        ),
        numbers=numbers,
    )


def build_app(settings: Settings, services: Services) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            TwilioError: twilio_error_handler,
            HTTPException: http_error_handler,
            StorageError: storage_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.api = ApiContext(
        accounts=services.accounts,
        messaging=services.messaging,
        numbers=services.numbers,
        max_body_bytes=settings.max_body_bytes,
    )
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket whose connections send small writes at once (TCP_NODELAY).

    asyncio sets TCP_NODELAY only on sockets it creates itself; without it a client that
    writes headers and body separately waits out a delayed ACK (~40 ms a request).
    """
    sock = socket.create_server((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@dataclass(slots=True)
class Runtime:
    """Everything `textrelay serve` runs: the database, the services and the ASGI app."""

    settings: Settings
    database: Database
    services: Services
    app: Starlette
    main_account: Account

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock = system_clock) -> Runtime:
        database = await open_database(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.db_pool_size,
        )
        try:
            await migrate(database)
            services = build_services(settings, database, clock)
            main = await services.accounts.ensure_main_account(
                settings.account_sid, settings.auth_token
            )
        except BaseException:
            await database.close()
            raise
        return cls(settings, database, services, build_app(settings, services), main)

    def http_server(self, log_level: str) -> uvicorn.Server:
        """The uvicorn server for this runtime's app, on the running event loop.

        No lifespan: the runtime is built before the server starts and closed after it stops.
        """
        config = uvicorn.Config(
            self.app,
            loop="none",
            http="httptools",
            lifespan="off",
            access_log=False,
            server_header=False,
            log_level=log_level,
        )
        return uvicorn.Server(config)

    async def close(self) -> None:
        await self.database.close()
