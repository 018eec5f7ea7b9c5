"""Nothing accepted is lost: SIGKILL mid-flight, restart, and every message and every promised
callback still arrives. Several worker processes on one PostgreSQL run each job once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import asyncpg
from twilio.rest import Client

from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.client import client as make_client

FINAL = {"delivered", "undelivered", "failed"}


def _client(server: ServerProcess) -> Client:
    return make_client(server.base_url, ACCOUNT_SID, AUTH_TOKEN)


def _remaining_jobs(database_url: str) -> int:
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            return count

    async def count_pg() -> int:
        base, _, query = database_url.partition("?search_path=")
        conn = await asyncpg.connect(base, server_settings={"search_path": query})
        try:
            return int(await conn.fetchval("SELECT COUNT(*) FROM jobs"))
        finally:
            await conn.close()

    return asyncio.run(count_pg())


def _no_job_left_behind(database_url: str) -> None:
    eventually(
        lambda: _remaining_jobs(database_url),
        until=lambda count: count == 0,
        timeout_s=10,
        interval_s=0.1,
        what="no job left behind",
    )


def test_sigkill_mid_flight_loses_no_message_and_no_callback(
    fresh_database: Callable[[], str], receiver: Receiver, tmp_path: Path
) -> None:
    url = fresh_database()
    simulator = tmp_path / "simulator.toml"
    simulator.write_text('mode = "timed"\nsend_delay_ms = 300\ndelivery_delay_ms = 1200\n')
    settings = {"job_lease_s": "2", "simulator_config": str(simulator)}
    first = ServerProcess(url, log_path=tmp_path / "first.log", **settings).start()
    try:
        client = _client(first)
        sender = client.incoming_phone_numbers.create(area_code="415").phone_number
        callback = receiver.url("/slow/100")
        sids = [
            client.messages.create(
                to=f"+14155551{i:03d}", from_=sender, body=f"m{i}", status_callback=callback
            ).sid
            for i in range(40)
        ]
        # Once the first callback lands, some are sent, some queued, some callbacks are on
        # the wire: now crash.
        receiver.wait_for(lambda rs: len(rs) > 0)
    finally:
        first.kill()
    done_before_restart = {
        r.params["MessageSid"] for r in receiver.requests if r.params["MessageStatus"] in FINAL
    }

    second = ServerProcess(url, log_path=tmp_path / "second.log", **settings).start()
    try:
        client = _client(second)
        eventually(
            lambda: all(client.messages(sid).fetch().status in FINAL for sid in sids),
            timeout_s=30,
            interval_s=0.1,
            what="every message reaches a final status",
        )

        def missing_callbacks() -> set[tuple[str, str]]:
            seen = {(r.params["MessageSid"], r.params["MessageStatus"]) for r in receiver.requests}
            return {(sid, s) for sid in sids for s in ("sent", "delivered")} - seen

        eventually(
            missing_callbacks,
            until=lambda missing: not missing,
            timeout_s=30,
            interval_s=0.1,
            what="a sent and a delivered callback for every message",
        )
        _no_job_left_behind(url)
    finally:
        second.stop()

    assert len(done_before_restart) < len(sids), "the crash came after everything was done"
    assert all(r.valid_for(AUTH_TOKEN) for r in receiver.requests)


def test_two_worker_processes_share_one_queue(
    fresh_database: Callable[[], str],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    url = fresh_database()
    # The first process creates the schema; the second starts once it exists.
    one = ServerProcess(url, log_path=tmp_path / "one.log").start()
    two = ServerProcess(url, log_path=tmp_path / "two.log").start()
    try:
        clients = [_client(one), _client(two)]
        sender = clients[0].incoming_phone_numbers.create(area_code="415").phone_number
        sids = [
            clients[i % 2]
            .messages.create(
                to=f"+14155552{i:03d}", from_=sender, body=f"m{i}", status_callback=receiver.url()
            )
            .sid
            for i in range(120)
        ]
        receiver.wait_for(lambda rs: len(rs) >= 2 * len(sids), timeout_s=30)
        _no_job_left_behind(url)
    finally:
        # A stopping process finishes the jobs in hand (workers/runner.py, _drain): once both
        # have stopped, a duplicate, if any, has arrived.
        one.stop()
        two.stop()

    runs = Counter((r.params["MessageSid"], r.params["MessageStatus"]) for r in receiver.requests)
    assert set(runs) == {(sid, s) for sid in sids for s in ("sent", "delivered")}
    assert set(runs.values()) == {1}, "a callback job ran twice"
