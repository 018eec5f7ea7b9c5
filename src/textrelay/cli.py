"""The `textrelay` command: serve, worker, migrate, and explain SIDs; the client commands
(send, messages, simulate) live in cli_client.py, account management (accounts) in
cli_accounts.py. docs/cli.md describes them all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from textrelay import __version__
from textrelay.app import (
    Runtime,
    Worker,
    backup_database,
    intercept_authority,
    listening_socket,
    migrate_database,
    proxy_environment,
    read_main_account,
    serve_in_background,
    serving_processes,
    trust_files,
)
from textrelay.cli_accounts import ACCOUNT_SETTINGS, accounts_group
from textrelay.cli_client import carriers, messages, send, simulate, text
from textrelay.domain.errors import TwilioError
from textrelay.domain.sids import explain
from textrelay.logs import configure_logging
from textrelay.services.errors import StorageFailure
from textrelay.settings import (
    SETTINGS,
    Settings,
    SettingsError,
    env_name,
    flag_name,
    secrets_in_flags,
    unknown_variables,
)
from textrelay.supervisor import FailedStart, supervise


def _setting_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Click options for the named settings, generated so flag and variable never drift."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for setting in reversed([s for s in SETTINGS if s.name in names]):
            help_text = f"{setting.help} [env: {env_name(setting.name)}]"
            if isinstance(setting.default, bool):
                command = click.option(
                    f"{flag_name(setting.name)}/--no-{setting.name.replace('_', '-')}",
                    setting.name,
                    default=None,
                    help=help_text,
                )(command)
            else:
                command = click.option(
                    flag_name(setting.name), setting.name, default=None, type=str, help=help_text
                )(command)
        return command

    return decorate


def _load(overrides: dict[str, Any]) -> Settings:
    for name, likely in unknown_variables(os.environ):
        hint = f" (did you mean {likely}?)" if likely else ""
        click.echo(f"warning: {name} is not a textrelay setting and is ignored{hint}", err=True)
    for name in secrets_in_flags(overrides):
        click.echo(
            f"warning: {flag_name(name)} shows a secret to every user of this machine (ps); "
            f"set {env_name(name)} instead",
            err=True,
        )
    try:
        return Settings.load(overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="textrelay")
def main() -> None:
    """textrelay: a self-hosted, Twilio-compatible Programmable Messaging server."""


main.add_command(send)
main.add_command(messages)
main.add_command(carriers)
main.add_command(simulate)
main.add_command(text)


SERVE_SETTINGS = tuple(s.name for s in SETTINGS)
T = TypeVar("T")


@main.command()
@_setting_options(*SERVE_SETTINGS)
def serve(**overrides: Any) -> None:
    """Start the server (API on one base URL) and print how to reach it."""
    settings = _load(overrides)
    configure_logging(settings)
    try:
        processes = serving_processes(settings)
        if processes == 1:
            _run_fast(_serve(settings))
        else:
            _serve_on_cores(settings, processes)
    except (StorageFailure, SettingsError, FailedStart) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


def _run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop (installed with uvicorn[standard]) when present, else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


@dataclass(frozen=True)
class _Listening:
    """The sockets `serve` listens on, made before anything is announced (their backlog
    queues connections meanwhile) and shared by every serving process."""

    api: socket.socket
    proxy: socket.socket | None

    @classmethod
    def open(cls, settings: Settings) -> _Listening:
        proxy = settings.intercept_port
        return cls(
            listening_socket(settings.host, settings.port),
            None if proxy is None else listening_socket(settings.host, proxy),
        )


async def _serve(settings: Settings) -> None:
    runtime = await Runtime.start(settings)
    try:
        listening = _Listening.open(settings)
        await _announce(runtime, listening, processes=1)
        await _serve_runtime(runtime, listening)
    finally:
        await runtime.close()


def _serve_on_cores(settings: Settings, processes: int) -> None:
    """Prepare the database and announce in this process, then serve from `processes`
    forked ones (textrelay/supervisor.py) sharing the sockets and the console's token."""
    console_token = secrets.token_urlsafe(24)
    listening = _run_fast(_prepare(settings, console_token, processes))

    def serve_one(index: int, started: Callable[[], None]) -> None:
        _run_fast(_serve_one(settings, index, listening, console_token, started))

    supervise(processes, serve_one)


