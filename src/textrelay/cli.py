"""The `textrelay` command: serve, worker, migrate, and explain SIDs; the client commands
(send, messages, simulate) live in cli_client.py, account management (accounts) in
cli_accounts.py. docs/cli.md describes them all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from textrelay import __version__
from textrelay.app import (
    Worker,
    backup_database,
    intercept_authority,
    migrate_database,
    proxy_environment,
    read_main_account,
    serving_processes,
    trust_files,
)
from textrelay.cli_accounts import ACCOUNT_SETTINGS, accounts_group
from textrelay.cli_client import carriers, messages, send, simulate, text
from textrelay.cli_serve import redacted, run_fast, serve_alone, serve_on_cores
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
from textrelay.supervisor import FailedStart


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


@main.command()
@_setting_options(*SERVE_SETTINGS)
def serve(**overrides: Any) -> None:
    """Start the server (API on one base URL) and print how to reach it."""
    settings = _load(overrides)
    configure_logging(settings)
    try:
        processes = serving_processes(settings)
        if processes == 1:
            run_fast(serve_alone(settings))
        else:
            serve_on_cores(settings, processes)
    except (StorageFailure, SettingsError, FailedStart) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


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
        run_fast(_work(settings))
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
        click.echo(f"textrelay worker: processing jobs from {redacted(settings.database_url)}")
        sys.stdout.flush()
        await worker.runner.run()
    finally:
        for signum in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
        await worker.close()


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
        where = redacted(settings.database_url)
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
