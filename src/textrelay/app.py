"""The composition root: the one place that builds concrete objects from Settings.

One module on purpose (~450 lines): every concrete object and the order of start-up and
shut-down are in one place, so the wiring is read in one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import shutil
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from textrelay.api.connections import ConnectionLimits, http_protocol
from textrelay.api.context import ApiContext
from textrelay.api.errors import (
    http_error_handler,
    raised_error_handler,
)
from textrelay.api.front_door import ApiFrontDoor
from textrelay.api.intercept import InterceptProtocol
from textrelay.api.limits import AccountConcurrency
from textrelay.api.metrics import metrics_port_routes
from textrelay.api.request_log import RequestLog
from textrelay.api.routes import ROUTES
from textrelay.carriers.config import (
    CarriersConfig,
    SmppCarrierConfig,
    read_carriers_file,
)
from textrelay.carriers.simulator import SimulatorCarrier
from textrelay.carriers.smpp.carrier import SmppCarrier
from textrelay.carriers.upstream import FetchMedia, UpstreamCarrier
from textrelay.console.access import LINK_PARAMETER, ConsoleAccess, is_loopback
from textrelay.console.rendering import ConsoleServices
from textrelay.console.routes import console_routes
from textrelay.console.views import Console
from textrelay.domain.accounts import Account
from textrelay.domain.deployment import DeploymentMode
from textrelay.domain.errors import TwilioError
from textrelay.domain.jobs import JobKind
from textrelay.domain.sids import SidGenerator
from textrelay.domain.webhooks import RetryPolicy
from textrelay.intercept.authority import Authority, is_intercepted
from textrelay.intercept.trust import TrustFiles, environment, export_lines, write_trust_files
from textrelay.logs import uvicorn_log_config
from textrelay.services.account_admin import AccountAdministration
from textrelay.services.accounts import AccountService
from textrelay.services.auth_tokens import AuthTokenService
from textrelay.services.callbacks import CallbackService
from textrelay.services.carrier_records import CarrierRecords
from textrelay.services.carrier_traffic import CarrierTraffic
from textrelay.services.carriers import CarrierSet
from textrelay.services.clock import AdjustableClock
from textrelay.services.console_sessions import ConsoleSessionService
from textrelay.services.context import Clock, ServiceContext
from textrelay.services.delivery import DeliveryService
from textrelay.services.errors import StorageFailure, service_failure
from textrelay.services.health import HealthService
from textrelay.services.inbound import InboundService
from textrelay.services.intercept import InterceptService
from textrelay.services.media import MediaService
from textrelay.services.message_log import MessageLogService
from textrelay.services.messages import MessageService, ScheduleWindow
from textrelay.services.messaging_services import MessagingServiceRegistry
from textrelay.services.metrics import MeteredMediaFetcher, MeteredWebhooks, Metrics
from textrelay.services.operator import OperatorAccess
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.services.queue import JobQueue
from textrelay.services.readback import ReadbackService
from textrelay.services.retention import RetentionService
from textrelay.services.simulator import SimulatorService
from textrelay.settings import Settings, SettingsError, read_simulator_file
from textrelay.storage import (
    Database,
    StorageError,
    Store,
    migrate,
    open_database,
    parse_database_url,
)
from textrelay.storage.backup import Backup, backup_sqlite
from textrelay.storage.media_files import FileMediaStore
from textrelay.storage.metrics_snapshots import ProcessSnapshots, snapshot_directory
from textrelay.storage.migrations import Migration
from textrelay.webhooks.http import HttpWebhookTransport
from textrelay.webhooks.media import HttpMediaFetcher
from textrelay.workers.retention import keep_retention
from textrelay.workers.runner import JobRunner, RunnerSettings


def system_clock() -> datetime:
    return datetime.now(UTC)


def random_source(seed: int | None) -> Callable[[int], bytes]:
    """Cryptographic randomness, or a seeded generator when deterministic runs are wanted."""
    if seed is None:
        return secrets.token_bytes
    return random.Random(seed).randbytes


@dataclass(frozen=True, slots=True)
class Services:
    ctx: ServiceContext
    accounts: AccountService
    messages: MessageService
    numbers: PhoneNumberService
    simulator: SimulatorService
    delivery: DeliveryService
    callbacks: CallbackService
    webhooks: HttpWebhookTransport
    messaging_services: MessagingServiceRegistry
    clock: AdjustableClock
    inbound: InboundService
    media: MediaService
    media_fetcher: HttpMediaFetcher
    readback: ReadbackService
    carriers: CarrierSet
    carrier_traffic: CarrierTraffic
    intercept: InterceptService
    health: HealthService
    operator: OperatorAccess
    metrics: Metrics
    carrier_records: CarrierRecords
    retention: RetentionService
    auth_tokens: AuthTokenService
    temporary_media_dir: str | None = None
    """The media directory made for an in-memory database, removed with it at close."""


def build_services(
    settings: Settings,
    database: Database,
    clock: Clock,
    carriers_config: CarriersConfig | None = None,
) -> Services:
    adjustable = AdjustableClock(clock)
    store = Store(database, translate=service_failure)
    ctx = ServiceContext(store, SidGenerator(random_source(settings.seed)), adjustable)
    adjustable.jobs_ready = ctx.store.jobs_ready
    metrics = Metrics(ctx)
    store.statuses_committed = metrics.statuses
    numbers = PhoneNumberService(ctx)
    accounts = AccountService(ctx)
    messaging_services = MessagingServiceRegistry(ctx)
    simulator = SimulatorService(ctx)
    webhooks = HttpWebhookTransport()
    fetcher = HttpMediaFetcher()
    media_dir = media_directory(settings)
    media_is_temporary = media_dir is None
    if media_dir is None:
        media_dir = tempfile.mkdtemp(prefix="textrelay-media-")
    metered_fetcher = MeteredMediaFetcher(fetcher, metrics)
    media = MediaService(ctx, FileMediaStore(media_dir), metered_fetcher)
    retry = RetryPolicy(
        reliable=settings.callback_retry == "reliable",
        max_deliveries=settings.callback_max_attempts,
        base_delay_s=settings.callback_retry_base_s,
    )
    carriers = build_carriers(
        carriers_config or CarriersConfig.simulator_only(),
        SimulatorCarrier(simulator.config, seed=settings.seed),
        metered_fetcher.fetch,
    )
    delivery = DeliveryService(
        ctx,
        carriers,
        media,
        log_bodies=settings.log_bodies,
        # A process without workers only queues: the workers beside it submit.
        submit_at_create=settings.workers,
    )
    messages = MessageService(
        ctx,
        numbers,
        messaging_services,
        media,
        auto_provision_senders=settings.auto_provision_senders,
        schedule=ScheduleWindow(settings.schedule_min_ahead_s, settings.schedule_max_ahead_s),
        queue_limit=settings.account_queue_limit,
        backlog_limit=settings.account_backlog_limit,
        submit_at_create=delivery.submit_at_create,
    )
    inbound = InboundService(
        ctx,
        accounts,
        messages,
        MeteredWebhooks(webhooks, metrics, "inbound"),
        media,
        log_bodies=settings.log_bodies,
    )
    carrier_traffic = CarrierTraffic(
        ctx,
        carriers,
        delivery,
        inbound,
        accounts,
        numbers,
        reassembly_timeout_s=_reassembly_timeout_s(carriers_config),
    )
    carrier_records = CarrierRecords(ctx, carriers, carrier_traffic.counters)
    metrics.carrier_states = carrier_records.process_states
    return Services(
        ctx=ctx,
        accounts=accounts,
        messages=messages,
        numbers=numbers,
        simulator=simulator,
        delivery=delivery,
        callbacks=CallbackService(
            ctx, accounts, MeteredWebhooks(webhooks, metrics, "status_callback"), retry
        ),
        webhooks=webhooks,
        messaging_services=messaging_services,
        clock=adjustable,
        inbound=inbound,
        media=media,
        media_fetcher=fetcher,
        readback=ReadbackService(ctx, media),
        carriers=carriers,
        carrier_traffic=carrier_traffic,
        intercept=InterceptService(ctx),
        health=HealthService(ctx, carriers, runs_workers=settings.workers),
        operator=OperatorAccess(
            DeploymentMode(settings.deployment_mode), settings.admin_token, accounts, simulator
        ),
        metrics=metrics,
        carrier_records=carrier_records,
        retention=RetentionService(ctx, media, days=settings.retention_days),
        auth_tokens=AuthTokenService(ctx, accounts),
        temporary_media_dir=media_dir if media_is_temporary else None,
    )


def build_carriers(
    config: CarriersConfig, simulator: SimulatorCarrier, fetch_media: FetchMedia
) -> CarrierSet:
    """The simulator and every carrier of the carriers file, with its routes; upstream
    carriers fetch their handsets' attachments with `fetch_media`."""
    live: list[SmppCarrier | UpstreamCarrier] = []
    for carrier in config.carriers:
        if isinstance(carrier, SmppCarrierConfig):
            live.append(SmppCarrier(carrier))
        else:
            live.append(UpstreamCarrier(carrier, fetch_media))
    return CarrierSet(
        [simulator, *live],
        config.routes,
        submit_retries={c.name: c.submit_retries for c in config.carriers},
        pdu_log=config.pdu_log,
    )


