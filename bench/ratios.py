"""Issue 16's figures in one run: textrelay's create and end-to-end rates against the floor.

    .venv/bin/python bench/ratios.py [--seconds 5] [--rounds 3] [--concurrency 16]
        [--database-url postgresql://…] [--before /path/to/older/checkout/src] [--paced 10]

Starts bench/floor_app.py (the least a Python server can do for a create here: parse the form,
insert one row) and `textrelay serve` (workers on, as users run it), each on a free port of
127.0.0.1 and a fresh database, pinned to core 0; this process (load generator and a callback
receiver that checks every signature) runs on core 1. Every round measures, in turn:

- the floor's create rate: `--concurrency` keep-alive connections back to back;
- textrelay with delivery on, the same connections back to back, every message with a
  StatusCallback at the receiver: its **create rate** while the creates go, then its **end to
  end rate** (messages whose verified `delivered` callback arrived / time from the first create
  to the last such callback, drain included) and its **server CPU per delivered message**;
  the `load` column is this process's own CPU over the phase, in cores (it shares core 1 with
  a serving process under `--processes 2`: near 1, the harness would be what slows textrelay).

and prints both rates as ratios to the floor's create rate, per round and the median. With
`--before SRC` a second textrelay runs the code under SRC (e.g. a `git worktree` of an older
commit) on the same database kind, measured in every round right after the current one, and
the run also prints the current code's CPU per delivered message as a ratio to it. With
`--paced S` the run ends with S seconds of creates paced at half the median end-to-end rate,
and prints create → `delivered` latency percentiles. With `--split` each textrelay runs as
`serve --no-workers` on core 0 and a `textrelay worker` on core 1, its CPU counted for both
(PostgreSQL: NOTIFY wakes the worker; on SQLite a worker is not woken by another process's
jobs, docs/cli.md). Every loop is bounded in count and time; the script stops what it
started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.api_throughput import Phase, load
from bench.api_throughput import create_body as floor_create_body
from bench.e2e_delivery import (
    Receiver,
    cpu_seconds,
    create_body,
    create_messages,
    fresh_database,
    percentile_ms,
    provision_sender,
    wait_for_callbacks,
)
from bench.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ROOT,
    can_pin,
    free_port,
    on_every_core,
    pinned,
    request_bytes,
    running,
    stop,
)

CALLBACK_PATH = "/status/ratios"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    pid: int
    sender: str = ""
    worker_pid: int | None = None
    """With --split, the `textrelay worker` beside a `serve --no-workers`."""

    def cpu_seconds(self) -> float:
        worker = 0.0 if self.worker_pid is None else cpu_seconds(self.worker_pid)
        return cpu_seconds(self.pid) + worker


@dataclass(frozen=True)
class Delivered:
    """One back-to-back phase of a textrelay: creates, then everything delivered."""

    created: int
    create_rate: float
    delivered: int
    end_to_end_rate: float
    cpu_ms_per_delivered: float
    load_cpu_share: float
    """This process's CPU (load generator and receiver) over the phase, in cores: near 1,
    it shares core 1 with a serving process and so slows textrelay down."""
    complete: bool
    bad_signatures: int


def environment(database_url: str, src: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
        "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
        "TEXTRELAY_LOG_LEVEL": "warning",
        "TEXTRELAY_DATABASE_URL": database_url,
    }
    if src is not None:
        env["PYTHONPATH"] = src
    return env


@contextmanager
def textrelay(
    args: argparse.Namespace, name: str, database_url: str, src: str | None
) -> Iterator[Server]:
    """`textrelay serve` on core 0; with --split, without workers, and a `textrelay worker`
    on core 1 (with the load generator) beside it."""
    port = free_port()
    env = environment(database_url, src)
    command = [sys.executable, "-m", "textrelay", "serve", "--port", str(port)]
    if args.split:
        command.append("--no-workers")
    if args.processes > 1:
        command = on_every_core(args, [*command, "--processes", str(args.processes)])
    else:
        command = pinned(args, 0, command)
    with running(command, port, env) as pid:
        if not args.split:
            yield Server(name, port, pid)
            return
        worker = subprocess.Popen(
            pinned(args, 1, [sys.executable, "-m", "textrelay", "worker"]),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield Server(name, port, pid, worker_pid=worker.pid)
        finally:
            stop(worker)


@contextmanager
def floor(args: argparse.Namespace, tmp: str) -> Iterator[Server]:
    port = free_port()
    command = [
        sys.executable,
        str(ROOT / "bench" / "floor_app.py"),
        "--port",
        str(port),
        "--db",
        f"{tmp}/floor.db",
    ]
    with running(pinned(args, 0, command), port, dict(os.environ)) as pid:
        yield Server("floor", port, pid)


async def floor_rate(args: argparse.Namespace, server: Server, seconds: float) -> float:
    def make(index: int) -> bytes:
        body = floor_create_body(index, "+14155550100")
        return request_bytes("POST", MESSAGES_PATH, server.port, body)

    phase = await load(
        server.port,
        Phase("floor"),
        make,
        seconds=seconds,
        concurrency=args.concurrency,
        expect=201,
    )
    return phase.rps


def creates_for(server: Server, receiver: Receiver, path: str) -> Callable[[int], bytes]:
    url = f"http://127.0.0.1:{receiver.port}{path}"
    return lambda i: request_bytes(
        "POST", MESSAGES_PATH, server.port, create_body(i, server.sender, url)
    )


async def delivered_phase(
    args: argparse.Namespace,
    server: Server,
    receiver: Receiver,
    *,
    seconds: float,
    rate: float | None = None,
) -> tuple[Delivered, list[float]]:
    """Creates for `seconds` (back to back, or paced at `rate`), then until every message's
    `delivered` callback came; the figures, and each message's create → delivered seconds."""
    cpu_before, bad_before = server.cpu_seconds(), receiver.bad_signatures
    load_cpu_before, started = time.process_time(), time.perf_counter()
    created = await create_messages(
        server.port,
        creates_for(server, receiver, CALLBACK_PATH),
        seconds=seconds,
        concurrency=args.concurrency,
        rate=rate,
    )
    _waited, complete = await wait_for_callbacks(
        receiver, list(created.sent_at), args.drain_timeout
    )
    sids = list(created.sent_at)
    arrived = [receiver.delivered_at[sid] for sid in sids if sid in receiver.delivered_at]
    span = (max(arrived) - created.first_sent) if arrived else float("nan")
    cpu_s = server.cpu_seconds() - cpu_before
    load_cpu_share = (time.process_time() - load_cpu_before) / (time.perf_counter() - started)
    figures = Delivered(
        created=len(sids),
        create_rate=created.rate,
        delivered=len(arrived),
        end_to_end_rate=len(arrived) / span if arrived and span > 0 else 0.0,
        cpu_ms_per_delivered=cpu_s * 1000 / len(arrived) if arrived else float("nan"),
        load_cpu_share=load_cpu_share,
        complete=complete,
        bad_signatures=receiver.bad_signatures - bad_before,
    )
    latencies = [
        receiver.delivered_at[sid] - created.sent_at[sid]
        for sid in sids
        if sid in receiver.delivered_at
    ]
    return figures, latencies


