"""What asyncpg's pool reset costs a transaction, against a pool that skips it.

    .venv/bin/python bench/pg_pool_reset.py [--database-url URL] [--transactions 3000] [--rounds 4]

asyncpg's pool sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` on
every release by default: one more round trip per transaction, and textrelay makes one to a
few dozen transactions a message. This times short transactions (acquire, BEGIN, one
parameterised SELECT, COMMIT, release) with the default reset and with textrelay's (none),
alternating, and prints wall and client CPU microseconds a transaction. Every loop is
bounded in count; the pools are closed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg


async def _no_reset(_conn: asyncpg.Connection) -> None:
    pass


async def _round(url: str, transactions: int, *, reset: bool) -> tuple[float, float]:
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=4, reset=None if reset else _no_reset
    )
    try:
        for _ in range(200):  # warm: connections made, statements prepared
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT $1::int", 1)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(transactions):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT $1::int", 1)
        return (
            (time.perf_counter() - wall) / transactions * 1e6,
            (time.process_time() - cpu) / transactions * 1e6,
        )
    finally:
        await pool.close()


async def _main(args: argparse.Namespace) -> None:
    print(f"{args.transactions} transactions a round, {args.rounds} rounds of each, alternating")
    print(f"{'pool reset':<22}{'wall µs':>10}{'client CPU µs':>16}")
    for _ in range(args.rounds):
        for reset in (True, False):
            wall, cpu = await _round(args.database_url, args.transactions, reset=reset)
            name = "asyncpg's default" if reset else "none (textrelay's)"
            print(f"{name:<22}{wall:>10.0f}{cpu:>16.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if not 0 < args.transactions <= 100_000 or not 0 < args.rounds <= 10:
        parser.error("keep --transactions in (0, 100000] and --rounds in (0, 10]")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