def _reassembly_timeout_s(config: CarriersConfig | None) -> float:
    timeouts = [
        c.mo_reassembly_timeout_s
        for c in (config.carriers if config is not None else ())
        if isinstance(c, SmppCarrierConfig)
    ]
    return min(timeouts, default=60.0)


def read_carriers(settings: Settings) -> CarriersConfig | None:
    """The carriers file given at start; SettingsError (with the line at fault) if unusable."""
    if settings.carriers is None:
        return None
    return read_carriers_file(settings.carriers)


async def keep_carriers(services: Services, *, every_s: float = 5.0) -> None:
    """Open the carriers and, while they are open, deliver long handset messages whose parts
    stopped coming and forget receipts that never matched (CarrierTraffic.sweep)."""
    await services.carriers.open(services.carrier_traffic)
    if not services.carriers.live:
        return
    while True:
        await asyncio.sleep(every_s)
        try:
            await services.carrier_traffic.sweep()
        except Exception:
            logging.getLogger(__name__).exception("the carriers' sweep failed")


def media_directory(settings: Settings) -> str | None:
    """Where media bytes go: the setting, else beside a SQLite file, else ./textrelay-media;
    None for an in-memory database (the services make a process-private temporary directory,
    removed at close)."""
    if settings.media_dir:
        return settings.media_dir
    parsed = parse_database_url(settings.database_url)
    if parsed.dialect == "sqlite":
        return None if parsed.in_memory else f"{parsed.target}-media"
    return "textrelay-media"


