"""The console's log with a million messages: how long its pages take on the server.

    .venv/bin/python bench/console_log.py                 # 1,000,000 messages
    .venv/bin/python bench/console_log.py --messages 200000

Fills a fresh SQLite database through textrelay's own migrations with N messages of one
account (bulk inserts, not the API: the API would take an hour), starts `textrelay serve` on
it, and times the log's pages: the first page, a deep page (following "Older" links), and the
filters. "server ms" is the app's own time from the Server-Timing header; "total ms" adds HTTP
and rendering on the wire.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "AC" + "ab" * 16
AUTH_TOKEN = "cd" * 16
START_TIMEOUT_S = 60.0
REPEATS = 7
STATUSES = ["delivered"] * 90 + ["undelivered"] * 4 + ["failed"] * 3 + ["sent"] * 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def migrate(url: str) -> None:
    env = {**os.environ, "TEXTRELAY_LOG_LEVEL": "warning"}
    subprocess.run(
        [sys.executable, "-m", "textrelay", "migrate", "--database-url", url],
        check=True,
        env=env,
        capture_output=True,
        timeout=60,
    )


def fill(path: Path, count: int) -> float:
    """Insert `count` messages (and the account); seconds taken."""
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now_us = int(time.time() * 1_000_000)
    conn.execute(
        "INSERT INTO accounts (sid, owner_account_sid, friendly_name, status, type, auth_token, "
        "date_created, date_updated) VALUES (?, ?, 'bench', 'active', 'Full', ?, ?, ?)",
        (ACCOUNT_SID, ACCOUNT_SID, AUTH_TOKEN, now_us, now_us),
    )
    draw = random.Random(7)
    senders = [f"+1415555{n:04d}" for n in range(20)]
    batch: list[tuple[object, ...]] = []
    for index in range(count):
        created = now_us - (count - index) * 1_000_000
        status = draw.choice(STATUSES)
        error = {"undelivered": 30003, "failed": 30008}.get(status)
        batch.append(
            (
                "SM" + secrets.token_hex(16),
                ACCOUNT_SID,
                "outbound-api",
                status,
                draw.choice(senders),
                f"+1212{draw.randrange(10**7):07d}",
                f"Your code is {draw.randrange(10**6):06d}",
                1,
                0,
                error,
                created,
                created,
                created,
            )
        )
        if len(batch) == 20_000:
            _insert(conn, batch)
            batch.clear()
    if batch:
        _insert(conn, batch)
    conn.close()
    return time.perf_counter() - started


def _insert(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO messages (sid, account_sid, direction, status, from_addr, to_addr, body, "
        "num_segments, num_media, error_code, price_unit, tags, options, date_created, "
        "date_updated, date_sent) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'USD', '{}', '{}', ?, ?, ?)",
        rows,
    )
    conn.commit()


def timed(client: httpx.Client, path: str) -> tuple[float, float, str]:
    """(server ms, total ms, body) of one GET, the median of REPEATS."""
    server, total, body = [], [], ""
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(path)
        total.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        match = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
        server.append(float(match.group(1)) if match else float("nan"))
        body = response.text
    return statistics.median(server), statistics.median(total), body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    if not 1 <= args.messages <= 5_000_000:
        parser.error("--messages between 1 and 5,000,000")
    with tempfile.TemporaryDirectory(prefix="textrelay-console-bench-") as tmp:
        db = Path(tmp) / "textrelay.db"
        url = f"sqlite:///{db}"
        migrate(url)
        fill_s = fill(db, args.messages)
        port = free_port()
        env = {
            **os.environ,
            "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
            "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
            "TEXTRELAY_LOG_LEVEL": "warning",
            "TEXTRELAY_WORKERS": "false",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "textrelay",
                "serve",
                "--port",
                str(port),
                "--database-url",
                url,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    httpx.get(f"{base}/console/", timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            with httpx.Client(base_url=base, timeout=30) as client:
                rows = []
                server_ms, total_ms, page = timed(client, "/console/")
                rows.append(("first page", server_ms, total_ms))
                for _ in range(20):  # 20 pages deep through the "Older" links
                    older = re.search(r'href="(/console/\?[^"]*before=\d+)"', page)
                    if older is None:
                        break
                    page = client.get(older.group(1).replace("&amp;", "&")).text
                deep = re.search(r'href="(/console/\?[^"]*before=\d+)"', page)
                if deep is not None:
                    server_ms, total_ms, _ = timed(client, deep.group(1).replace("&amp;", "&"))
                    rows.append(("page 21 (keyset)", server_ms, total_ms))
                for label, query in (
                    ("status=failed", "status=failed"),
                    ("error_code=30003", "error_code=30003"),
                    ("from=+14155550007", "from=%2B14155550007"),
                    ("body contains 424242", "q=424242"),
                ):
                    server_ms, total_ms, _ = timed(client, f"/console/?{query}")
                    rows.append((label, server_ms, total_ms))
        finally:
            server.terminate()
            server.wait(10)
    print(f"messages: {args.messages:,} (filled in {fill_s:.1f} s), SQLite, median of {REPEATS}")
    print(f"{'page':<26}{'server ms':>11}{'total ms':>11}")
    for label, server_ms, total_ms in rows:
        print(f"{label:<26}{server_ms:>11.1f}{total_ms:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
