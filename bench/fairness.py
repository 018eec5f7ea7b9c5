"""Fairness: one tenant's hanging webhook receiver must not slow another tenant's messages.

    .venv/bin/python bench/fairness.py [--seconds 10] [--rate 20] [--hang-timeout-ms 5000]

Starts textrelay (`textrelay serve`, fresh SQLite file, or a fresh schema of the PostgreSQL
given with --database-url) on a free port of 127.0.0.1 with two tenants: the main account (A)
and a subaccount (B), each with its own sender and its own callback receiver in this process.
B's receiver answers 200 at once; A's, in the second phase, hangs on every other callback
until textrelay gives up (the URL fragment `#rt=…&tt=…` bounds that at --hang-timeout-ms) and
answers the rest at once.

Two phases in one run, each creating A's and B's messages at --rate per second each for
--seconds (the same load, so the phases differ only in A's receiver):
1. baseline: A's receiver answers at once;
2. contended: A's receiver hangs on half its callbacks.
Each phase waits (bounded by --drain-timeout) for every one of B's `delivered` callbacks;
A's backlog is not waited for. Prints B's create → `delivered` callback percentiles in both
phases and the ratio of the p99s (the target is at most 2). Every loop is bounded in count and
time; the script stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.e2e_delivery import (
    Creates,
    Receiver,
    create_messages,
    percentile_ms,
    postgres_schema,
    wait_for_callbacks,
)
from bench.harness import ACCOUNT_SID, AUTH_TOKEN, exchange, free_port, request_bytes, running

MAX_HANG_S = 60.0
"""The hanging receiver never holds a request longer than this, whatever textrelay does."""
B_PATH = "/status/b"
A_FAST_PATH = "/status/a"
A_HANGING_PATH = "/status/a-hanging"


@dataclass(frozen=True)
class Tenant:
    sid: str
    token: str
    sender: str = ""

    def request(self, method: str, path: str, port: int, body: bytes = b"") -> bytes:
        return request_bytes(method, path, port, body, account=(self.sid, self.token))


async def call(port: int, request: bytes) -> dict[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        status, body = await exchange(reader, writer, request)
    finally:
        writer.close()
    if status not in (200, 201):
        raise RuntimeError(f"setup request failed: {status} {body!r}")
    answer: dict[str, str] = orjson.loads(body)
    return answer


async def set_up(port: int) -> tuple[Tenant, Tenant]:
    """Tenant A (the main account) and B (a new subaccount), each with a sender."""
    main = Tenant(ACCOUNT_SID, AUTH_TOKEN)
    sub = await call(
        port, main.request("POST", "/2010-04-01/Accounts.json", port, b"FriendlyName=tenant+B")
    )
    tenants = []
    for tenant in (main, Tenant(sub["sid"], sub["auth_token"])):
        path = f"/2010-04-01/Accounts/{tenant.sid}/IncomingPhoneNumbers.json"
        number = await call(port, tenant.request("POST", path, port, b"AreaCode=415"))
        tenants.append(Tenant(tenant.sid, tenant.token, number["phone_number"]))
    return tenants[0], tenants[1]


class HangingReceiver:
    """Answers requests at once, except every other one to A_HANGING_PATH, which it holds
    until the peer gives up."""

    def __init__(self) -> None:
        self.requests = 0
        self.hung = 0
        self._writers: set[asyncio.StreamWriter] = set()

    def close_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            for _ in range(100_000):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                if A_HANGING_PATH.encode() in head.split(b" ", 2)[1] and self.requests % 2:
                    self.hung += 1
                    # Hold the request until textrelay's timeout closes the connection.
                    with_timeout = asyncio.wait_for(reader.read(1), MAX_HANG_S)
                    await with_timeout
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


def creates_for(tenant: Tenant, port: int, callback_url: str, start: int) -> Callable[[int], bytes]:
    path = f"/2010-04-01/Accounts/{tenant.sid}/Messages.json"

    def make(index: int) -> bytes:
        body = (
            f"To=%2B1415555{(start + index) % 10000:04d}&From={quote(tenant.sender, safe='')}"
            f"&Body=fairness+{index}&StatusCallback={quote(callback_url, safe='')}"
        ).encode()
        return tenant.request("POST", path, port, body)

    return make


@dataclass
class Phase:
    name: str
    creates: Creates
    latencies_s: list[float]
    missing: int
    waited_s: float


async def phase(
    args: argparse.Namespace,
    name: str,
    port: int,
    tenants: tuple[Tenant, Tenant],
    urls: tuple[str, str],
    b_receiver: Receiver,
    start: int,
) -> Phase:
    """A's and B's messages side by side; B's latencies once all its callbacks are in."""
    a, b = tenants

    def load(tenant: Tenant, url: str, first: int) -> Awaitable[Creates]:
        return create_messages(
            port,
            creates_for(tenant, port, url, first),
            seconds=args.seconds,
            concurrency=args.concurrency,
            rate=args.rate,
        )

    created, _ = await asyncio.gather(load(b, urls[1], start), load(a, urls[0], start + 5000))
    waited, _complete = await wait_for_callbacks(
        b_receiver, list(created.sent_at), args.drain_timeout
    )
    sids = list(created.sent_at)
    done = [sid for sid in sids if sid in b_receiver.delivered_at]
    latencies = [b_receiver.delivered_at[sid] - created.sent_at[sid] for sid in done]
    return Phase(name, created, latencies, len(sids) - len(done), waited)