def build_runner(settings: Settings, services: Services) -> JobRunner:
    return JobRunner(
        JobQueue(services.ctx, lease_clock=services.clock.unadjusted),
        {
            JobKind.DISPATCH: services.delivery.dispatch,
            JobKind.CARRIER: services.delivery.carrier_event,
            JobKind.CALLBACK: services.callbacks.deliver,
            JobKind.INBOUND: services.inbound.run_webhook,
            JobKind.AUTO_REPLY: services.inbound.send_auto_reply,
        },
        RunnerSettings(
            concurrency=settings.worker_concurrency,
            webhook_concurrency=settings.webhook_concurrency,
            webhook_host_concurrency=settings.webhook_host_concurrency,
            lease_s=settings.job_lease_s,
        ),
    )


async def configure_simulator(settings: Settings, simulator: SimulatorService) -> None:
    """Apply the simulator settings file and mode given at start, if any, as the server-wide
    settings (accounts with settings of their own keep theirs)."""
    if settings.simulator_config is not None:
        try:
            config = read_simulator_file(settings.simulator_config)
        except SettingsError as exc:
            raise SettingsError(f"simulator_config {exc}") from None
        await simulator.update(None, config, replace_all=True)
    if settings.simulator_mode is not None:
        await simulator.update(None, {"mode": settings.simulator_mode})


def console_services(services: Services) -> ConsoleServices:
    return ConsoleServices(
        accounts=services.accounts,
        messages=services.messages,
        numbers=services.numbers,
        messaging_services=services.messaging_services,
        delivery=services.delivery,
        callbacks=services.callbacks,
        inbound=services.inbound,
        media=services.media,
        readback=services.readback,
        simulator=services.simulator,
        sessions=ConsoleSessionService(services.ctx),
        log=MessageLogService(services.ctx),
        carrier_records=services.carrier_records,
        clock=services.clock,
        changes=services.ctx.messages_changed,
        operator=services.operator,
        retention=services.retention,
    )


