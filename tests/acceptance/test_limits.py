"""Limits like Twilio's (issue 15 #5, issue 16 #3), each a setting: an account's concurrent
requests (429/20429), its queue (30001 Queue overflow), its backlog of owed jobs (429/20429 at
create), and a request's parameters (400/20001)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.processes import carriers_without_smsc
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.testing import TextrelayServer


@contextmanager
def two_slots_held(
    server: TextrelayServer, path: str, auth: tuple[str, str]
) -> Iterator[list[int]]:
    """Two requests to `path` (a read-back waiting about 2 s) hold two of the credentials'
    account's slots while the block runs; yields their statuses, complete once it ends."""
    answers: list[int] = []

    def hold() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            answers.append(http.get(path, auth=auth).status_code)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    time.sleep(0.5)
    try:
        yield answers
    finally:
        for thread in holders:
            thread.join(10)


def test_an_accounts_requests_beyond_its_concurrency_are_refused_429_and_others_go_on(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(account_concurrency=2)
    busy = server.new_account("busy")
    calm = server.new_account("calm")
    number = server.client(busy).incoming_phone_numbers.create(area_code="415").phone_number
    # A read-back that waits: each holds one of the account's two slots for about 2 s.
    waiting = f"/textrelay/v1/Accounts/{busy.sid}/Phones/{number}/Messages?Wait=2"
    with (
        two_slots_held(server, waiting, (busy.sid, busy.auth_token)) as answers,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        refused = http.get(
            f"/2010-04-01/Accounts/{busy.sid}/Messages.json", auth=(busy.sid, busy.auth_token)
        )
        others = http.get(
            f"/2010-04-01/Accounts/{calm.sid}/Messages.json", auth=(calm.sid, calm.auth_token)
        )
    assert answers == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["code"] == 20429
    assert refused.json()["status"] == 429
    assert others.status_code == 200
    after = httpx.get(
        f"{server.base_url}/2010-04-01/Accounts/{busy.sid}/Messages.json",
        auth=(busy.sid, busy.auth_token),
    )
    assert after.status_code == 200


def test_requests_count_for_the_account_whose_credentials_they_carry(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(account_concurrency=2)
    parent = server.new_account("parent")
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        made = http.post(
            "/2010-04-01/Accounts.json", auth=(parent.sid, parent.auth_token), data={}
        ).json()
        sub_sid, sub_token = made["sid"], made["auth_token"]
        number = http.post(
            f"/2010-04-01/Accounts/{sub_sid}/IncomingPhoneNumbers.json",
            auth=(sub_sid, sub_token),
            data={"AreaCode": "415"},
        ).json()["phone_number"]
    # The parent holds both its slots with waits on its subaccount's path.
    waiting = f"/textrelay/v1/Accounts/{sub_sid}/Phones/{number}/Messages?Wait=2"
    messages = f"/2010-04-01/Accounts/{sub_sid}/Messages.json"
    with (
        two_slots_held(server, waiting, (parent.sid, parent.auth_token)) as answers,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        by_parent = http.get(messages, auth=(parent.sid, parent.auth_token))
        by_sub = http.get(messages, auth=(sub_sid, sub_token))
        # A wrong token naming the busy account is refused as it is, not counted.
        wrong = http.get(messages, auth=(parent.sid, "0" * 32))
    assert answers == [200, 200]
    assert (by_parent.status_code, by_parent.json()["code"]) == (429, 20429)
    assert by_sub.status_code == 200
    assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)


def test_a_message_beyond_the_accounts_queue_is_accepted_then_fails_30001(
    isolated_server: Callable[..., TextrelayServer], tmp_path: Path, receiver: Receiver
) -> None:
    # A carrier that never answers: messages wait in the queue, as behind a carrier outage.
    carriers = carriers_without_smsc(tmp_path, "down")
    server = isolated_server(carriers=str(carriers), account_queue_limit=3)
    account = server.new_account("queue")
    client = server.client(account)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    created = [
        client.messages.create(
            to=f"+1415555{index:04d}",
            from_=sender,
            body=f"number {index}",
            status_callback=receiver.url(),
        )
        for index in range(5)
    ]
    assert [m.status for m in created] == ["queued"] * 5
    for overflowed in created[3:]:
        assert receiver.statuses(overflowed.sid, count=1) == ["failed"]
        callback = receiver.for_message(overflowed.sid)[0]
        assert callback.params["ErrorCode"] == "30001"
        fetched = client.messages(overflowed.sid).fetch()
        assert (fetched.status, fetched.error_code) == ("failed", 30001)
    for waiting in created[:3]:
        assert client.messages(waiting.sid).fetch().status == "queued"
    # Another account's queue is its own.
    other = server.new_account("another")
    other_client = server.client(other)
    other_sender = other_client.incoming_phone_numbers.create(area_code="415").phone_number
    theirs = other_client.messages.create(to="+14155550199", from_=other_sender, body="mine")
    time.sleep(0.5)
    assert other_client.messages(theirs.sid).fetch().status == "queued"


def test_a_burst_the_simulator_takes_at_create_is_no_queue_and_never_overflows(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    # Nothing waits for a dispatch when the simulator takes each message at its create: six
    # creates within a second under a limit of 3 are all sent, none failed 30001.
    server = isolated_server(account_queue_limit=3)
    account = server.new_account("burst")
    client = server.client(account)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    sids = [
        client.messages.create(
            to=f"+1415555{index:04d}", from_=sender, body="burst", status_callback=receiver.url()
        ).sid
        for index in range(6)
    ]
    for sid in sids:
        assert receiver.statuses(sid, count=2) == ["sent", "delivered"]


def _created_or_refused(client: Client, sender: str, callback_url: str) -> tuple[int, int]:
    """(201, 0), or the create's refusal: (its HTTP status, its code)."""
    try:
        client.messages.create(
            to="+14155550123", from_=sender, body="flood", status_callback=callback_url
        )
    except TwilioRestException as refused:
        return refused.status, int(refused.code or 0)
    return 201, 0


def test_an_accounts_creates_are_refused_429_while_its_backlog_is_full_and_others_go_on(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(account_backlog_limit=2)
    busy, calm = server.new_account("busy"), server.new_account("calm")
    busy_client, calm_client = server.client(busy), server.client(calm)
    busy_sender = busy_client.incoming_phone_numbers.create(area_code="415").phone_number
    calm_sender = calm_client.incoming_phone_numbers.create(area_code="415").phone_number
    slow = receiver.url("/slow/2500")  # each callback takes 2.5 s: the jobs stay owed
    first = busy_client.messages.create(
        to="+14155550100", from_=busy_sender, body="first", status_callback=slow
    )
    # Its callback job (sent, then delivered) is owed from the create on. Once the backlog
    # is read again (a second on) it counts: the account has room for one more, not two.
    time.sleep(1.3)
    assert _created_or_refused(busy_client, busy_sender, slow) == (201, 0)
    with pytest.raises(TwilioRestException) as refused:
        busy_client.messages.create(to="+14155550101", from_=busy_sender, body="one too many")
    assert (refused.value.status, refused.value.code) == (429, 20429)
    assert "retry after a pause" in str(refused.value.msg)
    # Another tenant is not refused for the busy one's backlog, nor are reads.
    theirs = calm_client.messages.create(
        to="+14155550102", from_=calm_sender, body="mine", status_callback=receiver.url()
    )
    assert receiver.statuses(theirs.sid, count=2) == ["sent", "delivered"]
    assert busy_client.messages(first.sid).fetch().sid == first.sid
    # Once the callbacks are through, the account creates again.
    assert receiver.statuses(first.sid, count=2, timeout_s=20) == ["sent", "delivered"]
    answers = eventually(
        lambda: _created_or_refused(busy_client, busy_sender, receiver.url()),
        until=lambda answer: answer == (201, 0),
        timeout_s=20,
        interval_s=0.5,
        what="the busy account's creates accepted again",
    )
    assert answers == (201, 0)


def test_a_request_with_more_parameters_than_allowed_is_refused_400(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(max_params=6)
    account = server.new_account("params")
    client = server.client(account)
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    ok = client.messages.create(to="+14155550100", from_=sender, body="few")
    assert ok.status == "queued"
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(
            to="+14155550100",
            from_=sender,
            body="many",
            media_url=[f"https://example.com/{n}.png" for n in range(5)],
        )
    assert (refused.value.status, refused.value.code) == (400, 20001)
    assert "at most 6" in str(refused.value.msg)
    files = {"Body": (None, "x"), **{f"P{n}": (None, "y") for n in range(7)}}
    multipart = httpx.post(
        f"{server.base_url}/2010-04-01/Accounts/{account.sid}/Messages.json",
        auth=(account.sid, account.auth_token),
        files=files,
    )
    assert multipart.status_code == 400
    assert multipart.json()["code"] == 20001
