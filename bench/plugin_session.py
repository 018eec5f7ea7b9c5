"""What a test session pays for the pytest plugin's server: on a SQLite file, and in memory.

    .venv/bin/python bench/plugin_session.py [--rounds 5] [--messages 200]

Each round runs, for each database in turn, what a session of `textrelay` fixtures does: the
server starts (`TextrelayServer`: migrations, the main account), a fresh account with a
number (the fixture's per-test work), `--messages` creates through the official twilio
client one after another, as a test sends them, every message waited for until `delivered`,
and the server stops. The file is a fresh one in a temporary directory, as the plugin made
before it defaulted to `sqlite:///:memory:`. Prints the median of each phase over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textrelay.settings import Settings
from textrelay.testing import TextrelayServer

PHASES = ("start", "account", "creates", "delivered", "stop", "session")


def _session(database_url: str, messages: int) -> dict[str, float]:
    took: dict[str, float] = {}
    clock = time.perf_counter

    def timed(phase: str, step: Callable[[], object]) -> None:
        began = clock()
        step()
        took[phase] = clock() - began

    server = TextrelayServer(Settings(database_url=database_url))
    began = clock()
    timed("start", server.start)
    account = server.new_account("bench")
    client = server.client(account)
    with server.control(account) as control:
        sender: list[str] = []
        timed(
            "account",
            lambda: sender.append(
                str(client.incoming_phone_numbers.create(area_code="415").phone_number)
            ),
        )
        sids: list[str] = []

        def create() -> None:
            for index in range(messages):
                to = f"+1415555{index % 10_000:04d}"
                sids.append(client.messages.create(to=to, from_=sender[0], body="x").sid)

        def delivered() -> None:
            for sid in sids:
                assert control.wait_until_final(sid, timeout_s=30) == "delivered"

        timed("creates", create)
        timed("delivered", delivered)
    timed("stop", server.stop)
    took["session"] = clock() - began
    return took


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both (1-20)")
    parser.add_argument("--messages", type=int, default=200, help="creates a session (1-2000)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20:
        parser.error("keep --rounds in [1, 20]")
    if not 1 <= args.messages <= 2000:
        parser.error("keep --messages in [1, 2000]")
    runs: dict[str, list[dict[str, float]]] = {"file": [], "memory": []}
    with tempfile.TemporaryDirectory(prefix="textrelay-bench-") as directory:
        for round_ in range(args.rounds):
            path = Path(directory) / f"round-{round_}.db"
            runs["file"].append(_session(f"sqlite:///{path}", args.messages))
            runs["memory"].append(_session("sqlite:///:memory:", args.messages))
    print(f"median of {args.rounds} rounds, {args.messages} creates a session (ms)")
    print(f"{'database':<8}" + "".join(f"{phase:>11}" for phase in PHASES) + "  per create")
    for name, rounds in runs.items():
        medians = {p: statistics.median(r[p] for r in rounds) * 1000 for p in PHASES}
        per_create = medians["creates"] / args.messages
        print(
            f"{name:<8}" + "".join(f"{medians[p]:>11.1f}" for p in PHASES) + f"  {per_create:10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