def build_app(
    settings: Settings,
    services: Services,
    main_account: Account,
    *,
    console_token: str | None = None,
) -> ApiFrontDoor:
    access = ConsoleAccess.for_server(
        settings.host,
        main_account.auth_token,
        settings.console_password,
        allowed_hosts=settings.console_allowed_hosts,
        local_token=console_token,
    )
    app = Starlette(
        routes=[
            *ROUTES,
            *console_routes(Console(console_services(services), access, main_account)),
        ],
        exception_handlers={
            TwilioError: raised_error_handler,
            HTTPException: http_error_handler,
            StorageFailure: raised_error_handler,
            Exception: raised_error_handler,
        },
    )
    app.state.api = api = ApiContext(
        accounts=services.accounts,
        messages=services.messages,
        numbers=services.numbers,
        max_body_bytes=settings.max_body_bytes,
        max_params=settings.max_params,
        simulator=services.simulator,
        delivery=services.delivery,
        readback=services.readback,
        messaging_services=services.messaging_services,
        clock=services.clock,
        inbound=services.inbound,
        media=services.media,
        carriers=services.carriers,
        carrier_records=services.carrier_records,
        health=services.health,
        operator=services.operator,
        metrics=services.metrics,
        auth_tokens=services.auth_tokens,
    )
    return ApiFrontDoor(app, api)


PROCESSES_A_CORE = 4
"""The most `--processes` accepts, a core: beyond it processes only wait for each other."""
SQLITE_PROCESSES = 2
"""The most serving processes `serve` runs on a SQLite file unless told: their writes take
turns at its one write lock, which two keep busy most of the time; four on two cores
delivered less than two, and each message waited longer (docs/benchmarks.md)."""


def serving_processes(settings: Settings) -> int:
    """How many processes `serve` runs (docs/operations.md, "Every core"): `--processes`,
    else one a core in gateway mode (at most SQLITE_PROCESSES on SQLite) and one in emulator
    mode, whose test bench (the clock, reads that follow a write at once) is one process's.
    A seed (SIDs would repeat across processes) and an in-memory database (no other process
    can reach it) take one. The processes share each SMPP carrier's binds, one at least
    each, so there are no more of them than the fewest binds of a carrier."""
    database = parse_database_url(settings.database_url)
    one_only = settings.seed is not None or database.in_memory
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ) or 1
    if settings.processes is not None:
        if settings.processes > 1 and one_only:
            raise SettingsError(
                "--processes above 1 needs a database file or PostgreSQL, and no --seed "
                "(each process would draw the same SIDs)"
            )
        if settings.processes > PROCESSES_A_CORE * cores:
            # A typo (1000 for 10) would fork a thousand servers before anything failed.
            raise SettingsError(
                f"--processes {settings.processes} is more than {PROCESSES_A_CORE} a core "
                f"(this machine gives textrelay {cores}): each process is a whole server"
            )
        # One process holds every bind; only several need the carriers file read here.
        fewest = _fewest_binds(settings) if settings.processes > 1 else None
        if fewest is not None and settings.processes > fewest.binds:
            raise SettingsError(
                f"--processes {settings.processes} is more than the {fewest.binds} bind(s) of "
                f"carrier {fewest.name!r}: the serving processes share each SMPP carrier's "
                "binds, one at least each; raise its `binds` in the carriers file or lower "
                "--processes"
            )
        return settings.processes
    if one_only or settings.deployment_mode != "gateway":
        return 1
    fewest = _fewest_binds(settings)
    most = fewest.binds if fewest is not None else cores
    if database.dialect == "sqlite":
        return min(cores, SQLITE_PROCESSES, most)
    return min(cores, most)


