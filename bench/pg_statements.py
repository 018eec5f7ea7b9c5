"""What one message costs PostgreSQL in round trips: statements, transactions and reads.

    .venv/bin/python bench/pg_statements.py [--database-url URL] [--messages 200]

Starts textrelay in this process on a fresh schema of the given PostgreSQL (dropped at the
end), with a status callback receiver on 127.0.0.1, counts every call of the PostgreSQL
adapter while `--messages` messages are created one at a time and delivered (immediate mode,
two callbacks each), and prints the counts per message: transactions (each a BEGIN and a
COMMIT round trip), single-statement writes (one round trip), statements, reads, and the
statements by their first words. A count, not a timing: the same on any machine. Every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import secrets
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textrelay.settings import Settings
from textrelay.storage import postgres
from textrelay.testing import TextrelayServer

COUNTS: collections.Counter[str] = collections.Counter()
STATEMENTS: collections.Counter[str] = collections.Counter()


def _count_calls() -> None:
    """Wrap the adapter's entry points so that each call is counted (this process only)."""
    for name in ("execute", "fetch_one", "fetch_all"):
        original = getattr(postgres.PostgresConnection, name)

        def counted(original: Any = original, name: str = name) -> Callable[..., Any]:
            async def call(self: Any, sql: str, params: Any = None) -> Any:
                COUNTS["statement"] += 1
                STATEMENTS[" ".join(sql.split()[:3])] += 1
                return await original(self, sql, params)

            return call

        setattr(postgres.PostgresConnection, name, counted())
    held = getattr(postgres.PostgresConnection, "send_held_rows", None)
    if held is not None:  # rows held for one multi-row INSERT each (insert_later)

        async def send_held_rows(self: Any) -> None:
            for sql, rows in self._later.items():
                COUNTS["statement"] += 1
                COUNTS["held row"] += len(rows)
                STATEMENTS[" ".join(sql.split()[:3]) + " (held rows)"] += 1
            await held(self)

        postgres.PostgresConnection.send_held_rows = send_held_rows  # type: ignore[method-assign]
    carrying = getattr(postgres.PostgresConnection, "_carrying_held_rows", None)
    if carrying is not None:  # held rows riding with the next write, no statement of their own

        def carry(self: Any, sql: str, params: Any) -> Any:
            for insert, rows in self._later.items():
                COUNTS["held row"] += len(rows)
                STATEMENTS[" ".join(insert.split()[:3]) + " (held rows, carried)"] += 1
            return carrying(self, sql, params)

        postgres.PostgresConnection._carrying_held_rows = carry  # type: ignore[method-assign]
    change = getattr(postgres, "PostgresChange", None)
    if change is not None:  # a one-statement change: its writes go as one statement

        async def send(self: Any, original: Any = change.send) -> None:
            if self._writes or self._later:
                COUNTS["statement"] += 1
                COUNTS["held row"] += sum(len(rows) for rows in self._later.values())
                words = [" ".join(sql.split()[:2]) for sql, _ in self._writes]
                words += [" ".join(sql.split()[:3]) for sql in self._later]
                STATEMENTS["change: " + ", ".join(words)] += 1
            await original(self)

        change.send = send
    for name in ("transaction", "single_statement", "one_statement_change", "read"):
        original = getattr(postgres.PostgresDatabase, name, None)
        if original is None:  # a version of textrelay before it
            continue

        def opened(original: Any = original, name: str = name) -> Callable[..., Any]:
            def call(self: Any) -> Any:
                COUNTS[name] += 1
                return original(self)

            return call

        setattr(postgres.PostgresDatabase, name, opened())


RECEIVED = threading.Semaphore(0)


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.end_headers()
        RECEIVED.release()

    def log_message(self, *args: object) -> None:
        pass


def _with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}search_path={schema}"))


async def _psql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="creates at once (1: one at a time)"
    )
    args = parser.parse_args()
    if not 0 < args.messages <= 5000:
        parser.error("keep --messages in (0, 5000]")
    if not 0 < args.concurrency <= 64:
        parser.error("keep --concurrency in (0, 64]")
    schema = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_psql(args.database_url, f"CREATE SCHEMA {schema}"))
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
    _count_calls()
    counted: tuple[dict[str, int], dict[str, int]] = ({}, {})
    try:
        settings = Settings(database_url=_with_schema(args.database_url, schema), port=0)
        with TextrelayServer(settings) as server:
            client = server.client()
            sender = client.incoming_phone_numbers.create(area_code="415").phone_number
            time.sleep(1.0)  # start-up work done
            COUNTS.clear()
            STATEMENTS.clear()

            def create(n: int) -> None:
                client.messages.create(
                    to=f"+1415555{n:04d}", from_=sender, body="count", status_callback=callback
                )

            with ThreadPoolExecutor(args.concurrency) as creators:
                list(creators.map(create, range(args.messages)))
            deadline = time.monotonic() + 60
            for _ in range(2 * args.messages):  # every callback received, within a minute
                if not RECEIVED.acquire(timeout=max(deadline - time.monotonic(), 0.01)):
                    sys.exit("not every callback arrived within 60 s")
            time.sleep(0.5)  # the last jobs' ends commit after their callbacks are answered
            counted = dict(COUNTS), dict(STATEMENTS)
    finally:
        receiver.shutdown()
        asyncio.run(_psql(args.database_url, f"DROP SCHEMA {schema} CASCADE"))
    calls, statements = counted
    n = args.messages
    trips = 2 * calls.get("transaction", 0) + calls.get("statement", 0)
    at_once = "one at a time" if args.concurrency == 1 else f"{args.concurrency} at a time"
    print(f"{n} messages created {at_once}, each delivered with 2 status callbacks")
    for name in (
        "transaction",
        "single_statement",
        "one_statement_change",
        "statement",
        "held row",
        "read",
    ):
        print(f"{name:>17}: {calls.get(name, 0) / n:6.2f} a message")
    print(f"round trips (BEGIN and COMMIT of each transaction, each statement): {trips / n:.1f}")
    print("statements by their first words, a message:")
    for text, count in collections.Counter(statements).most_common(20):
        print(f"  {count / n:6.2f}  {text}")


if __name__ == "__main__":
    main()
