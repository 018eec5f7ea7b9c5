"""End-to-end delivery: message create → simulated carrier → signed status callbacks received.

    .venv/bin/python bench/e2e_delivery.py [--seconds 10] [--concurrency 8] [--rate R]

Starts textrelay (`textrelay serve`, fresh SQLite file, or a fresh schema of the PostgreSQL
given with --database-url) on a free port of 127.0.0.1, and in this process a callback receiver
(a minimal keep-alive HTTP/1.1 server on asyncio that answers 200 at once and checks the
X-Twilio-Signature of every callback against the URL it was sent to). Provisions a sender,
warms up, then creates messages for `--seconds` on `--concurrency` keep-alive connections,
back to back or paced at `--rate` creates/s, each with a StatusCallback at the receiver; then
waits (bounded by --drain-timeout) until every message's `delivered` callback has arrived.
Prints creates/s, end-to-end throughput (delivered callbacks / time from first create to last
delivered callback), create→callback latency percentiles, signature failures, missing
callbacks and callbacks per message. textrelay runs on core 0 and this process (generator and
receiver) on core 1 when `taskset` exists. Every loop is bounded in count and time; the
script stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
import platform
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote

import orjson

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    can_pin,
    exchange,
    free_port,
    on_every_core,
    pinned,
    request_bytes,
    running,
)
from textrelay.domain.webhooks import twilio_signature

MAX_CREATES = 2_000_000
MAX_REQUESTS_PER_CONNECTION = 10_000_000
MAX_CONNECTIONS_TO_RECEIVER = 1_000
DRAIN_POLL_S = 0.02
CALLBACK_PATH = "/status/e2e?run=measure"
WARMUP_PATH = "/status/e2e?run=warmup"
WARMUP_RATE = 100.0
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


# --- processes (the rest is in bench/harness.py) ---------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of `pid` and of its children alive now (the serving
    processes of a `serve --processes N`); Linux /proc, NaN elsewhere."""
    return sum(cpu_by_process(pid).values())