def _fewest_binds(settings: Settings) -> SmppCarrierConfig | None:
    config = read_carriers(settings)
    return config.fewest_binds if config is not None else None


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket whose connections send small writes at once (TCP_NODELAY).

    asyncio sets TCP_NODELAY only on sockets it creates itself; without it a client that
    writes headers and body separately waits out a delayed ACK (~40 ms a request).
    """
    return _listening(host, port, reuse_port=False)


def _listening(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    # An IPv6 address takes an IPv6 socket (`::` listens on IPv4 as well, where the system
    # allows); anything else, an IPv4 one: an address or a name that resolves to one.
    ipv6 = ":" in host
    sock = socket.create_server(
        (host, port),
        family=socket.AF_INET6 if ipv6 else socket.AF_INET,
        reuse_port=reuse_port,
        dualstack_ipv6=host == "::" and socket.has_dualstack_ipv6(),
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def listening_group(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address, one a serving process, in one SO_REUSEPORT
    group: the kernel hands each new connection to one of them by a hash of its addresses,
    so keep-alive clients spread evenly. (On one shared socket the first process to wake
    accepted every waiting connection: 64 opened at once went mostly to one process.)

    A port another server listens on fails as it does for `listening_socket`: a probe
    without SO_REUSEPORT binds it first, so the group never joins another server's group
    (short of one that binds in the moment between the probe and the group).
    """
    if count == 1:
        return [listening_socket(host, port)]
    if port:
        listening_socket(host, port).close()
    group: list[socket.socket] = []
    try:
        while len(group) < count:
            sock = _listening(host, port, reuse_port=True)
            group.append(sock)
            port = sock.getsockname()[1]  # port 0: the rest join the port the first got
    except OSError:
        for sock in group:
            sock.close()
        raise
    return group


async def serve_in_background(server: uvicorn.Server, sock: socket.socket) -> asyncio.Task[None]:
    """`server` serving on `sock`, as a task, once it has started (or failed to): uvicorn
    offers no startup event, so its flag is polled (bounded by the caller's own deadline)."""
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(_STARTUP_POLL_S)
    return serving


_STARTUP_POLL_S = 0.005


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a stop signal (SIGTERM, SIGINT) ends `serve()` instead of
    being raised again once it returns (uvicorn's way, which killed `textrelay serve` before
    it could close its runtime): the caller then stops the workers (jobs in hand finish within
    a grace period or are released), unbinds the carriers and exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


class _SecondServer(uvicorn.Server):
    """A server beside the process's main one (the metrics port): it leaves the signals to the
    main one, and stops when `stop_background` tells it to."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(slots=True)
class MetricsPort:
    """`--metrics-port`: /metrics and /healthz without credentials, in `serve` and `worker`."""

    server: uvicorn.Server
    serving: asyncio.Task[None]

    @classmethod
    async def open(cls, settings: Settings, services: Services) -> MetricsPort | None:
        if settings.metrics_port is None:
            return None
        config = uvicorn.Config(
            Starlette(routes=metrics_port_routes(services.metrics)),
            loop="none",
            lifespan="off",
            access_log=False,
            server_header=False,
            log_level="warning",
        )
        server = _SecondServer(config)
        sock = listening_socket(settings.host, settings.metrics_port)
        return cls(server, await serve_in_background(server, sock))

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await self.serving


@dataclass(frozen=True)
class ServingProcess:
    """One of the `count` serving processes of `serve --processes`, and the directory where
    they show each other their metrics (`serving_processes_metrics()`)."""

    index: int
    count: int
    metrics_directory: Path

    def share_state(self, metrics: Metrics, carriers: CarrierRecords) -> asyncio.Task[None]:
        """This process's series and carriers' binds written for the others, theirs added
        to its `/metrics` and its carriers' state."""
        series = ProcessSnapshots(self.metrics_directory, self.index, self.count)
        binds = ProcessSnapshots(self.metrics_directory, self.index, self.count, ".carriers.json")
        metrics.share_with_siblings(self.index, series.others)
        carriers.share_with_siblings(self.index, binds.others)

        async def keep_writing() -> None:
            await asyncio.gather(
                series.keep_writing(metrics.process_exposition),
                binds.keep_writing(carriers.process_snapshot),
            )

        return asyncio.get_running_loop().create_task(keep_writing())


def serving_processes_metrics() -> AbstractContextManager[Path]:
    """The directory of the serving processes' metrics files, for the supervisor's life."""
    return snapshot_directory()


