"""How `textrelay serve` serves (docs/cli.md, docs/operations.md "Every core"): in this one
process, or as a supervisor of N serving processes, each on a socket of its own on the port;
the banner either way; and the helpers the commands share to run a coroutine and show a URL."""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from textrelay import __version__
from textrelay.app import (
    Runtime,
    ServingProcess,
    listening_group,
    serve_in_background,
    serving_processes_metrics,
    trust_files,
)
from textrelay.settings import Settings
from textrelay.supervisor import supervise

T = TypeVar("T")


def run_fast(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop (installed with uvicorn[standard]) when present, else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


@dataclass(frozen=True)
class _Listening:
    """The sockets a serving process listens on, made before anything is announced (their
    backlog queues connections meanwhile)."""

    api: socket.socket
    proxy: socket.socket | None

    @classmethod
    def open(cls, settings: Settings) -> _Listening:
        return cls.open_group(settings, 1)[0]

    @classmethod
    def open_group(cls, settings: Settings, count: int) -> list[_Listening]:
        """One set a serving process. The supervisor keeps them all open, so connections
        the kernel hands to a process being replaced wait in its socket's backlog for the
        new one instead of being refused."""
        proxy = settings.intercept_port
        api = _listen(settings.host, settings.port, count)
        proxies = [None] * count if proxy is None else _listen(settings.host, proxy, count)
        return [cls(a, p) for a, p in zip(api, proxies, strict=True)]


def _listen(host: str, port: int, count: int) -> list[socket.socket]:
    try:
        return listening_group(host, port, count)
    except OSError as exc:  # in use, or not ours to bind: say so, without a traceback
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


async def serve_alone(settings: Settings) -> None:
    """The whole server in this process, until a stop signal."""
    runtime = await Runtime.start(settings)
    try:
        listening = _Listening.open(settings)
        await _announce(runtime, listening, processes=1)
        await _serve_runtime(runtime, listening)
    finally:
        await runtime.close()


def serve_on_cores(settings: Settings, processes: int) -> None:
    """Prepare the database and announce in this process, then serve from `processes`
    forked ones (textrelay/supervisor.py), each on a socket of its own on the port, sharing
    the console's token and a directory for their metrics."""
    console_token = secrets.token_urlsafe(24)
    listening = run_fast(_prepare(settings, console_token, processes))
    with serving_processes_metrics() as metrics_directory:

        def serve_one(index: int, started: Callable[[], None]) -> None:
            serving = ServingProcess(index, processes, metrics_directory)
            run_fast(_serve_one(settings, serving, listening[index], console_token, started))

        supervise(processes, serve_one)


async def _prepare(settings: Settings, console_token: str, processes: int) -> list[_Listening]:
    """Migrate, make the main account (and the proxy's authority), print the banner: what
    happens once, before the serving processes open the database. No workers, carriers or
    metrics port: those are each serving process's."""
    runtime = await Runtime.start(
        replace(settings, workers=False, carriers=None, metrics_port=None),
        console_token=console_token,
    )
    try:
        listening = _Listening.open_group(settings, processes)
        await _announce(runtime, listening[0], processes=processes)
        return listening
    finally:
        await runtime.close()


async def _serve_one(
    settings: Settings,
    serving: ServingProcess,
    listening: _Listening,
    console_token: str,
    started: Callable[[], None],
) -> None:
    """One serving process: the whole server on its sockets. Its metrics port, if
    any, is the setting's plus its index (one a process: docs/operations.md)."""
    if settings.metrics_port:
        settings = replace(settings, metrics_port=settings.metrics_port + serving.index)
    runtime = await Runtime.start(settings, console_token=console_token, serving=serving)
    started()  # what can fail at start has not: from now on a death is replaced
    try:
        await _serve_runtime(runtime, listening)
    finally:
        await runtime.close()


async def _announce(runtime: Runtime, listening: _Listening, *, processes: int) -> None:
    settings = runtime.settings
    host, port = listening.api.getsockname()[:2]
    base_url = f"http://{url_host(host)}:{port}"
    account = runtime.main_account
    click.echo(f"textrelay {__version__} listening on {base_url}")
    click.echo(f"  console:     {runtime.console_url(base_url)}")
    click.echo(f"  database:    {redacted(settings.database_url)}")
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
            f"  proxy:       http://{url_host(host)}:{proxy_port} "
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


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def redacted(url: str) -> str:
    """The database URL without its password, fit to print."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"