async def _prepare(settings: Settings, console_token: str, processes: int) -> _Listening:
    """Migrate, make the main account (and the proxy's authority), print the banner: what
    happens once, before the serving processes open the database. No workers, carriers or
    metrics port: those are each serving process's."""
    runtime = await Runtime.start(
        replace(settings, workers=False, carriers=None, metrics_port=None),
        console_token=console_token,
    )
    try:
        listening = _Listening.open(settings)
        await _announce(runtime, listening, processes=processes)
        return listening
    finally:
        await runtime.close()


async def _serve_one(
    settings: Settings,
    index: int,
    listening: _Listening,
    console_token: str,
    started: Callable[[], None],
) -> None:
    """One serving process: the whole server on the shared sockets. Its metrics port, if
    any, is the setting's plus its index (one a process: docs/operations.md)."""
    if settings.metrics_port:
        settings = replace(settings, metrics_port=settings.metrics_port + index)
    runtime = await Runtime.start(settings, console_token=console_token)
    started()  # what can fail at start has not: from now on a death is replaced
    try:
        await _serve_runtime(runtime, listening)
    finally:
        await runtime.close()


async def _announce(runtime: Runtime, listening: _Listening, *, processes: int) -> None:
    settings = runtime.settings
    host, port = listening.api.getsockname()[:2]
    base_url = f"http://{_url_host(host)}:{port}"
    account = runtime.main_account
    click.echo(f"textrelay {__version__} listening on {base_url}")
    click.echo(f"  console:     {runtime.console_url(base_url)}")
    click.echo(f"  database:    {_redacted(settings.database_url)}")
    click.echo(f"  account sid: {account.sid}")
    # The token only when this start generated it: a banner lands in logs, and the
    # token is the account's password. `textrelay credentials` prints it on request.
    if runtime.main_token_generated:
        click.echo(f"  auth token:  {account.auth_token} (new: shown this once)")
        argument = f'"{account.auth_token}"'
    else:
        click.echo("  auth token:  not shown; `textrelay credentials` prints it")
        argument = 'os.environ["TEXTRELAY_AUTH_TOKEN"]'
    click.echo(f'  python:      textrelay.client("{base_url}", "{account.sid}", {argument})')
    if settings.deployment_mode == "gateway":
        operator = "admin token" if settings.admin_token else "no admin token: nobody"
        click.echo(f"  mode:        gateway (test bench and server-wide state: {operator})")
    if processes > 1:
        click.echo(f"  processes:   {processes} (--processes; docs/operations.md)")
    if listening.proxy is not None:
        proxy_port = listening.proxy.getsockname()[1]
        files = trust_files(await runtime.services.intercept.authority())
        click.echo(
            f"  proxy:       http://{_url_host(host)}:{proxy_port} "
            "(answers for *.twilio.com; docs/intercept.md)"
        )
        click.echo(f"  proxy CA:    {files.ca}")
        click.echo(f'  clients:     eval "$(textrelay env --intercept-port {proxy_port})"')
    sys.stdout.flush()


async def _serve_runtime(runtime: Runtime, listening: _Listening) -> None:
    server = runtime.http_server(runtime.settings.log_level)
    if listening.proxy is None:
        await server.serve(sockets=[listening.api])
        return
    # The proxy needs the HTTP protocol's state, made when the server starts.
    serving = await serve_in_background(server, listening.api)
    listener = await runtime.intercept_listener(server, listening.proxy) if server.started else None
    try:
        await serving
    finally:
        if listener is not None:
            listener.close()


WORKER_SETTINGS = (
    "database_url",
    "sqlite_synchronous",
    "db_pool_size",
    "log_level",
    "log_format",
    "log_bodies",
    "worker_concurrency",
    "webhook_concurrency",
    "webhook_host_concurrency",
    "job_lease_s",
    "callback_retry",
    "callback_max_attempts",
    "callback_retry_base_s",
    "seed",
    "simulator_config",
    "carriers",
    "simulator_mode",
    "host",
    "metrics_port",
    "media_dir",
    "retention_days",
)