@dataclass(slots=True)
class Runtime:
    """Everything `textrelay serve` runs: the database, the services and the ASGI app."""

    settings: Settings
    database: Database
    services: Services
    app: ApiFrontDoor
    main_account: Account
    main_token_generated: bool = False
    """Whether this start generated the main account's auth token (`serve` prints it then)."""
    console_token: str = field(default="", repr=False)
    """This start's console token (console/access.py): the printed console link carries it."""
    runner: JobRunner | None = None
    metrics_port: MetricsPort | None = None
    _runner_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _snapshots_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _carriers_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _retention_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        console_token: str | None = None,
        serving: ServingProcess | None = None,
    ) -> Runtime:
        """The services on the database, the app, and the runner when `settings.workers`.
        `console_token`: the console link's token, when several processes share one;
        `serving`: which of several serving processes this is."""
        if not settings.workers and parse_database_url(settings.database_url).in_memory:
            raise StorageFailure(
                "serve without workers needs a `textrelay worker` beside it, and none can "
                "reach sqlite:///:memory:, which lives inside this process: run the workers "
                "in serve, or give a SQLite file or PostgreSQL"
            )
        database, services = await open_services(settings, clock, serving)
        try:
            ensured = await services.accounts.ensure_main_account(
                settings.account_sid, settings.auth_token
            )
        except BaseException:
            await close_services(database, services)
            raise
        main = ensured.account
        console_token = console_token or secrets.token_urlsafe(24)
        runtime = cls(
            settings,
            database,
            services,
            build_app(settings, services, main, console_token=console_token),
            main,
            main_token_generated=ensured.token_generated,
            console_token=console_token,
        )
        runtime._carriers_task = start_carriers(services)
        if settings.workers:
            runtime.start_workers()
        if serving is not None:
            runtime._snapshots_task = serving.share_state(
                services.metrics, services.carrier_records
            )
        try:
            runtime.metrics_port = await MetricsPort.open(settings, services)
        except BaseException:
            await runtime.close()
            raise
        return runtime

    async def intercept_listener(
        self, server: uvicorn.Server, sock: socket.socket
    ) -> asyncio.Server:
        """The intercepting proxy on `sock` (docs/intercept.md), once `server` has started:
        what it terminates is served by `server`'s own HTTP protocol and application."""
        authority = await self.services.intercept.authority()
        config = server.config

        def app_protocol() -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=server.server_state, app_state=server.lifespan.state
            )
            return protocol

        def contexts(host: str) -> ssl.SSLContext:
            return authority.server_context(host, datetime.now(UTC))

        return await asyncio.get_running_loop().create_server(
            lambda: InterceptProtocol(
                app_protocol, contexts, is_intercepted, tunnel=self.settings.intercept_tunnel
            ),
            sock=sock,
        )

    def console_url(self, base_url: str) -> str:
        """The console's link for a person at this machine: on a loopback address it carries
        this start's token, which signs the browser in as the main account on first visit.
        Each process of a deployment prints its own; a session begun on one works on all."""
        if is_loopback(self.settings.host):
            return f"{base_url}/console/?{LINK_PARAMETER}={self.console_token}"
        return f"{base_url}/console/"

    def start_workers(self) -> None:
        """Run the job runner on this loop until close(); kept referenced and awaited there."""
        self.runner = build_runner(self.settings, self.services)
        self._runner_task = asyncio.get_running_loop().create_task(self.runner.run())
        self._runner_task.add_done_callback(_log_runner_exit)
        self.services.health.runner_started(self._runner_task)
        self._retention_task = start_retention(self.services)

    def http_server(self, log_level: str) -> uvicorn.Server:
        """The uvicorn server for this runtime's app, on the running event loop.

        No lifespan: the runtime is built before the server starts and closed after it stops.
        """
        limits = ConnectionLimits(
            head_timeout_s=self.settings.header_timeout_s,
            body_timeout_s=self.settings.body_timeout_s,
            max_connections=self.settings.max_connections,
        )
        config = uvicorn.Config(
            # Request ids and metrics on every answer; access lines when asked
            # (api/request_log.py).
            RequestLog(
                AccountConcurrency(
                    self.app, self.services.accounts, self.settings.account_concurrency
                ),
                metrics=self.services.metrics,
                access_log=self.settings.access_log,
            ),
            loop="none",
            # httptools, with read deadlines, a connection limit and Twilio-shaped answers to
            # what never reaches the app (api/connections.py).
            http=http_protocol(limits),
            lifespan="off",
            access_log=False,
            server_header=False,
            log_level=log_level,
            log_config=uvicorn_log_config(self.settings),
            # Console pages hold an event stream open; stopping must not wait for them.
            timeout_graceful_shutdown=2,
        )
        return _GracefulServer(config)

    async def close(self) -> None:
        if self.metrics_port is not None:
            await self.metrics_port.close()
        if self._snapshots_task is not None:
            self._snapshots_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshots_task
        await stop_retention(self._retention_task)
        if self.runner is not None and self._runner_task is not None:
            self.runner.stop()
            with contextlib.suppress(Exception):
                await self._runner_task
        await stop_carriers(self.services, self._carriers_task)
        await close_services(self.database, self.services)