@dataclass
class Round:
    floor: float
    runs: dict[str, Delivered]


@dataclass
class Paced:
    rate: float
    latencies_s: list[float]


async def measure(
    args: argparse.Namespace, floor_server: Server, servers: list[Server]
) -> tuple[list[Round], Paced | None]:
    receiver = Receiver(port=free_port(), auth_token=AUTH_TOKEN, paths=frozenset({CALLBACK_PATH}))
    listening = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver.port)
    try:
        servers = [replace(s, sender=await provision_sender(s.port)) for s in servers]
        await floor_rate(args, floor_server, 1.0)  # warm-ups
        for server in servers:
            await delivered_phase(args, server, receiver, seconds=1.0)
        rounds = []
        for number in range(1, args.rounds + 1):
            floor = await floor_rate(args, floor_server, args.seconds)
            runs = {}
            for server in servers:
                runs[server.name], _ = await delivered_phase(
                    args, server, receiver, seconds=args.seconds
                )
            rounds.append(Round(floor, runs))
            print(f"round {number} done", file=sys.stderr)
        paced = None
        if args.paced:
            rate = statistics.median(r.runs["textrelay"].end_to_end_rate for r in rounds) / 2
            _, latencies = await delivered_phase(
                args, servers[0], receiver, seconds=args.paced, rate=rate
            )
            paced = Paced(rate, latencies)
        return rounds, paced
    finally:
        listening.close()
        receiver.close_connections()


