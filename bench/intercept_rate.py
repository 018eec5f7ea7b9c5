"""Message creates through the intercepting proxy against creates sent straight to the base
URL, in one run.

    .venv/bin/python bench/intercept_rate.py [--seconds 5] [--concurrency 8] [--rounds 2]

Starts `textrelay serve --intercept-port` (fresh SQLite file, free ports of 127.0.0.1), makes
the CA with `textrelay ca`, then alternates rounds: creates on `--concurrency` keep-alive
HTTP/1.1 connections straight to the base URL, then the same through the proxy as a Twilio
client makes them (one `CONNECT api.twilio.com:443` a connection, TLS under textrelay's CA,
then keep-alive requests over it). Prints creates/s and latency percentiles of each round and,
per pair, the proxy's rate as a share of the direct one (issue 14's floor: 0.5). textrelay
runs on core 0 and this process on core 1 when `taskset` exists. Every loop is bounded in
count and time; the script stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.api_throughput import create_body, provision_sender
from bench.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    can_pin,
    exchange,
    free_port,
    pinned,
    request_bytes,
    running,
)

FLOOR = 0.5
MAX_REQUESTS_PER_ROUND = 200_000
CONNECT_TIMEOUT_S = 10.0


@dataclass
class Round:
    path: str
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def direct(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def through_proxy(
    proxy_port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection as a Twilio client behind HTTPS_PROXY opens one: CONNECT, then TLS."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"CONNECT api.twilio.com:443 HTTP/1.1\r\nHost: api.twilio.com:443\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT_S)
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the proxy refused: {answer!r}")
    await writer.start_tls(context, server_hostname="api.twilio.com")
    return reader, writer


Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def run_round(
    round_: Round, port: int, opener: Opener, sender: str, args: argparse.Namespace
) -> Round:
    counter = iter(range(MAX_REQUESTS_PER_ROUND))
    messages = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    started = time.perf_counter()
    deadline = started + args.seconds

    async def connection() -> None:
        reader, writer = await opener()
        try:
            for index in counter:
                if time.perf_counter() >= deadline:
                    break
                sent = time.perf_counter()
                request = request_bytes("POST", messages, port, create_body(index, sender))
                status, _ = await exchange(reader, writer, request)
                round_.latencies_s.append(time.perf_counter() - sent)
                if status != 201:
                    round_.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(args.concurrency)))
    round_.elapsed_s = time.perf_counter() - started
    return round_


async def measure(args: argparse.Namespace, port: int, proxy_port: int, ca_pem: str) -> list[Round]:
    context = ssl.create_default_context(cadata=ca_pem)
    sender = await provision_sender(port)
    rounds: list[Round] = []
    for _ in range(args.rounds):
        rounds.append(await run_round(Round("direct"), port, lambda: direct(port), sender, args))
        rounds.append(
            await run_round(
                Round("proxy"), port, lambda: through_proxy(proxy_port, context), sender, args
            )
        )
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of rounds (direct, proxy)")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if not 0 < args.seconds <= 60 or not 0 < args.concurrency <= 64 or not 0 < args.rounds <= 10:
        parser.error("keep --seconds in (0, 60], --concurrency in (0, 64], --rounds in (0, 10]")
    with tempfile.TemporaryDirectory(prefix="textrelay-intercept-") as tmp:
        env = {
            **os.environ,
            "TEXTRELAY_DATABASE_URL": f"sqlite:///{tmp}/textrelay.db",
            "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
            "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
            "TEXTRELAY_LOG_LEVEL": "warning",
            "XDG_STATE_HOME": tmp,
        }
        ca_pem = subprocess.run(
            [sys.executable, "-m", "textrelay", "ca"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        port, proxy_port = free_port(), free_port()
        command = pinned(
            args,
            0,
            [
                sys.executable,
                "-m",
                "textrelay",
                "serve",
                "--port",
                str(port),
                "--intercept-port",
                str(proxy_port),
            ],
        )
        with running(command, proxy_port, env):
            if can_pin(args):
                os.sched_setaffinity(0, {1})
            rounds = asyncio.run(measure(args, port, proxy_port, ca_pem))
    report(args, rounds)
    return 0


def report(args: argparse.Namespace, rounds: list[Round]) -> None:
    print(
        f"settings: {args.seconds:g} s a round, {args.concurrency} keep-alive connections, "
        f"SQLite; pinning: {'textrelay core 0, this process core 1' if can_pin(args) else 'none'}"
    )
    print("round  path     creates/s   p50 ms   p99 ms  errors")
    for number, round_ in enumerate(rounds, start=1):
        print(
            f"{number:<6} {round_.path:<8} {round_.rate:9.0f} {round_.percentile_ms(0.5):8.1f} "
            f"{round_.percentile_ms(0.99):8.1f} {round_.errors:7d}"
        )
    ratios = [rounds[i + 1].rate / rounds[i].rate for i in range(0, len(rounds), 2)]
    for pair, ratio in enumerate(ratios, start=1):
        print(f"pair {pair}: proxy / direct creates/s {ratio:.2f}")
    median = statistics.median(ratios)
    verdict = "meets" if median >= FLOOR else "BELOW"
    print(f"median of the pairs: {median:.2f} ({verdict} the {FLOOR:g}× floor)")


if __name__ == "__main__":
    raise SystemExit(main())