async def open_services(
    settings: Settings, clock: Clock, serving: ServingProcess | None = None
) -> tuple[Database, Services]:
    """The migrated database and the services on it, with the simulator configured; as one
    of several serving processes, with its share of the carriers' binds. A database that
    cannot be opened or migrated raises StorageFailure."""
    carriers_config = read_carriers(settings)
    if carriers_config is not None and serving is not None:
        carriers_config = carriers_config.dealt_out(serving.index, serving.count)
    database = await open_migrated_database(settings)
    services: Services | None = None
    try:
        services = build_services(settings, database, clock, carriers_config)
        await configure_simulator(settings, services.simulator)
    except BaseException:
        if services is not None:
            await services.webhooks.close()
        await database.close()
        raise
    return database, services


async def read_main_account(settings: Settings) -> Account | None:
    """`textrelay credentials`: the main account `serve` uses on this database (the configured
    SID, else the one generated on first start), or None when there is none yet. Reads only:
    it neither migrates nor creates a missing SQLite file. StorageFailure if it cannot read."""
    refuse_memory_database(settings, "textrelay credentials")
    if _no_sqlite_file(settings.database_url):
        return None
    database = await _opened(settings)
    try:
        store = Store(database, translate=service_failure)
        ctx = ServiceContext(store, SidGenerator(random_source(None)), system_clock)
        return await AccountService(ctx).main_account(settings.account_sid)
    finally:
        await database.close()


@dataclass(frozen=True, slots=True)
class AccountTools:
    """What `textrelay accounts` works through, on the database itself (a running server
    sees each change within its one-second authentication cache)."""

    admin: AccountAdministration
    tokens: AuthTokenService


@contextlib.asynccontextmanager
async def account_tools(settings: Settings) -> AsyncIterator[AccountTools]:
    """AccountTools on the migrated database, closed after the block; StorageFailure if it
    cannot be opened or migrated."""
    refuse_memory_database(settings, "textrelay accounts")
    database = await open_migrated_database(settings)
    try:
        store = Store(database, translate=service_failure)
        # Tokens are secrets: always from the system's randomness, never from `seed`.
        ctx = ServiceContext(store, SidGenerator(random_source(None)), system_clock)
        accounts = AccountService(ctx)
        yield AccountTools(AccountAdministration(ctx, accounts), AuthTokenService(ctx, accounts))
    finally:
        await database.close()


def _no_sqlite_file(database_url: str) -> bool:
    parsed = parse_database_url(database_url)
    return parsed.dialect == "sqlite" and not os.path.exists(parsed.target)


def refuse_memory_database(settings: Settings, command: str) -> None:
    """StorageFailure when `command`, a process of its own, is given `sqlite:///:memory:`:
    that database lives inside the one process that opened it, so another process would
    only get an empty one of its own."""
    if parse_database_url(settings.database_url).in_memory:
        raise StorageFailure(
            f"{command} cannot reach sqlite:///:memory:, which lives inside the one "
            "`textrelay serve` process that opened it (and is gone when that stops): "
            "give a SQLite file (sqlite:///textrelay.db) or PostgreSQL"
        )


async def open_migrated_database(settings: Settings) -> Database:
    database = await _opened(settings)
    try:
        await _migrated(database)
    except BaseException:
        await database.close()
        raise
    return database


async def migrate_database(settings: Settings) -> list[str]:
    """`textrelay migrate`: apply what is not applied yet; the names of what was."""
    refuse_memory_database(settings, "textrelay migrate")
    database = await _opened(settings)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await _migrated(database)]
    finally:
        await database.close()


async def _opened(settings: Settings) -> Database:
    try:
        return await open_database(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.db_pool_size,
        )
    except StorageError as exc:
        raise service_failure(exc) from exc


async def _migrated(database: Database) -> list[Migration]:
    try:
        return await migrate(database)
    except StorageError as exc:
        raise service_failure(exc) from exc


