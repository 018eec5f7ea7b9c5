"""`serve` on several processes (textrelay/supervisor.py, issue 16 #2): N serving processes
share the port (a socket each) and the database, each with its own job runner; every message is
delivered once, a serving process that dies is replaced without losing what it held, and
stopping or killing `serve` stops all of it."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.console_login import sign_in
from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.client import client as make_client

_ACCOUNT_FETCHED = re.compile(
    r'textrelay_http_requests_total\{method="GET",route="[^"]*\{[a-z_]+\}\.json",status="200"\} '
    r"(\d+)"
)
_CREATED = re.compile(
    r'textrelay_http_requests_total\{method="POST",route="[^"]*Messages\.json",status="201"\} '
    r"(\d+)"
)


def _two_free_ports() -> int:
    """A port p of 127.0.0.1 such that p and p + 1 are free now."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no two free ports in a row")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _created_on(metrics_port: int) -> int:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(int(n) for n in _CREATED.findall(text))


@pytest.fixture
def two_processes(
    fresh_database: Callable[[], str], tmp_path: Path
) -> Iterator[tuple[ServerProcess, int]]:
    """`serve --processes 2` with a short lease, and the metrics port of its first process
    (the second's is the next one)."""
    metrics_port = _two_free_ports()
    server = ServerProcess(
        fresh_database(),
        log_path=tmp_path / "serve.log",
        processes="2",
        metrics_port=str(metrics_port),
        job_lease_s="3",
    ).start()
    try:
        eventually(
            lambda: len(_children(server.pid)),
            until=lambda count: count == 2,
            timeout_s=10,
            what="two serving processes",
        )
        yield server, metrics_port
    finally:
        server.stop()


def _sender(server: ServerProcess) -> str:
    client = make_client(server.base_url, ACCOUNT_SID, AUTH_TOKEN)
    return str(client.incoming_phone_numbers.create(area_code="415").phone_number)


def _create(server: ServerProcess, receiver: Receiver, count: int, tag: str) -> list[str]:
    """`count` messages, each over a connection of its own (so the kernel spreads them)."""
    sender = _sender(server)
    sids = []
    for index in range(count):
        client = make_client(server.base_url, ACCOUNT_SID, AUTH_TOKEN)
        message = client.messages.create(
            to=f"+1415555{index:04d}",
            from_=sender,
            body=f"{tag} {index}",
            status_callback=receiver.url(),
        )
        sids.append(message.sid)
    return sids


def test_two_serving_processes_share_the_work_and_deliver_each_message_once(
    two_processes: tuple[ServerProcess, int], receiver: Receiver
) -> None:
    server, metrics_port = two_processes
    sids = _create(server, receiver, 40, "shared")
    receiver.wait_for(lambda rs: len(rs) >= 2 * len(sids), timeout_s=30)
    time.sleep(0.5)  # a duplicate, if any, would arrive meanwhile
    runs = Counter((r.params["MessageSid"], r.params["MessageStatus"]) for r in receiver.requests)
    assert set(runs) == {(sid, s) for sid in sids for s in ("sent", "delivered")}
    assert set(runs.values()) == {1}, "a callback was sent twice"
    assert all(r.valid_for(AUTH_TOKEN) for r in receiver.requests)
    # Each serving process has a metrics port of its own; together they counted every create.
    per_process = [_created_on(metrics_port), _created_on(metrics_port + 1)]
    assert sum(per_process) == len(sids)