async def measure(args: argparse.Namespace, port: int) -> tuple[Phase, Phase, HangingReceiver]:
    a, b = await set_up(port)
    b_port, a_port = free_port(), free_port()
    b_receiver = Receiver(port=b_port, auth_token=b.token, paths=frozenset({B_PATH}))
    a_receiver = HangingReceiver()
    servers = [
        await asyncio.start_server(b_receiver.handle, "127.0.0.1", b_port),
        await asyncio.start_server(a_receiver.handle, "127.0.0.1", a_port),
    ]
    try:
        b_url = f"http://127.0.0.1:{b_port}{B_PATH}"
        a_fast = f"http://127.0.0.1:{a_port}{A_FAST_PATH}"
        timeout = args.hang_timeout_ms
        a_hanging = f"http://127.0.0.1:{a_port}{A_HANGING_PATH}#rt={timeout}&tt={timeout}"
        baseline = await phase(
            args, "A answering at once", port, (a, b), (a_fast, b_url), b_receiver, 0
        )
        contended = await phase(
            args, "A hanging on 50%", port, (a, b), (a_hanging, b_url), b_receiver, 2000
        )
        return baseline, contended, a_receiver
    finally:
        for server in servers:
            server.close()
        b_receiver.close_connections()
        a_receiver.close_connections()


def report(args: argparse.Namespace, phases: tuple[Phase, Phase], hanging: HangingReceiver) -> None:
    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"settings: {args.seconds:g} s of creates per phase at {args.rate:g}/s per tenant, "
        f"{args.concurrency} connections per tenant, A's hanging callbacks cut at "
        f"{args.hang_timeout_ms} ms, database {args.database_label}"
    )
    print(
        f"{'B: create → delivered, beside':<34}{'count':>7}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'missing':>9}"
    )
    for item in phases:
        values = item.latencies_s
        print(
            f"{item.name:<34}{len(values):>7}{percentile_ms(values, 0.5):>9.1f}"
            f"{percentile_ms(values, 0.9):>9.1f}{percentile_ms(values, 0.99):>9.1f}"
            f"{percentile_ms(values, 1.0):>9.1f}{item.missing:>9}"
        )
    base, contended = (percentile_ms(p.latencies_s, 0.99) for p in phases)
    print(f"A's receiver: {hanging.requests} callbacks received, {hanging.hung} held")
    ratio = contended / base if base else float("nan")
    verdict = "within" if ratio <= 2 else "OVER"
    print(f"B's p99 beside A / alone: {ratio:.2f}x ({verdict} the 2x target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="creates/s per tenant")
    parser.add_argument("--concurrency", type=int, default=4, help="connections per tenant")
    parser.add_argument("--hang-timeout-ms", type=int, default=5000)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    if not 0 < args.seconds <= 300 or not 0 < args.rate <= 1000:
        parser.error("--seconds in (0, 300], --rate in (0, 1000]")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="textrelay-fairness-") as directory:
        env = {
            **os.environ,
            "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
            "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
            "TEXTRELAY_PORT": str(port),
            "TEXTRELAY_LOG_LEVEL": "warning",
            "TEXTRELAY_MEDIA_DIR": str(Path(directory) / "media"),
        }
        command = [sys.executable, "-m", "textrelay", "serve"]

        def run(url: str, label: str) -> None:
            args.database_label = label
            with running(command, port, {**env, "TEXTRELAY_DATABASE_URL": url}):
                baseline, contended, hanging = asyncio.run(measure(args, port))
            report(args, (baseline, contended), hanging)

        if args.database_url:
            with postgres_schema(args.database_url) as url:
                run(url, "postgresql")
        else:
            run(f"sqlite:///{directory}/fairness.db", "sqlite")


if __name__ == "__main__":
    main()
