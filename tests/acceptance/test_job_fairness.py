"""The job runner under slow receivers and long jobs (issue 12, defects 3, 5 and 6).

A hanging webhook receiver of one tenant must not hold back another tenant's messages or
callbacks; a job that runs longer than its lease keeps it (the runner renews it) and runs
once; moving the server's clock does not end the leases of jobs in flight.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from twilio.rest import Client

from tests.receiver import Received, Receiver
from textrelay.testing import TextrelayServer

_HANG_MS = 1500


def _close(*clients: Client) -> None:
    """End the clients' keep-alive connections now, not whenever the garbage collector finds
    them (an unclosed socket is a warning, and warnings are errors)."""
    for client in clients:
        session = getattr(client.http_client, "session", None)
        if session is not None:
            session.close()


def _once_each(requests: list[Received]) -> Counter[tuple[str, str]]:
    return Counter((r.params["MessageSid"], r.params["MessageStatus"]) for r in requests)


def test_a_hanging_receiver_does_not_hold_back_another_tenants_messages(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    # Four delivery slots (the old runner's only slots) and six messages whose callbacks
    # hang: before the fix every slot waited on tenant A's receiver and B's message stayed
    # queued behind them.
    server = isolated_server(worker_concurrency=4, webhook_host_concurrency=3)
    with Receiver() as slow, Receiver() as fast:
        a = server.client(server.new_account("tenant A"))
        b = server.client(server.new_account("tenant B"))
        a_from = a.incoming_phone_numbers.create(area_code="415").phone_number
        b_from = b.incoming_phone_numbers.create(area_code="415").phone_number
        hanging = slow.url(f"/slow/{_HANG_MS}")
        for i in range(6):
            a.messages.create(
                to=f"+1415555{i:04d}", from_=a_from, body="a", status_callback=hanging
            )
        slow.wait_for(lambda rs: len(rs) >= 2, timeout_s=5)
        started = time.monotonic()
        sid = b.messages.create(
            to="+14155559999", from_=b_from, body="b", status_callback=fast.url("/ok")
        ).sid
        statuses = fast.statuses(sid, timeout_s=10, count=2)
        took_s = time.monotonic() - started

        assert statuses == ["sent", "delivered"]
        assert took_s < 1.0, f"B's callbacks took {took_s:.2f} s"
        # A's callbacks all go, three at a time (waited for, so none is cut off at the end).
        slow.wait_for(lambda rs: len(rs) == 12, timeout_s=15)
        time.sleep(_HANG_MS / 1000 + 0.2)  # and end
        # A's host never had more than its share of requests in flight at once.
        arrivals = sorted(r.at for r in slow.requests)
        in_flight = max(
            sum(1 for other in arrivals if at - _HANG_MS / 1000 < other <= at) for at in arrivals
        )
        assert in_flight <= 3
        _close(a, b)


def test_a_job_longer_than_its_lease_runs_once(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    # A one-second lease and a callback that takes 2.5 s: the runner renews the lease while
    # the callback is in flight, so nobody (this runner included) takes the job again.
    server = isolated_server(job_lease_s=1.0)
    client = server.client(server.new_account())
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    sid = client.messages.create(
        to="+14155550100", from_=sender, body="hi", status_callback=receiver.url("/slow/2500")
    ).sid

    receiver.wait_for(lambda rs: _once_each(rs)[(sid, "delivered")] >= 1, timeout_s=15)
    # Time for a wrongly repeated callback to arrive, and for the last one to end: a webhook
    # in flight when the server stops leaves a socket to the garbage collector.
    time.sleep(3.0)

    _close(client)
    counts = _once_each(receiver.for_message(sid))
    assert counts
    assert set(counts.values()) == {1}, counts


def test_moving_the_clock_never_repeats_a_callback_in_flight(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    client = server.client(server.new_account())
    sender = client.incoming_phone_numbers.create(area_code="415").phone_number
    sids = [
        client.messages.create(
            to=f"+1415555{i:04d}",
            from_=sender,
            body="hi",
            status_callback=receiver.url("/slow/1500"),
        ).sid
        for i in range(5)
    ]
    receiver.wait_for(lambda rs: len(rs) >= 1, timeout_s=5)

    with server.control() as control:
        control.advance_clock(3600)  # far past any lease
    receiver.wait_for(
        lambda rs: all(_once_each(rs)[(sid, "delivered")] >= 1 for sid in sids), timeout_s=20
    )
    time.sleep(2.0)  # the last callbacks end (see above)

    _close(client)
    counts = _once_each(receiver.requests)
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v > 1}