def _node_metrics(server: ServerProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics on the API's port: any serving process may answer."""
    answer = httpx.get(f"{server.base_url}/metrics", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_on_the_api_port_have_every_process_whichever_answers(
    two_processes: tuple[ServerProcess, int], receiver: Receiver
) -> None:
    server, metrics_port = two_processes
    sids = _create(server, receiver, 30, "counted")
    per_process = [_created_on(metrics_port), _created_on(metrics_port + 1)]
    assert min(per_process) > 0, per_process  # both took creates (each on a socket of its own)

    def created(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
        by_process: dict[str, float] = {}
        for (name, labels), value in samples.items():
            label = dict(labels)
            if (
                name == "textrelay_http_requests_total"
                and label["method"] == "POST"
                and label["route"].endswith("Messages.json")
                and label["status"] == "201"
            ):
                by_process[label["process"]] = by_process.get(label["process"], 0) + value
        return by_process

    # Each answer (on a new connection each, so either process answers) has both processes'
    # series; another process's are at most a second old.
    for _ in range(6):
        answer = eventually(
            lambda: _node_metrics(server),
            until=lambda samples: created(samples) == {"0": per_process[0], "1": per_process[1]},
            timeout_s=5,
            what="every process's creates in one answer",
        )
        # The queue is every process's: once, without a process label.
        queue = [labels for name, labels in answer if name == "textrelay_queue_jobs"]
        assert queue
        assert all("process" not in dict(labels) for labels in queue)
    assert sum(per_process) == len(sids)


def _answered_on(metrics_port: int) -> int:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(int(n) for n in _ACCOUNT_FETCHED.findall(text))


def test_every_process_serves_from_its_own_socket_of_the_group(
    two_processes: tuple[ServerProcess, int],
) -> None:
    """The kernel hands each connection to one socket of the group: a process that listened
    on another's socket would leave its own connections unanswered. (That connections opened
    at once spread evenly is tests/integration/test_listening.py's.)"""
    server, metrics_port = two_processes
    host, port = server.base_url.removeprefix("http://").split(":")
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    request = (
        f"GET /2010-04-01/Accounts/{ACCOUNT_SID}.json HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Basic {credentials}\r\n\r\n"
    ).encode()
    connections = [socket.create_connection((host, int(port)), timeout=10) for _ in range(24)]
    try:
        for connection in connections:
            connection.sendall(request)
        for connection in connections:
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for connection in connections:
            connection.close()
    per_process = [_answered_on(metrics_port), _answered_on(metrics_port + 1)]
    assert sum(per_process) == len(connections)
    assert min(per_process) > 0, per_process  # all 24 on one: a chance of 2^-23


def test_a_killed_serving_process_is_replaced_and_nothing_it_held_is_lost(
    two_processes: tuple[ServerProcess, int], receiver: Receiver
) -> None:
    server, _ = two_processes
    slow = receiver.url("/slow/1500")  # callbacks in flight when the process dies
    client = make_client(server.base_url, ACCOUNT_SID, AUTH_TOKEN)
    sender = _sender(server)
    sids = [
        client.messages.create(
            to=f"+1415556{index:04d}", from_=sender, body="held", status_callback=slow
        ).sid
        for index in range(6)
    ]
    before = _children(server.pid)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    after = eventually(
        lambda: [pid for pid in _children(server.pid) if _alive(pid)],
        until=lambda pids: len(pids) == 2 and not set(pids) & set(before),
        timeout_s=15,
        what="two new serving processes",
    )
    assert after
    # The jobs the dead held come back when their leases end (3 s), and are sent: at least
    # once (a callback the dead process had sent before it died is sent again).
    receiver.wait_for(
        lambda rs: (
            {(r.params["MessageSid"], r.params["MessageStatus"]) for r in rs}
            >= {(sid, s) for sid in sids for s in ("sent", "delivered")}
        ),
        timeout_s=30,
    )
    assert _create(server, receiver, 2, "after")


def test_stopping_serve_stops_every_serving_process_and_killing_it_kills_them(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    url = fresh_database()
    for ending in ("stop", "kill"):
        server = ServerProcess(url, log_path=tmp_path / f"{ending}.log", processes="2").start()
        children = eventually(
            lambda server=server: _children(server.pid),  # type: ignore[misc]
            until=lambda pids: len(pids) == 2,
            timeout_s=10,
            what="two serving processes",
        )
        if ending == "stop":
            assert server.stop() == 0
        else:
            server.kill()
        eventually(
            lambda children=children: [pid for pid in children if _alive(pid)],  # type: ignore[misc]
            until=lambda alive: not alive,
            timeout_s=10,
            what=f"no serving process left after {ending}",
        )


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_port_in_use_is_a_one_line_error_not_a_traceback(
    fresh_database: Callable[[], str], processes: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ended = subprocess.run(
            [sys.executable, "-m", "textrelay", "serve", "--port", str(port)],
            env={
                **os.environ,
                "TEXTRELAY_DATABASE_URL": fresh_database(),
                "TEXTRELAY_PROCESSES": processes,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ended.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_a_process_with_workers_hears_anothers_change_at_once_for_the_console(
    fresh_database: Callable[[], str], receiver: Receiver, tmp_path: Path
) -> None:
    url = fresh_database()
    watcher = ServerProcess(url, log_path=tmp_path / "watcher.log", processes="1").start()
    other = ServerProcess(url, log_path=tmp_path / "other.log", processes="1").start()
    try:
        sender = _sender(other)
        with httpx.Client(base_url=watcher.base_url, timeout=10) as browser:
            assert sign_in(browser, ACCOUNT_SID, AUTH_TOKEN).status_code == 303
            with browser.stream("GET", "/console/events", timeout=15) as events:
                lines = events.iter_lines()
                assert next(lines).startswith("retry:")
                started = time.monotonic()
                make_client(other.base_url, ACCOUNT_SID, AUTH_TOKEN).messages.create(
                    to="+14155550100", from_=sender, body="x", status_callback=receiver.url()
                )
                waited = None
                for line in lines:
                    if line == "event: change":
                        waited = time.monotonic() - started
                        break
                    assert time.monotonic() - started < 10, "no change event within 10 s"
    finally:
        watcher.stop()
        other.stop()

    # Heard with the other process's commit (its job woke this one's queue), not at the
    # event stream's look every 2 s.
    assert waited is not None
    assert waited < 1.5