@main.command()
@_setting_options(*WORKER_SETTINGS)
def worker(**overrides: Any) -> None:
    """Run the delivery workers alone, without the HTTP API, until SIGINT or SIGTERM.

    For `serve --no-workers` deployments: any number of workers share the queue, on
    PostgreSQL or on a SQLite file (whose processes take turns to write).
    """
    settings = _load(overrides)
    configure_logging(settings)
    try:
        _run_fast(_work(settings))
    except (StorageFailure, SettingsError, TwilioError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _work(settings: Settings) -> None:
    worker = await Worker.start(settings)
    loop = asyncio.get_running_loop()
    try:
        for signum in _STOP_SIGNALS:
            # A graceful stop: the runner stops claiming, gives the jobs in hand a grace
            # period, then run() returns; a job cut short is taken again when its lease ends.
            # Where loops have no signal handlers (Windows), Ctrl-C cancels outright.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, worker.runner.stop)
        click.echo(f"textrelay worker: processing jobs from {_redacted(settings.database_url)}")
        sys.stdout.flush()
        await worker.runner.run()
    finally:
        for signum in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
        await worker.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _redacted(url: str) -> str:
    """The database URL without its password, fit to print."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"


@main.command("migrate")
@_setting_options("database_url", "sqlite_synchronous", "db_pool_size")
def migrate_command(**overrides: Any) -> None:
    """Apply the database migrations that are not applied yet, then exit."""
    settings = _load(overrides)

    try:
        applied = asyncio.run(migrate_database(settings))
    except StorageFailure as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH and PATH-media if they exist.")
@_setting_options("database_url", "media_dir")
def backup(path: str, force: bool, **overrides: Any) -> None:
    """Copy the SQLite database to PATH and its media directory to PATH-media, consistently
    while the server runs. PostgreSQL: pg_dump (docs/operations.md, "Backup")."""
    settings = _load(overrides)
    try:
        made = backup_database(settings, path, force=force)
    except StorageFailure as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database: {made.database}")
    click.echo(f"media:    {made.media or 'none yet (no media directory)'}")


@main.command()
@_setting_options("database_url", "sqlite_synchronous", "db_pool_size")
def ca(**overrides: Any) -> None:
    """Print the intercepting proxy's CA certificate (PEM), making the CA if there is none:
    `textrelay ca > ca.pem` (docs/intercept.md)."""
    settings = _load(overrides)
    try:
        authority = asyncio.run(intercept_authority(settings))
    except StorageFailure as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(authority.certificate_pem, nl=False)


@main.command()
@_setting_options("database_url", "sqlite_synchronous", "db_pool_size", "host", "intercept_port")
def env(**overrides: Any) -> None:
    """Print the `export` lines that send Twilio clients through the intercepting proxy:
    `eval "$(textrelay env --intercept-port 8081)"` (docs/intercept.md)."""
    settings = _load(overrides)
    if settings.intercept_port is None:
        raise click.UsageError(
            "give the proxy's port: --intercept-port PORT (or TEXTRELAY_INTERCEPT_PORT), as "
            "`textrelay serve --intercept-port PORT` listens on it"
        )
    try:
        authority = asyncio.run(intercept_authority(settings))
    except StorageFailure as exc:
        raise click.ClickException(str(exc)) from None
    files = trust_files(authority)
    click.echo(proxy_environment(settings.host, settings.intercept_port, files), nl=False)


@main.command()
@_setting_options("database_url", "account_sid")
def credentials(**overrides: Any) -> None:
    """Print the main account's SID and auth token, which `serve` prints only once."""
    settings = _load(overrides)
    try:
        account = asyncio.run(read_main_account(settings))
    except StorageFailure as exc:
        raise click.ClickException(str(exc)) from None
    if account is None:
        where = _redacted(settings.database_url)
        raise click.ClickException(f"no main account in {where} yet: start `textrelay serve`")
    click.echo(f"account sid: {account.sid}")
    click.echo(f"auth token:  {account.auth_token}")


main.add_command(accounts_group(_setting_options(*ACCOUNT_SETTINGS), _load))


@main.group()
def sid() -> None:
    """Work with SIDs."""


@sid.command("explain")
@click.argument("value")
def sid_explain(value: str) -> None:
    """Tell what a SID names and whether it is well-formed (exit 1 if it is not)."""
    result = explain(value)
    kind = result.kind
    click.echo(f"sid:         {result.sid}")
    click.echo(f"prefix:      {result.prefix}")
    click.echo(f"names:       {kind.resource if kind else 'unknown'}")
    click.echo(f"product:     {kind.product if kind else 'unknown'}")
    click.echo(f"well-formed: {'yes' if result.well_formed else 'no'}")
    if result.problem:
        click.echo(f"problem:     {result.problem}")
        sys.exit(1)