async def close_services(database: Database, services: Services) -> None:
    await services.webhooks.close()
    await services.media_fetcher.close()
    await database.close()
    if services.temporary_media_dir is not None:
        # Its rows went with the in-memory database: nothing could serve these files again.
        shutil.rmtree(services.temporary_media_dir, ignore_errors=True)


@dataclass(slots=True)
class Worker:
    """Everything `textrelay worker` runs: the database, the services and the job runner,
    without the HTTP API (several may share a PostgreSQL queue; docs/cli.md)."""

    database: Database
    services: Services
    runner: JobRunner
    metrics_port: MetricsPort | None = None
    _carriers_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _retention_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock = system_clock) -> Worker:
        refuse_memory_database(settings, "textrelay worker")
        database, services = await open_services(settings, clock)
        worker = cls(database, services, build_runner(settings, services))
        worker._carriers_task = start_carriers(services)
        try:
            worker.metrics_port = await MetricsPort.open(settings, services)
        except BaseException:
            await worker.close()
            raise
        worker._retention_task = start_retention(services)
        return worker

    async def close(self) -> None:
        """Unbind the carriers, release the webhook transport and the database; run() must
        have returned."""
        if self.metrics_port is not None:
            await self.metrics_port.close()
        await stop_retention(self._retention_task)
        await stop_carriers(self.services, self._carriers_task)
        await close_services(self.database, self.services)


def start_carriers(services: Services) -> asyncio.Task[None] | None:
    """Open the carriers on this loop (binds come up in the background)."""
    task = asyncio.get_running_loop().create_task(keep_carriers(services))
    task.add_done_callback(_log_carriers_exit)
    return task


async def stop_carriers(services: Services, task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await services.carriers.close()


def start_retention(services: Services) -> asyncio.Task[None] | None:
    """The retention sweep on this loop (workers/retention.py); None while it is off."""
    if services.retention.days is None:
        return None
    return asyncio.get_running_loop().create_task(
        keep_retention(services.retention, services.clock)
    )


async def stop_retention(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def backup_database(settings: Settings, destination: str, *, force: bool) -> Backup:
    """`textrelay backup`: the SQLite database and its media directory copied while the server
    runs (storage/backup.py). StorageFailure says why not, pointing PostgreSQL at pg_dump."""
    parsed = parse_database_url(settings.database_url)
    if parsed.dialect != "sqlite":
        raise StorageFailure(
            "textrelay backup copies a SQLite database; back up PostgreSQL with pg_dump "
            '(docs/operations.md, "Backup") and copy the media directory beside it'
        )
    refuse_memory_database(settings, "textrelay backup")
    media_dir = media_directory(settings)
    assert media_dir is not None  # a SQLite file's (memory was refused above)
    try:
        return backup_sqlite(parsed.target, destination, media_dir=media_dir, force=force)
    except StorageError as exc:
        raise service_failure(exc) from exc


def _log_carriers_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error("the carriers stopped", exc_info=task.exception())


def _log_runner_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error("the job runner stopped", exc_info=task.exception())


async def intercept_authority(settings: Settings) -> Authority:
    """`textrelay ca` and `textrelay env`: the deployment's CA, made if there is none yet
    (the database is migrated first, as `serve` would)."""
    refuse_memory_database(settings, "textrelay ca and textrelay env")
    database = await open_migrated_database(settings)
    try:
        store = Store(database, translate=service_failure)
        ctx = ServiceContext(store, SidGenerator(random_source(None)), system_clock)
        return await InterceptService(ctx).authority()
    finally:
        await database.close()


def trust_files(authority: Authority) -> TrustFiles:
    """The CA certificate and a bundle of the usual roots with it, written where `textrelay
    env` points clients (intercept/trust.py)."""
    return write_trust_files(authority.certificate_pem)


def proxy_environment(host: str, port: int, files: TrustFiles) -> str:
    """`export` lines that send a client's Twilio traffic through the proxy at host:port."""
    # A server listening on every interface is reached on loopback from this machine.
    any_interface = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 (read, not bound)
    shown = any_interface.get(host, host)
    bracketed = f"[{shown}]" if ":" in shown else shown
    url = f"http://{bracketed}:{port}"
    return export_lines(environment(url, files))
