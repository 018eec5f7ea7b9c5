"""Message create and fetch throughput of textrelay, as a ratio to the floor Python reaches here.

    .venv/bin/python bench/api_throughput.py [--seconds 5] [--concurrency 16] [--rounds 3]

Starts, each on a free port of 127.0.0.1 with a fresh SQLite file: textrelay
(`textrelay serve`) and bench/floor_app.py (the same stack doing only form parse + one INSERT).
Loads each in turn with the same keep-alive HTTP/1.1 client, and prints requests/s and
latency percentiles for create (both) and fetch (textrelay), and textrelay's create rate as a
fraction of the floor's. The machine is shared and noisy: compare the ratio, measured in one
run, not the absolute figures. Servers run on core 0 and the load generator on core 1 when
`taskset` exists. Every loop is bounded in time; the script stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ROOT,
    can_pin,
    exchange,
    free_port,
    pinned,
    request_bytes,
    running,
)

MAX_REQUESTS_PER_PHASE = 2_000_000


@dataclass
class Phase:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    errors: int = 0
    bodies: list[bytes] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def load(
    port: int,
    phase: Phase,
    make: Callable[[int], bytes],
    *,
    seconds: float,
    concurrency: int,
    expect: int,
    keep_bodies: bool = False,
) -> Phase:
    """`concurrency` keep-alive connections, each sending `make(i)` back to back."""
    counter = iter(range(MAX_REQUESTS_PER_PHASE))
    started = time.perf_counter()
    deadline = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in counter:
                if time.perf_counter() >= deadline:
                    break
                sent = time.perf_counter()
                status, body = await exchange(reader, writer, make(index))
                phase.latencies_s.append(time.perf_counter() - sent)
                if status != expect:
                    phase.errors += 1
                elif keep_bodies:
                    phase.bodies.append(body)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    phase.elapsed_s = time.perf_counter() - started
    return phase


def create_body(index: int, sender: str) -> bytes:
    return (
        f"To=%2B1415555{index % 10000:04d}&From={sender.replace('+', '%2B')}"
        f"&Body=Your+code+is+{index % 1000000:06d}"
    ).encode()


async def provision_sender(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"
    status, body = await exchange(
        reader, writer, request_bytes("POST", path, port, b"AreaCode=415")
    )
    writer.close()
    if status != 201:
        raise RuntimeError(f"could not provision a sender: {status} {body!r}")
    number: str = orjson.loads(body)["phone_number"]
    return number


async def measure(args: argparse.Namespace, textrelay_port: int, floor_port: int) -> list[Phase]:
    messages = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    sender = await provision_sender(textrelay_port)

    def creates(port: int) -> Callable[[int], bytes]:
        return lambda i: request_bytes("POST", messages, port, create_body(i, sender))

    common = {"seconds": args.seconds, "concurrency": args.concurrency, "expect": 201}
    for port in (floor_port, textrelay_port):  # warm up both
        await load(port, Phase("warm-up"), creates(port), **{**common, "seconds": 1.0})

    phases: list[Phase] = []
    for round_number in range(1, args.rounds + 1):
        floor = await load(
            floor_port, Phase(f"floor create #{round_number}"), creates(floor_port), **common
        )
        created = await load(
            textrelay_port,
            Phase(f"textrelay create #{round_number}"),
            creates(textrelay_port),
            keep_bodies=True,
            **common,
        )
        sids = [orjson.loads(b)["sid"] for b in created.bodies[:5000]]
        created.bodies.clear()
        fetch_paths = [
            request_bytes(
                "GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json", textrelay_port
            )
            for sid in sids
        ]
        fetched = await load(
            textrelay_port,
            Phase(f"textrelay fetch #{round_number}"),
            lambda i, paths=fetch_paths: paths[i % len(paths)],  # type: ignore[misc]
            **{**common, "expect": 200},
        )
        phases += [floor, created, fetched]
    return phases


def report(args: argparse.Namespace, phases: list[Phase]) -> None:
    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"settings: {args.seconds:g} s a phase, {args.concurrency} connections, "
        f"{args.rounds} rounds, "
        f"sqlite synchronous={args.sqlite_synchronous.upper()}, "
        f"delivery workers {'on' if args.workers else 'off'}, "
        f"pinning: {'servers core 0, load core 1' if can_pin(args) else 'none'}"
    )
    print(f"{'phase':<24}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for phase in phases:
        print(
            f"{phase.name:<24}{len(phase.latencies_s):>10}{phase.rps:>10.0f}"
            f"{phase.percentile_ms(0.5):>9.2f}{phase.percentile_ms(0.99):>9.2f}{phase.errors:>8}"
        )
    ratios = [
        created.rps / floor.rps
        for floor, created in zip(phases[0::3], phases[1::3], strict=True)
        if floor.rps
    ]
    print("create ratio textrelay/floor per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"create ratio textrelay/floor (median): {statistics.median(ratios):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3, help="floor/create/fetch rounds")
    parser.add_argument("--sqlite-synchronous", choices=["normal", "full"], default="normal")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="servers on core 0, load generator on core 1 (needs taskset)",
    )
    parser.add_argument(
        "--workers",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also deliver the created messages in the server (default: API only)",
    )
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.rounds <= 10 or not 0 < args.concurrency <= 256:
        parser.error("keep --seconds in (0, 120], --rounds in (0, 10], --concurrency in (0, 256]")

    python = sys.executable
    textrelay_port, floor_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="textrelay-bench-") as tmp:
        env = {
            **os.environ,
            "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
            "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
            "TEXTRELAY_LOG_LEVEL": "warning",
            "TEXTRELAY_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
            # The API's own cost: created messages wait in the queue instead of being
            # delivered on the same core (bench/e2e_delivery.py measures delivery).
            "TEXTRELAY_WORKERS": "true" if args.workers else "false",
        }
        textrelay = pinned(
            args,
            0,
            [
                python,
                "-m",
                "textrelay",
                "serve",
                "--port",
                str(textrelay_port),
                "--database-url",
                f"sqlite:///{tmp}/textrelay.db",
            ],
        )
        floor = pinned(
            args,
            0,
            [
                python,
                str(ROOT / "bench" / "floor_app.py"),
                "--port",
                str(floor_port),
                "--db",
                f"{tmp}/floor.db",
                "--sqlite-synchronous",
                args.sqlite_synchronous,
            ],
        )
        if can_pin(args):
            os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
        with running(textrelay, textrelay_port, env), running(floor, floor_port, env):
            import uvloop

            phases = uvloop.run(measure(args, textrelay_port, floor_port))
    report(args, phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
