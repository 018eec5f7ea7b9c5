"""The floor: the least a Python server can do for a message create here.

Starlette on uvicorn (uvloop, httptools), the same SQLite settings as textrelay (WAL, the same
`synchronous`, one connection used on the loop thread), and nothing else: parse the form,
insert one row, answer a small JSON 201. bench/api_throughput.py measures textrelay against it.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from urllib.parse import parse_qsl

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(db_path: str, synchronous: str) -> Starlette:
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, to_addr TEXT, "
        "from_addr TEXT, body TEXT, date_created INTEGER)"
    )

    async def create(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "INSERT INTO messages (to_addr, from_addr, body, date_created) VALUES (?, ?, ?, ?)",
            (form.get("To"), form.get("From"), form.get("Body"), time.time_ns() // 1000),
        )
        conn.execute("COMMIT")
        return Response(
            orjson.dumps({"id": cursor.lastrowid, "status": "queued"}),
            status_code=201,
            media_type="application/json",
        )

    return Starlette(
        routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--sqlite-synchronous", default="NORMAL")
    args = parser.parse_args()
    uvicorn.run(
        build(args.db, args.sqlite_synchronous.upper()),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