def report(
    args: argparse.Namespace, rounds: list[Round], paced: Paced | None, database: str
) -> None:
    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"settings: {args.seconds:g} s a phase, {args.concurrency} connections, {args.rounds} "
        f"rounds, textrelay on {database}, "
        f"{'API and worker processes' if args.split else 'workers on'}, "
        f"{args.processes} serving process(es), "
        f"pinning: {'servers core 0, load + receiver core 1' if can_pin(args) else 'none'}"
        f"{' (textrelay on every core)' if args.processes > 1 else ''}"
    )
    names = list(rounds[0].runs)
    print(
        f"{'round':<7}{'server':<12}{'floor/s':>9}{'creates/s':>11}{'e2e/s':>8}"
        f"{'create×':>9}{'e2e×':>7}{'CPU ms':>8}{'load':>6}{'delivered':>11}{'bad sig':>9}"
    )
    for number, result in enumerate(rounds, start=1):
        for name in names:
            run = result.runs[name]
            print(
                f"{number:<7}{name:<12}{result.floor:>9.0f}{run.create_rate:>11.0f}"
                f"{run.end_to_end_rate:>8.0f}{run.create_rate / result.floor:>9.2f}"
                f"{run.end_to_end_rate / result.floor:>7.2f}{run.cpu_ms_per_delivered:>8.2f}"
                f"{run.load_cpu_share:>6.2f}"
                f"{run.delivered:>6}/{run.created:<5}"
                f"{run.bad_signatures:>8}{'' if run.complete else ' TIMED OUT'}"
            )
    for name in names:
        create = statistics.median(r.runs[name].create_rate / r.floor for r in rounds)
        e2e = statistics.median(r.runs[name].end_to_end_rate / r.floor for r in rounds)
        cpu = statistics.median(r.runs[name].cpu_ms_per_delivered for r in rounds)
        print(
            f"{name}: create with delivery on {create:.2f}× the floor (target ≥ 0.5), "
            f"end to end {e2e:.2f}× (target ≥ 0.25), {cpu:.2f} ms server CPU a delivered "
            "message (medians)"
        )
    if "before" in names:
        ratios = [
            r.runs["textrelay"].cpu_ms_per_delivered / r.runs["before"].cpu_ms_per_delivered
            for r in rounds
        ]
        print(
            "CPU a delivered message, textrelay ÷ before, per round: "
            + ", ".join(f"{ratio:.2f}" for ratio in ratios)
            + f"; median {statistics.median(ratios):.2f} (target ≤ 0.5)"
        )
    if paced is not None:
        latencies = paced.latencies_s
        print(
            f"paced at {paced.rate:.0f}/s (half the median end-to-end rate) for "
            f"{args.paced:g} s: create → delivered p50 {percentile_ms(latencies, 0.5):.1f} ms, "
            f"p90 {percentile_ms(latencies, 0.9):.1f} ms, "
            f"p99 {percentile_ms(latencies, 0.99):.1f} ms "
            f"(targets on SQLite: p50 < 20, p99 < 100), {len(latencies)} messages"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--database-url", default=None, help="postgresql://… (default SQLite)")
    parser.add_argument("--before", default=None, help="src/ of an older checkout to compare")
    parser.add_argument("--paced", type=float, default=0.0, help="seconds of a paced phase")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="serve --processes N, unpinned (the load generator stays on core 1); "
        "1: serve pinned to core 0, as the floor",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="each textrelay as `serve --no-workers` (core 0) and `textrelay worker` (core 1)",
    )
    args = parser.parse_args()
    if not 0 < args.seconds <= 60 or not 0 < args.rounds <= 10:
        parser.error("keep --seconds in (0, 60] and --rounds in (0, 10]")
    if not 1 <= args.processes <= 16:
        parser.error("keep --processes in [1, 16]")
    if not 0 < args.concurrency <= 256 or not 0 <= args.paced <= 60:
        parser.error("keep --concurrency in (0, 256] and --paced in [0, 60]")
    if args.before is not None and not Path(args.before, "textrelay").is_dir():
        parser.error("--before takes the src/ directory of a checkout (holding textrelay/)")

    import tempfile

    import uvloop

    with tempfile.TemporaryDirectory(prefix="textrelay-ratios-") as tmp, ExitStack() as stack:
        floor_server = stack.enter_context(floor(args, tmp))
        servers = []
        for name, src in [("textrelay", None), ("before", args.before)]:
            if name == "before" and src is None:
                continue
            url = stack.enter_context(fresh_database(args))
            servers.append(stack.enter_context(textrelay(args, name, url, src)))
        if can_pin(args):
            os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
        started = time.perf_counter()
        rounds, paced = uvloop.run(measure(args, floor_server, servers))
        print(f"run took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report(args, rounds, paced, "PostgreSQL" if args.database_url else "SQLite")
    complete = all(
        run.complete and not run.bad_signatures for r in rounds for run in r.runs.values()
    )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
