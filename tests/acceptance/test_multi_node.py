"""Several nodes on one database (issue 15 #1; on SQLite, processes of one machine, issue 16
#2): two API nodes (`serve --no-workers`) and two `textrelay worker` processes share one
database. Messages go in through both API nodes, one
worker is killed (SIGKILL) mid-load, and still every accepted message ends `delivered` with
one status callback per status, each signed.

"One callback per status" is counted by Twilio's `I-Twilio-Idempotency-Token`: a worker killed
after a receiver answered but before it recorded the answer leaves the job to run again
(at least once, docs/operations.md), and that second POST carries the same token, as Twilio's
retries do, so a receiver that keeps the tokens it has seen acts once. No status may be
missing, and none may have two tokens.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.console_login import sign_in
from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess
from tests.receiver import Received, Receiver

MESSAGES = 2000
KILL_AFTER = 600
"""Accepted messages before one worker is killed."""
SENDERS = 8
HANDOVER_S = 90.0
"""How long the survivors may take to finish everything once the last create is answered."""
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@pytest.fixture
def shared_url(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


@pytest.fixture
def cluster(shared_url: str, tmp_path: Path) -> Iterator[tuple[list[ServerProcess], ...]]:
    started: list[ServerProcess] = []

    def start(name: str, **settings: str) -> ServerProcess:
        process = ServerProcess(shared_url, log_path=tmp_path / f"{name}.log", **settings)
        started.append(process.start())
        return process

    try:
        api = [start(f"api-{index}", workers="false") for index in range(2)]
        workers = [start(f"worker-{index}", command="worker") for index in range(2)]
        yield api, workers
    finally:
        for process in started:
            process.stop()


def _number(node: ServerProcess) -> str:
    answer = httpx.post(
        f"{node.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json",
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        data={"AreaCode": "415"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["phone_number"])


def test_two_api_nodes_and_two_workers_deliver_everything_when_a_worker_is_killed(
    cluster: tuple[list[ServerProcess], list[ServerProcess]], receiver: Receiver
) -> None:
    api, workers = cluster
    sender = _number(api[0])
    callback = receiver.url("/ok")
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    numbers = itertools.count()
    local = threading.local()
    clients: list[httpx.Client] = []

    def send(index: int) -> None:
        node = api[index % 2]
        http: httpx.Client | None = getattr(local, node.base_url, None)
        if http is None:  # one keep-alive connection a sender thread and node
            http = httpx.Client(base_url=node.base_url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=30)
            setattr(local, node.base_url, http)
            with lock:
                clients.append(http)
        answer = http.post(
            MESSAGES_PATH,
            data={
                "To": f"+1415556{next(numbers) % 10_000:04d}",
                "From": sender,
                "Body": f"message {index}",
                "StatusCallback": callback,
            },
        )
        with lock:
            if answer.status_code != 201:
                refused.append(f"{answer.status_code} {answer.text}")
                return
            accepted.append(answer.json()["sid"])
            if len(accepted) == KILL_AFTER and not killed.is_set():
                killed.set()
                workers[0].kill()

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(send, range(MESSAGES)))
    finally:
        for http in clients:
            http.close()
    last_create = time.monotonic()
    assert refused == []
    assert killed.is_set()
    assert len(accepted) == MESSAGES

    expected = {(sid, status) for sid in accepted for status in ("sent", "delivered")}

    def all_in(received: list[Received]) -> bool:
        if len(received) < len(expected):  # cheap: this runs every 20 ms beside the receiver
            return False
        got = {(r.params.get("MessageSid"), r.params.get("MessageStatus")) for r in received}
        return expected <= got

    receiver.wait_for(all_in, timeout_s=HANDOVER_S)
    drained_s = time.monotonic() - last_create
    time.sleep(1.0)  # a duplicate still on its way would show now

    tokens: dict[tuple[str, str], set[str]] = defaultdict(set)
    deliveries = 0
    for request in list(receiver.requests):
        key = (request.params["MessageSid"], request.params["MessageStatus"])
        tokens[key].add(request.headers["I-Twilio-Idempotency-Token"])
        deliveries += 1
        assert request.valid_for(AUTH_TOKEN), request.params
    assert set(tokens) == expected, "a status was missing or one not expected came"
    assert [key for key, seen in tokens.items() if len(seen) != 1] == []
    duplicates = deliveries - len(expected)
    # Only what the killed worker had in hand may come twice.
    assert duplicates < 200, duplicates

    # Every message is final, whichever node is asked.
    statuses: dict[str, str] = {}
    with httpx.Client(base_url=api[1].base_url, auth=(ACCOUNT_SID, AUTH_TOKEN)) as http:
        page = http.get(MESSAGES_PATH, params={"PageSize": 1000}).json()
        while True:
            statuses.update({m["sid"]: m["status"] for m in page["messages"]})
            if not page["next_page_uri"]:
                break
            page = http.get(page["next_page_uri"]).json()
        jobs = http.get(f"/textrelay/v1/Accounts/{ACCOUNT_SID}/Jobs").json()["jobs"]
    assert {sid: statuses.get(sid) for sid in accepted} == dict.fromkeys(accepted, "delivered")
    assert jobs == []
    print(
        f"\n{MESSAGES} messages created in {last_create - started:.1f} s, a worker killed "
        f"after {KILL_AFTER}: everything delivered {drained_s:.1f} s after the last create; "
        f"{duplicates} callbacks sent twice"
    )


def test_the_console_on_one_node_sees_a_message_created_through_another(
    cluster: tuple[list[ServerProcess], list[ServerProcess]],
) -> None:
    api, _workers = cluster
    watcher, other = api
    sender = _number(other)
    with httpx.Client(base_url=watcher.base_url, timeout=10) as browser:
        signed_in = sign_in(browser, ACCOUNT_SID, AUTH_TOKEN)
        assert signed_in.status_code == 303, signed_in.text
        with browser.stream("GET", "/console/events", timeout=15) as events:
            lines = events.iter_lines()
            assert next(lines).startswith("retry:")
            created = httpx.post(
                f"{other.base_url}{MESSAGES_PATH}",
                auth=(ACCOUNT_SID, AUTH_TOKEN),
                data={"To": "+14155550100", "From": sender, "Body": "seen elsewhere"},
            )
            assert created.status_code == 201
            started = time.monotonic()
            for line in lines:
                if line == "event: change":
                    break
                assert time.monotonic() - started < 10, "no change event within 10 s"
        # The page shows it too.
        assert created.json()["sid"] in browser.get("/console/").text