def cpu_by_process(pid: int) -> dict[int, float]:
    """CPU seconds so far of `pid` and of each of its children alive now, by pid."""
    try:
        children = [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        children = []
    return {p: _own_cpu_seconds(p) for p in (pid, *children)}


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema of the PostgreSQL at `url` for the run, dropped afterwards."""
    import asyncpg

    schema = f"textrelay_bench_{secrets.token_hex(6)}"

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        asyncio.run(execute(f"DROP SCHEMA {schema} CASCADE"))


# --- the client side --------------------------------------------------------------------------


async def provision_sender(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"
    try:
        status, body = await exchange(
            reader, writer, request_bytes("POST", path, port, b"AreaCode=415")
        )
    finally:
        writer.close()
    if status != 201:
        raise RuntimeError(f"could not provision a sender: {status} {body!r}")
    number: str = orjson.loads(body)["phone_number"]
    return number


def create_body(index: int, sender: str, callback_url: str) -> bytes:
    # +1415555XXXX: ordinary numbers (not the failing +1555… nor the magic +1500555…).
    return (
        f"To=%2B1415555{index % 10000:04d}&From={quote(sender, safe='')}"
        f"&Body=Your+code+is+{index % 1000000:06d}&StatusCallback={quote(callback_url, safe='')}"
    ).encode()


@dataclass
class Creates:
    sent_at: dict[str, float] = field(default_factory=dict)
    """perf_counter() when each create was sent, by the SID it got."""
    latencies_s: list[float] = field(default_factory=list)
    first_sent: float = float("nan")
    elapsed_s: float = 0.0
    errors: int = 0
    """Creates not answered 201, refusals included."""
    refused: int = 0
    """Creates answered 429 (the account's backlog limit, TEXTRELAY_ACCOUNT_BACKLOG_LIMIT)."""
    late: int = 0
    """Paced creates sent more than 10 ms after their slot (the generator fell behind)."""

    @property
    def rate(self) -> float:
        return len(self.sent_at) / self.elapsed_s if self.elapsed_s else 0.0


async def create_messages(
    port: int,
    make: Callable[[int], bytes],
    *,
    seconds: float,
    concurrency: int,
    rate: float | None,
) -> Creates:
    """`concurrency` keep-alive connections creating messages back to back, or paced so that
    create `i` goes out at `i / rate` seconds (whichever connection is free takes it)."""
    creates = Creates()
    counter = iter(range(MAX_CREATES))
    started = time.perf_counter()
    creates.first_sent = started
    deadline = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for index in counter:
                now = time.perf_counter()
                if rate is not None:
                    slot = started + index / rate
                    if slot >= deadline:
                        break
                    if slot > now:
                        await asyncio.sleep(slot - now)
                    elif now - slot > 0.01:
                        creates.late += 1
                elif now >= deadline:
                    break
                sent = time.perf_counter()
                status, body = await exchange(reader, writer, make(index))
                creates.latencies_s.append(time.perf_counter() - sent)
                if status != 201:
                    creates.errors += 1
                    creates.refused += status == 429
                    continue
                creates.sent_at[orjson.loads(body)["sid"]] = sent
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    creates.elapsed_s = time.perf_counter() - started
    return creates


# --- the callback receiver --------------------------------------------------------------------


@dataclass
class Receiver:
    """Status callbacks as they arrive: each signature checked, arrival times by SID."""

    port: int
    auth_token: str
    paths: frozenset[str]
    callbacks: int = 0
    bad_signatures: int = 0
    wrong_path: int = 0
    malformed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    per_sid: Counter[str] = field(default_factory=Counter)
    sent_at: dict[str, float] = field(default_factory=dict)
    """perf_counter() when each SID's `sent` callback arrived (the first, if repeated)."""
    delivered_at: dict[str, float] = field(default_factory=dict)
    repeated_delivered: int = 0
    connections: int = 0
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > MAX_CONNECTIONS_TO_RECEIVER:
            writer.close()
            return
        self._writers.add(writer)
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the peer closed between requests
                arrived = time.perf_counter()
                lines = head.split(b"\r\n")
                parts = lines[0].split(b" ")
                length = 0
                signature = b""
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-twilio-signature":
                        signature = value.strip()
                if len(parts) != 3 or parts[0] != b"POST":
                    self.malformed += 1
                    writer.write(BAD_REQUEST)
                    return
                body = await reader.readexactly(length) if length else b""
                writer.write(OK)
                self._record(parts[1].decode("latin-1"), signature, body, arrived)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.malformed += 1
        finally:
            self._writers.discard(writer)
            writer.close()

    def _record(self, target: str, signature: bytes, body: bytes, arrived: float) -> None:
        self.callbacks += 1
        if target not in self.paths:
            self.wrong_path += 1
        params = parse_qsl(body.decode(), keep_blank_values=True)
        # The URL Twilio signs is the one it called (the StatusCallback, query included).
        expected = twilio_signature(
            self.auth_token, f"http://127.0.0.1:{self.port}{target}", params
        )
        if not hmac.compare_digest(expected.encode(), signature):
            self.bad_signatures += 1
        values = dict(params)
        sid = values.get("MessageSid", "")
        status = values.get("MessageStatus", "")
        self.statuses[status] += 1
        self.per_sid[sid] += 1
        if status == "sent":
            self.sent_at.setdefault(sid, arrived)
        elif status == "delivered":
            if sid in self.delivered_at:
                self.repeated_delivered += 1
            else:
                self.delivered_at[sid] = arrived

    def close_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()


async def wait_for_callbacks(
    receiver: Receiver, sids: list[str], timeout_s: float
) -> tuple[float, bool]:
    """Until every SID has both its callbacks, or `timeout_s`; (seconds waited, complete)."""
    started = time.perf_counter()
    pending = list(sids)
    for _ in range(int(timeout_s / DRAIN_POLL_S) + 1):
        pending = [sid for sid in pending if receiver.per_sid[sid] < 2]
        if not pending:
            return time.perf_counter() - started, True
        if time.perf_counter() - started >= timeout_s:
            break
        await asyncio.sleep(DRAIN_POLL_S)
    return time.perf_counter() - started, False


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Run:
    creates: Creates
    receiver: Receiver
    waited_s: float
    complete: bool
    server_cpu_s: float
    bench_cpu_s: float
    wall_s: float
    warmup_callbacks: int
    warmup_messages: int
    """Messages created (201) in the warm-up."""
    cpu_by_process: dict[int, float] = field(default_factory=dict)
    """The server's CPU seconds over the run by process (supervisor and serving processes)."""


async def measure(args: argparse.Namespace, server_port: int, server_pid: int) -> Run:
    receiver_port = free_port()
    receiver = Receiver(
        port=receiver_port, auth_token=AUTH_TOKEN, paths=frozenset({CALLBACK_PATH, WARMUP_PATH})
    )
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver_port)
    try:
        messages = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        sender = await provision_sender(server_port)

        def creates(path: str) -> Callable[[int], bytes]:
            url = f"http://127.0.0.1:{receiver_port}{path}"
            return lambda i: request_bytes(
                "POST", messages, server_port, create_body(i, sender, url)
            )

        warmup = await create_messages(
            server_port,
            creates(WARMUP_PATH),
            seconds=args.warmup,
            concurrency=args.concurrency,
            rate=WARMUP_RATE,
        )
        await wait_for_callbacks(receiver, list(warmup.sent_at), args.drain_timeout)
        warmup_callbacks = receiver.callbacks

        split_before, bench_before = cpu_by_process(server_pid), time.process_time()
        wall_before = time.perf_counter()
        created = await create_messages(
            server_port,
            creates(CALLBACK_PATH),
            seconds=args.seconds,
            concurrency=args.concurrency,
            rate=args.rate,
        )
        waited, complete = await wait_for_callbacks(
            receiver, list(created.sent_at), args.drain_timeout
        )
        wall = time.perf_counter() - wall_before
        bench_cpu = time.process_time() - bench_before
        split = {
            pid: seconds - split_before.get(pid, 0.0)
            for pid, seconds in cpu_by_process(server_pid).items()
        }
        server_cpu = sum(split.values())
        return Run(
            created,
            receiver,
            waited,
            complete,
            server_cpu,
            bench_cpu,
            wall,
            warmup_callbacks,
            len(warmup.sent_at),
            split,
        )
    finally:
        server.close()
        receiver.close_connections()


def percentile_ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


@dataclass(frozen=True)
class Summary:
    """A run's figures, as `report` prints them (and bench/e2e_smpp.py compares them)."""

    sids: list[str]
    delivered: list[str]
    sent: list[str]
    to_delivered: list[float]
    to_sent: list[float]
    span_s: float
    """First create → last `delivered` callback."""
    end_to_end_per_s: float
    measured_callbacks: int
    out_of_order: int

    @property
    def callbacks_per_message(self) -> float:
        return self.measured_callbacks / len(self.sids) if self.sids else float("nan")


def summarize(run: Run) -> Summary:
    created, receiver = run.creates, run.receiver
    sids = list(created.sent_at)
    delivered = [sid for sid in sids if sid in receiver.delivered_at]
    sent = [sid for sid in sids if sid in receiver.sent_at]
    last_delivered = max((receiver.delivered_at[sid] for sid in delivered), default=float("nan"))
    span = last_delivered - created.first_sent
    return Summary(
        sids=sids,
        delivered=delivered,
        sent=sent,
        to_delivered=[receiver.delivered_at[sid] - created.sent_at[sid] for sid in delivered],
        to_sent=[receiver.sent_at[sid] - created.sent_at[sid] for sid in sent],
        span_s=span,
        end_to_end_per_s=len(delivered) / span if delivered and span > 0 else 0.0,
        measured_callbacks=sum(receiver.per_sid[sid] for sid in sids),
        out_of_order=sum(
            1
            for sid in delivered
            if sid in receiver.sent_at and receiver.sent_at[sid] > receiver.delivered_at[sid]
        ),
    )


def server_cpu_ms_per_message(run: Run) -> float:
    messages = len(run.creates.sent_at)
    return run.server_cpu_s * 1000 / messages if messages else float("nan")


def report(args: argparse.Namespace, run: Run, database: str) -> None:
    created, receiver = run.creates, run.receiver
    summary = summarize(run)
    sids, delivered, sent = summary.sids, summary.delivered, summary.sent
    to_delivered, to_sent = summary.to_delivered, summary.to_sent
    span, e2e = summary.span_s, summary.end_to_end_per_s
    measured_callbacks, out_of_order = summary.measured_callbacks, summary.out_of_order

    print(
        f"machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    load = f"paced at {args.rate:g}/s" if args.rate else "back to back"
    print(
        f"settings: {args.seconds:g} s of creates, {args.concurrency} connections, {load}, "
        f"database {database}, "
        f"pinning: {'server core 0, load + receiver core 1' if can_pin(args) else 'none'}"
    )
    print(
        f"{'what':<30}{'count':>8}{'per s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}"
    )
    rows = [
        ("create (request → 201)", created.latencies_s, created.rate, created.errors),
        ("create → `sent` callback", to_sent, float("nan"), len(sids) - len(sent)),
        ("create → `delivered` callback", to_delivered, e2e, len(sids) - len(delivered)),
    ]
    for name, values, per_s, errors in rows:
        print(
            f"{name:<30}{len(values):>8}{per_s:>9.0f}{percentile_ms(values, 0.5):>9.1f}"
            f"{percentile_ms(values, 0.9):>9.1f}{percentile_ms(values, 0.99):>9.1f}"
            f"{percentile_ms(values, 1.0):>9.1f}{errors:>8}"
        )
    tenths = by_creation_order(created.sent_at, receiver.delivered_at)
    if tenths:
        print(
            "create → `delivered` p50 ms by creation order (tenths, first created first): "
            + " ".join(f"{value:.0f}" for value in tenths)
        )
    print(
        f"creates: {len(sids)} in {created.elapsed_s:.2f} s = {created.rate:.0f}/s"
        + (f" ({created.late} sent >10 ms after their slot)" if args.rate else "")
        + (f"; {created.refused} refused 429" if created.refused else "")
    )
    print(
        f"end to end: {len(delivered)} delivered callbacks in {span:.2f} s (first create → last "
        f"delivered callback) = {e2e:.0f} messages/s; drain after the last create "
        f"{run.waited_s:.2f} s{'' if run.complete else ' (TIMED OUT)'}"
    )
    print(
        f"callbacks: {measured_callbacks} for {len(sids)} messages = "
        f"{summary.callbacks_per_message:.3f} per message "
        f"(expect 2: sent, delivered); statuses {dict(receiver.statuses)} "
        f"(warm-up included: {run.warmup_callbacks}); delivered before sent: {out_of_order}; "
        f"repeated delivered: {receiver.repeated_delivered}"
    )
    print(
        f"signature failures: {receiver.bad_signatures} of {receiver.callbacks} callbacks; "
        f"wrong path: {receiver.wrong_path}; malformed: {receiver.malformed}; missing "
        f"`delivered`: {len(sids) - len(delivered)}; missing `sent`: {len(sids) - len(sent)}; "
        f"receiver connections: {receiver.connections}"
    )
    print(
        f"CPU over {run.wall_s:.2f} s: textrelay {run.server_cpu_s:.2f} s "
        f"({run.server_cpu_s / run.wall_s:.0%} of a core, "
        f"{server_cpu_ms_per_message(run):.2f} ms a message), "
        "load generator + receiver "
        f"{run.bench_cpu_s:.2f} s ({run.bench_cpu_s / run.wall_s:.0%})"
    )
    if len(run.cpu_by_process) > 1:
        print(
            "textrelay CPU by process (s; the first is the supervisor): "
            + ", ".join(f"{seconds:.2f}" for seconds in run.cpu_by_process.values())
        )


def by_creation_order(sent_at: dict[str, float], delivered_at: dict[str, float]) -> list[float]:
    """The create → `delivered` p50 of each tenth of the messages, in the order they were
    created: under overload, whether early messages keep moving or wait behind later ones."""
    order = sorted((at, sid) for sid, at in sent_at.items() if sid in delivered_at)
    if len(order) < 10:
        return []
    size = len(order) / 10
    tenths = [order[round(i * size) : round((i + 1) * size)] for i in range(10)]
    return [percentile_ms([delivered_at[sid] - at for at, sid in tenth], 0.5) for tenth in tenths]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a run (bench/e2e_smpp.py adds its own to these)."""
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to create messages")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument(
        "--rate", type=float, default=None, help="creates per second (default: back to back)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help=f"seconds of warm-up at {WARMUP_RATE:g}/s"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        help="how long to wait for the callbacks after the last create",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://… to run against PostgreSQL (a fresh schema, dropped afterwards); "
        "default: a fresh SQLite file",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="serve --processes N, unpinned (load generator and receiver stay on core 1)",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="server on core 0, load generator and receiver on core 1 (needs taskset)",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 0 < args.seconds <= 120 or not 0 < args.concurrency <= 256:
        parser.error("keep --seconds in (0, 120] and --concurrency in (0, 256]")
    if args.rate is not None and not 0 < args.rate <= 100_000:
        parser.error("keep --rate in (0, 100000]")
    if not 0 <= args.warmup <= 30 or not 0 < args.drain_timeout <= 600:
        parser.error("keep --warmup in [0, 30] and --drain-timeout in (0, 600]")
    if args.database_url and not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url takes a postgresql:// URL (SQLite is the default)")


def database_name(args: argparse.Namespace) -> str:
    return "PostgreSQL" if args.database_url else "SQLite"


@contextmanager
def fresh_database(args: argparse.Namespace) -> Iterator[str]:
    """The URL of an empty database for one server: a SQLite file in a temporary directory,
    or a fresh schema of --database-url; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="textrelay-e2e-") as tmp:
        if args.database_url:
            with postgres_schema(args.database_url) as url:
                yield url
        else:
            yield f"sqlite:///{tmp}/textrelay.db"


def pin_this_process(args: argparse.Namespace) -> None:
    """Load generator and receiver (and what this process starts later) on core 1."""
    if can_pin(args):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})


