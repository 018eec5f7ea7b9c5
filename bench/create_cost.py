"""What one message create costs inside the server, without HTTP: textrelay against the floor.

    .venv/bin/python bench/create_cost.py [--creates 20000] [--rounds 3] [--statements]

Builds both ASGI apps in this process (textrelay's own Runtime with workers off, and
bench/floor_app.py), each on a fresh SQLite file, and calls them directly with 16 concurrent
creates like bench/api_throughput.py sends, so the figures leave out uvicorn and the sockets.
Prints microseconds a create for both apps, textrelay's fetch, and with `--statements` how much
of textrelay's create each SQL statement takes (timed around the sqlite3 calls). Pin it to one
core (`taskset -c 0`) to compare with bench/api_throughput.py, whose servers run on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sqlite3
import sys
import tempfile
import time
from base64 import b64encode
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import floor_app
from bench.api_throughput import create_body
from bench.harness import ACCOUNT_SID, AUTH_TOKEN

CONCURRENCY = 16
Asgi = Callable[..., Awaitable[None]]
_AUTH = b"Basic " + b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode())
_MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


async def call(app: Asgi, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request straight into the ASGI app; its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", _AUTH),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    delivered = False
    response: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # nothing more will come; the apps never ask twice
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        else:
            response["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return response["status"], response["body"]


async def per_request_us(make: Callable[[int], Awaitable[None]], count: int) -> float:
    """Microseconds a request, with CONCURRENCY requests in flight."""
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:
            await make(index)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return (time.perf_counter() - started) / count * 1e6


class TimedConnection:
    """A sqlite3 connection whose statements are timed by their first words."""

    def __init__(
        self, conn: sqlite3.Connection, spent: collections.defaultdict[str, float]
    ) -> None:
        self._conn = conn
        self._spent = spent

    def execute(self, sql: str, params: Any = ()) -> Any:
        started = time.perf_counter()
        cursor = self._conn.execute(sql, params)
        rows = cursor.fetchall() if sql.lstrip().upper().startswith("SELECT") else None
        self._spent[" ".join(sql.split()[:3])] += time.perf_counter() - started
        return _Done(cursor.rowcount, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _Done:
    def __init__(self, rowcount: int, rows: list[Any] | None) -> None:
        self.rowcount = rowcount
        self._rows = rows or []

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


async def measure(args: argparse.Namespace, spent: collections.defaultdict[str, float]) -> None:
    from textrelay.app import Runtime
    from textrelay.settings import Settings

    with tempfile.TemporaryDirectory(prefix="textrelay-bench-") as tmp:
        floor = floor_app.build(f"{tmp}/floor.db", "NORMAL")
        settings = Settings(
            database_url=f"sqlite:///{tmp}/textrelay.db",
            workers=False,
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
        )
        runtime = await Runtime.start(settings)
        try:
            numbers = f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"
            status, body = await call(runtime.app, "POST", numbers, b"AreaCode=415")
            assert status == 201, body
            sender = orjson.loads(body)["phone_number"]

            def creating(app: Asgi) -> Callable[[int], Awaitable[None]]:
                async def create(index: int) -> None:
                    status, body = await call(app, "POST", _MESSAGES, create_body(index, sender))
                    assert status == 201, body

                return create

            await per_request_us(creating(floor), 2000)  # warm up both
            await per_request_us(creating(runtime.app), 2000)
            status, body = await call(runtime.app, "POST", _MESSAGES, create_body(0, sender))
            fetch_path = _MESSAGES.replace(".json", f"/{orjson.loads(body)['sid']}.json")

            async def fetch(_: int) -> None:
                status, body = await call(runtime.app, "GET", fetch_path)
                assert status == 200, body

            print(
                f"{'round':<7}{'floor create':>14}{'textrelay create':>18}{'fetch':>8}{'ratio':>7}"
            )
            spent.clear()
            for round_number in range(1, args.rounds + 1):
                floor_us = await per_request_us(creating(floor), args.creates)
                textrelay_us = await per_request_us(creating(runtime.app), args.creates)
                fetch_us = await per_request_us(fetch, args.creates)
                print(
                    f"{round_number:<7}{floor_us:>11.1f} µs{textrelay_us:>15.1f} µs"
                    f"{fetch_us:>5.1f} µs{floor_us / textrelay_us:>7.2f}"
                )
        finally:
            await runtime.close()
    if args.statements:
        creates = args.creates * args.rounds
        print("textrelay's SQL a create (the rounds' creates and fetches, over the creates):")
        for statement, seconds in sorted(spent.items(), key=lambda item: -item[1])[:10]:
            print(f"  {seconds / creates * 1e6:7.2f} µs  {statement}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=20_000, help="creates a round and app")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--statements", action="store_true", help="time textrelay's SQL statements too"
    )
    args = parser.parse_args()
    if not 0 < args.creates <= 500_000 or not 0 < args.rounds <= 10:
        parser.error("keep --creates in (0, 500000] and --rounds in (0, 10]")
    spent: collections.defaultdict[str, float] = collections.defaultdict(float)
    if args.statements:
        from textrelay.storage import sqlite as sqlite_storage

        open_plain = sqlite_storage._open

        def open_timed(*a: Any, **k: Any) -> Any:
            return TimedConnection(open_plain(*a, **k), spent)

        sqlite_storage._open = open_timed

    import uvloop

    uvloop.run(measure(args, spent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