@contextmanager
def textrelay_server(
    args: argparse.Namespace, database_url: str, extra: tuple[str, ...] = ()
) -> Iterator[tuple[int, int]]:
    """`textrelay serve` on a free port of 127.0.0.1 (on core 0 when pinning), with `extra`
    options, until the block ends; yields (port, pid) once it listens."""
    port = free_port()
    env = {
        **os.environ,
        "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
        "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
        "TEXTRELAY_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-m",
        "textrelay",
        "serve",
        "--port",
        str(port),
        "--database-url",
        database_url,
        *extra,
    ]
    if getattr(args, "processes", 1) > 1:
        command = on_every_core(args, [*command, "--processes", str(args.processes)])
    else:
        command = pinned(args, 0, command)
    with running(command, port, env) as pid:
        yield port, pid


def run_measure(args: argparse.Namespace, port: int, pid: int) -> Run:
    """`measure` on a uvloop event loop of its own."""
    import uvloop

    return uvloop.run(measure(args, port, pid))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    args = parser.parse_args()
    check_arguments(parser, args)

    with fresh_database(args) as database_url:
        pin_this_process(args)
        with textrelay_server(args, database_url) as (port, pid):
            run = run_measure(args, port, pid)
        report(args, run, database_name(args))
    return 0 if run.complete and not run.receiver.bad_signatures else 1


if __name__ == "__main__":
    sys.exit(main())
