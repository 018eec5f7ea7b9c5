"""The delivery pipeline end to end: statuses, signed status callbacks, failures on purpose.

The official twilio client creates messages; a real receiver on 127.0.0.1 gets the callbacks
and Twilio's own RequestValidator checks each signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.client import client as make_client
from textrelay.control import Control, ControlError
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

# The parameters of every status callback (shared/twilio/messaging-and-webhooks.md §4.3).
ALWAYS = {
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "AccountSid",
    "From",
    "To",
    "ApiVersion",
}


def test_a_delivered_message_reports_sent_then_delivered_with_valid_signatures(
    client: Client, account: Account, sender: str, receiver: Receiver
) -> None:
    url = receiver.url("/ok?tenant=7")
    message = client.messages.create(
        to="+14155550100", from_=sender, body="hello", status_callback=url
    )

    statuses = receiver.statuses(message.sid, count=2)
    callbacks = receiver.for_message(message.sid)
    fetched = client.messages(message.sid).fetch()

    assert statuses == ["sent", "delivered"]
    assert all(c.valid_for(account.auth_token) for c in callbacks)
    sent, delivered = (c.params for c in callbacks)
    assert set(sent) == ALWAYS
    assert set(delivered) == ALWAYS | {"RawDlrDoneDate"}
    assert delivered["MessageSid"] == delivered["SmsSid"] == message.sid
    assert delivered["SmsStatus"] == "delivered"
    assert delivered["AccountSid"] == account.sid
    assert (delivered["From"], delivered["To"]) == (sender, "+14155550100")
    assert delivered["ApiVersion"] == "2010-04-01"
    assert len(delivered["RawDlrDoneDate"]) == 10
    assert delivered["RawDlrDoneDate"].isdigit()
    headers = callbacks[0].headers
    assert headers["User-Agent"] == "TwilioProxy/1.1"
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert headers["I-Twilio-Idempotency-Token"]
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None
    assert fetched.price == "-0.00790"
    assert fetched.price_unit == "USD"


def test_a_signature_made_with_another_token_is_refused_by_the_validator(
    client: Client, sender: str, receiver: Receiver
) -> None:
    message = client.messages.create(
        to="+14155550101", from_=sender, body="x", status_callback=receiver.url()
    )

    receiver.statuses(message.sid, count=1)

    assert not receiver.for_message(message.sid)[0].valid_for("0" * 32)


@pytest.mark.parametrize(
    ("to", "statuses", "code"),
    [
        ("+15550130003", ["sent", "undelivered"], 30003),
        ("+15550130005", ["sent", "undelivered"], 30005),
        ("+15550130007", ["sent", "undelivered"], 30007),
        ("+15550230004", ["failed"], 30004),
        ("+15550230008", ["failed"], 30008),
        ("+442071838750", ["sent", "undelivered"], 30006),  # a London landline
    ],
)
def test_built_in_numbers_fail_asynchronously_with_their_error_code(
    client: Client,
    account: Account,
    sender: str,
    receiver: Receiver,
    to: str,
    statuses: list[str],
    code: int,
) -> None:
    message = client.messages.create(
        to=to, from_=sender, body="doomed", status_callback=receiver.url()
    )

    seen = receiver.statuses(message.sid, count=len(statuses))
    last = receiver.for_message(message.sid)[-1]
    fetched = client.messages(message.sid).fetch()

    assert message.status == "queued"
    assert seen == statuses
    assert last.params["ErrorCode"] == str(code)
    assert last.valid_for(account.auth_token)
    assert (fetched.status, fetched.error_code) == (statuses[-1], code)
    assert fetched.error_message
    if statuses == ["failed"]:
        assert fetched.price is None
        assert fetched.date_sent is None


def test_twilios_magic_sender_keeps_its_messages_queued(
    client: Client, server: TextrelayServer, account: Account, receiver: Receiver
) -> None:
    message = client.messages.create(
        to="+14155550102", from_="+15005550006", body="x", status_callback=receiver.url()
    )
    with server.control(account) as control:
        control.wait_idle(message.sid)  # dispatched: whatever was to happen has happened
        events = control.events(message.sid)

    assert [e["status"] for e in events] == ["queued"]
    assert client.messages(message.sid).fetch().status == "queued"
    assert receiver.for_message(message.sid) == []


def test_no_status_callback_means_no_request_but_the_message_still_advances(
    client: Client, server: TextrelayServer, account: Account, sender: str
) -> None:
    message = client.messages.create(to="+14155550103", from_=sender, body="quiet")

    with server.control(account) as control:
        final = control.wait_until_final(message.sid)
        control.wait_idle(message.sid)  # a callback promised by mistake would have run
        events = control.events(message.sid)
        callbacks = control.callbacks(message.sid)

    assert final == "delivered"
    assert [e["status"] for e in events] == ["queued", "sending", "sent", "delivered"]
    assert callbacks == []


def test_every_attempt_is_recorded_and_readable(
    client: Client, server: TextrelayServer, account: Account, sender: str, receiver: Receiver
) -> None:
    message = client.messages.create(
        to="+14155550104", from_=sender, body="x", status_callback=receiver.url("/status/500")
    )
    receiver.statuses(message.sid, count=2)

    with server.control(account) as control:
        callbacks = eventually(
            lambda: control.callbacks(message.sid),
            until=lambda recorded: len(recorded) >= 2,
            timeout_s=5,
            what="two callback attempts recorded",
        )

    assert [c["parameters"]["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    first = callbacks[0]
    assert first["status_code"] == 500
    assert first["error_code"] == 11200
    assert first["response_body"] == "<Response/>"
    assert first["url"] == receiver.url("/status/500")
    assert first["signature"]
    assert first["latency_ms"] >= 0
    # A failing receiver changes nothing about the message itself.
    assert client.messages(message.sid).fetch().status == "delivered"


def test_a_refused_connection_is_retried_once_then_recorded_as_11205(
    client: Client, server: TextrelayServer, account: Account, sender: str
) -> None:
    closed = "http://127.0.0.1:9/nothing-listens-here"
    message = client.messages.create(
        to="+14155550105", from_=sender, body="x", status_callback=closed
    )

    with server.control(account) as control:
        assert control.wait_until_final(message.sid) == "delivered"
        callbacks = eventually(
            lambda: control.callbacks(message.sid),
            until=lambda recorded: len(recorded) >= 4,
            what="four callback attempts recorded",
        )

    # Twilio's default: one retry, on connection failures only; two callbacks × two attempts.
    assert len(callbacks) == 4
    assert {c["error_code"] for c in callbacks} == {11205}
    assert all(c["status_code"] is None for c in callbacks)


def test_a_hanging_receiver_does_not_stall_other_messages(
    client: Client, sender: str, receiver: Receiver
) -> None:
    slow = client.messages.create(
        to="+14155550106",
        from_=sender,
        body="slow",
        status_callback=receiver.url("/slow/3000#rt=2500&tt=3000"),
    )
    started = time.monotonic()
    fast = client.messages.create(
        to="+14155550107", from_=sender, body="fast", status_callback=receiver.url()
    )

    assert receiver.statuses(fast.sid, count=2, timeout_s=5) == ["sent", "delivered"]
    assert time.monotonic() - started < 2.0
    assert receiver.for_message(slow.sid) == []


def test_a_status_callback_that_is_not_a_web_url_is_refused_at_create(
    client: Client, sender: str
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(
            to="+14155550108", from_=sender, body="x", status_callback="ftp://example.com/cb"
        )

    assert refused.value.status == 400
    assert client.messages.list(to="+14155550108") == []


def test_read_back_waits_for_the_otp_a_phone_receives(
    client: Client, server: TextrelayServer, account: Account, sender: str
) -> None:
    with server.control(account) as control:
        before = control.received("+14155550109")
        client.messages.create(to="+14155550109", from_=sender, body="Your code is 482913")
        otp = control.wait_for_message("+14155550109", match=r"\b\d{6}\b", timeout_s=5)
        filtered = control.received("+14155550109", contains="nothing like this")

    assert before == []
    assert otp["body"] == "Your code is 482913"
    assert otp["to"] == "+14155550109"
    assert filtered == []


def test_read_back_after_a_sid_sees_only_later_messages(
    client: Client, server: TextrelayServer, account: Account, sender: str
) -> None:
    first = client.messages.create(to="+14155550110", from_=sender, body="one")
    second = client.messages.create(to="+14155550110", from_=sender, body="two")

    with server.control(account) as control:
        later = control.received("+14155550110", after=first.sid)

    assert [m["sid"] for m in later] == [second.sid]


def test_read_back_is_limited_to_the_callers_account(
    server: TextrelayServer, client: Client, sender: str
) -> None:
    client.messages.create(to="+14155550111", from_=sender, body="mine")
    stranger = server.new_account()

    with server.control(stranger) as control:
        assert control.received("+14155550111") == []


def test_reset_deletes_the_accounts_messages(
    client: Client, server: TextrelayServer, account: Account, sender: str
) -> None:
    client.messages.create(to="+14155550112", from_=sender, body="a")
    client.messages.create(to="+14155550112", from_=sender, body="b")

    with server.control(account) as control:
        deleted = control.reset()

    assert deleted == 2
    assert client.messages.list() == []


def test_the_control_api_needs_credentials(server: TextrelayServer) -> None:
    response = httpx.get(f"{server.base_url}/textrelay/v1/Simulator")

    assert response.status_code == 401
    assert response.json()["code"] == 20003


# --- server-wide simulator settings: each test runs a server of its own -----------------------


def test_manual_mode_waits_for_each_step(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550120", from_=number, body="step me", status_callback=receiver.url()
    )

    with server.control() as control:
        # Dispatched, and the carrier's first report parked until a step.
        eventually(
            lambda: control.pending_jobs(message.sid),
            until=lambda jobs: [job["kind"] for job in jobs] == ["carrier"],
        )
        waiting = client.messages(message.sid).fetch().status
        sent = control.step(message.sid)
        delivered = control.step(message.sid)
        with pytest.raises(ControlError) as nothing_left:
            control.step(message.sid)

    assert waiting == "queued"
    assert sent["status"] == "sent"
    assert delivered["status"] == "delivered"
    assert nothing_left.value.status == 400
    assert receiver.statuses(message.sid, count=2) == ["sent", "delivered"]


def test_manual_mode_steps_straight_to_a_chosen_outcome(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550121", from_=number, body="x", status_callback=receiver.url()
    )

    with server.control() as control:
        result = control.step(message.sid, status="undelivered", error_code=30003)

    assert (result["status"], result["error_code"]) == ("undelivered", 30003)
    assert receiver.statuses(message.sid, count=2) == ["sent", "undelivered"]
    assert receiver.for_message(message.sid)[-1].params["ErrorCode"] == "30003"


def test_timed_mode_honours_the_configured_delays(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    with server.control() as control:
        control.configure_simulator(
            mode="timed", send_delay_ms=300, delivery_delay_ms=700, jitter=0
        )
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    created = time.monotonic()
    message = client.messages.create(
        to="+14155550122", from_=number, body="x", status_callback=receiver.url()
    )

    receiver.statuses(message.sid, count=2, timeout_s=10)
    sent, delivered = receiver.for_message(message.sid)

    assert 0.25 <= sent.at - created < 2.0
    assert 0.6 <= delivered.at - sent.at < 2.0


def test_rules_decide_outcomes_by_to_from_and_body(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    with server.control() as control:
        control.add_rule(to_prefix="+1415555013", outcome="undelivered", error_code=30007)
        control.add_rule(body_regex=r"^BLOCK", outcome="failed", error_code=30004)
        filtered = client.messages.create(to="+14155550130", from_=number, body="hi")
        blocked = client.messages.create(to="+14155550140", from_=number, body="BLOCK me")
        fine = client.messages.create(to="+14155550150", from_=number, body="hi")
        outcomes = [control.wait_until_final(m.sid) for m in (filtered, blocked, fine)]

    codes = [client.messages(m.sid).fetch().error_code for m in (filtered, blocked, fine)]
    assert outcomes == ["undelivered", "failed", "delivered"]
    assert codes == [30007, 30004, None]


def test_a_malformed_rule_is_refused_with_the_reason(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    with server.control() as control, pytest.raises(ControlError) as refused:
        control.add_rule(to_regex="(unclosed", outcome="failed")

    assert (refused.value.status, refused.value.code) == (400, 20001)
    assert "to_regex" in refused.value.message


def test_a_seeded_simulator_decides_the_same_outcomes_again(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    def outcomes() -> list[str]:
        server = isolated_server(seed=1234)
        client = server.client()
        number = client.incoming_phone_numbers.create(area_code="415").phone_number
        with server.control() as control:
            control.add_rule(to_prefix="+1415", outcome="undelivered", probability=0.5)
            sids = [
                client.messages.create(to=f"+141555501{i:02d}", from_=number, body="x").sid
                for i in range(16)
            ]
            return [control.wait_until_final(sid) for sid in sids]

    first, second = outcomes(), outcomes()

    assert first == second
    assert set(first) == {"delivered", "undelivered"}


def test_reliable_retry_delivers_again_after_failures(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(
        callback_retry="reliable", callback_max_attempts=4, callback_retry_base_s=0.1
    )
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550123", from_=number, body="x", status_callback=receiver.url("/flaky/2")
    )

    receiver.wait_for(lambda rs: len(rs) >= 4, timeout_s=10)
    with server.control() as control:
        callbacks = eventually(
            lambda: control.callbacks(message.sid),
            until=lambda recorded: len(recorded) >= 4,
            timeout_s=5,
            what="four callback attempts recorded",
        )

    # The `sent` callback fails twice (500), then lands; `delivered` waits its turn, then lands.
    assert [c["status_code"] for c in callbacks] == [500, 500, 200, 200]
    assert [c["parameters"]["MessageStatus"] for c in callbacks] == [
        "sent",
        "sent",
        "sent",
        "delivered",
    ]
    tokens = {c["idempotency_token"] for c in callbacks[:3]}
    assert len(tokens) == 1  # the same callback, delivered again


def test_a_callback_that_fails_after_its_predecessor_landed_is_retried_from_there(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    # `sent` and `delivered` are promised by one transaction, so they travel as one job; the
    # `delivered` callback failing after `sent` landed is retried from there, its deliveries
    # counted from its own first (3 allowed: two failures, then it lands), `sent` not repeated.
    server = isolated_server(
        callback_retry="reliable", callback_max_attempts=3, callback_retry_base_s=0.1
    )
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550123",
        from_=number,
        body="x",
        status_callback=receiver.url("/flaky-delivered/2"),
    )

    with server.control() as control:
        callbacks = eventually(
            lambda: control.callbacks(message.sid),
            until=lambda recorded: len(recorded) >= 4,
            timeout_s=10,
            what="four callback attempts recorded",
        )
        control.wait_idle(message.sid)
        assert len(control.callbacks(message.sid)) == 4

    assert [c["status_code"] for c in callbacks] == [200, 500, 500, 200]
    assert [c["parameters"]["MessageStatus"] for c in callbacks] == [
        "sent",
        "delivered",
        "delivered",
        "delivered",
    ]
    assert len({c["idempotency_token"] for c in callbacks[1:]}) == 1


def _kinds(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["kind"] for job in jobs]


def test_pending_jobs_show_what_the_pipeline_still_owes_a_message(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550125", from_=number, body="x", status_callback=receiver.url()
    )

    with server.control() as control:
        parked = eventually(
            lambda: control.pending_jobs(message.sid),
            until=lambda jobs: _kinds(jobs) == ["carrier"],
        )
        of_account = control.pending_jobs()
        control.step(message.sid)
        control.step(message.sid)
        control.wait_idle(message.sid)
        # Idle: every callback has run, so the receiver has them without waiting.
        arrived = [r.params["MessageStatus"] for r in receiver.for_message(message.sid)]
        idle, idle_account = control.pending_jobs(message.sid), control.pending_jobs()

    assert parked == [{"message_sid": message.sid, "kind": "carrier", "parked": True}]
    assert of_account == parked
    assert arrived == ["sent", "delivered"]
    assert (idle, idle_account) == ([], [])


def test_wait_idle_names_the_jobs_left_when_it_times_out(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(simulator_mode="timed")
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    with server.control() as control:
        control.configure_simulator(send_delay_ms=60_000)
        sid = client.messages.create(to="+14155550126", from_=number, body="x").sid
        with pytest.raises(TimeoutError) as timed_out:
            control.wait_idle(timeout_s=0.5)

    assert f"of {sid}" in str(timed_out.value)


def test_a_report_parked_for_a_step_leaves_the_pipeline_idle(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    message = client.messages.create(
        to="+14155550127", from_=number, body="x", status_callback=receiver.url()
    )

    with server.control() as control:
        control.wait_idle(message.sid)
        left = control.pending_jobs(message.sid)
        status = client.messages(message.sid).fetch().status

    # Idle means nothing more happens by itself: the parked report waits for a step.
    assert left == [{"message_sid": message.sid, "kind": "carrier", "parked": True}]
    assert status == "queued"


def test_pending_jobs_are_the_callers_own(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(simulator_mode="manual")
    parent = server.client()
    sub = parent.api.v2010.accounts.create(friendly_name="sub")
    sub_client = make_client(server.base_url, sub.sid, sub.auth_token)
    messages = {}
    for name, owner in (("parent", parent), ("sub", sub_client)):
        number = owner.incoming_phone_numbers.create(area_code="415").phone_number
        messages[name] = owner.messages.create(to="+14155550127", from_=number, body=name).sid

    with (
        server.control() as control,
        Control(server.base_url, sub.sid, sub.auth_token) as sub_control,
    ):
        parents = eventually(control.pending_jobs, until=lambda jobs: _kinds(jobs) == ["carrier"])
        subs = eventually(sub_control.pending_jobs, until=lambda jobs: _kinds(jobs) == ["carrier"])
        with pytest.raises(ControlError) as not_its_message:
            sub_control.pending_jobs(messages["parent"])
    on_parent = httpx.get(
        f"{server.base_url}/textrelay/v1/Accounts/{server.main_account.sid}/Jobs",
        auth=(sub.sid, sub.auth_token),
    )

    assert [job["message_sid"] for job in parents] == [messages["parent"]]
    assert [job["message_sid"] for job in subs] == [messages["sub"]]
    assert (not_its_message.value.status, not_its_message.value.code) == (404, 20404)
    assert (on_parent.status_code, on_parent.json()["code"]) == (401, 20003)


# --- simulator settings per account (issue 12 #3) ---------------------------------------------


def _subaccount(server: TextrelayServer, parent: Client, name: str) -> tuple[Client, Control]:
    sub = parent.api.v2010.accounts.create(friendly_name=name)
    return (
        make_client(server.base_url, sub.sid, sub.auth_token),
        Control(server.base_url, sub.sid, sub.auth_token),
    )


def _send(client: Client, body: str = "hi") -> str:
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    sid: str = client.messages.create(to="+14155550177", from_=number, body=body).sid
    return sid


def _outcome(client: Client, control: Control, sid: str) -> tuple[str, int | None]:
    return control.wait_until_final(sid), client.messages(sid).fetch().error_code


def test_a_subaccounts_rules_and_mode_change_only_its_own_messages(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    main = server.client()
    sub_a, control_a = _subaccount(server, main, "A")
    sub_b, control_b = _subaccount(server, main, "B")
    with server.control() as control, control_a, control_b:
        control_a.add_rule(to_regex=".", outcome="failed", error_code=30007)
        failed_a = _outcome(sub_a, control_a, _send(sub_a))
        after_rule = [
            _outcome(main, control, _send(main)),
            _outcome(sub_b, control_b, _send(sub_b)),
        ]
        control_a.configure_simulator(mode="manual")
        after_mode = [
            _outcome(main, control, _send(main)),
            _outcome(sub_b, control_b, _send(sub_b)),
        ]
        settings = [c.simulator() for c in (control, control_a, control_b)]

    assert failed_a == ("failed", 30007)
    assert after_rule == after_mode == [("delivered", None), ("delivered", None)]
    assert [(s["mode"], len(s["rules"])) for s in settings] == [
        ("immediate", 0),
        ("manual", 1),
        ("immediate", 0),
    ]


def test_an_account_without_settings_of_its_own_inherits_its_parents(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    main = server.client()
    sub, sub_control = _subaccount(server, main, "inherits")
    # Another top-level account (the pytest plugin's per-test kind) with a subaccount.
    tenant = server.new_account("tenant")
    tenant_client = server.client(tenant)
    tenant_sub, tenant_sub_control = _subaccount(server, tenant_client, "tenant's sub")
    with (
        server.control() as control,
        server.control(tenant) as tenant_control,
        sub_control,
        tenant_sub_control,
    ):
        # The tenant's first change copies what it inherits: the server-wide settings.
        tenant_control.add_rule(body_regex="^TENANT", outcome="failed", error_code=30005)
        control.add_rule(body_regex="^MAIN", outcome="undelivered", error_code=30003)
        outcomes = {
            "sub of main": _outcome(sub, sub_control, _send(sub, "MAIN")),
            "tenant": _outcome(tenant_client, tenant_control, _send(tenant_client, "MAIN")),
            "tenant's sub": _outcome(tenant_sub, tenant_sub_control, _send(tenant_sub, "TENANT")),
            "main": _outcome(main, control, _send(main, "TENANT")),
        }
        # Its first change starts from what it inherited; then the settings are its own.
        copied = sub_control.configure_simulator(delivery_delay_ms=10)
        control.clear_rules()
        kept = sub_control.simulator()
        forgotten = httpx.delete(
            f"{server.base_url}/textrelay/v1/Accounts/{sub_control.account_sid}/Simulator",
            auth=(server.main_account.sid, server.main_account.auth_token),
        )

    assert outcomes == {
        "sub of main": ("undelivered", 30003),
        "tenant": ("delivered", None),
        "tenant's sub": ("failed", 30005),
        "main": ("delivered", None),
    }
    assert [r["body_regex"] for r in copied["rules"]] == ["^MAIN"]
    assert kept == copied
    assert forgotten.status_code == 200, forgotten.text
    assert (forgotten.json()["rules"], forgotten.json()["delivery_delay_ms"]) == ([], 3000)


def test_only_the_main_account_moves_the_clock(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    sub = server.client().api.v2010.accounts.create(friendly_name="clock")
    tenant = server.new_account("tenant")
    refused = []
    with (
        server.control() as control,
        server.control(tenant) as tenant_control,
        Control(server.base_url, sub.sid, sub.auth_token) as sub_control,
    ):
        for other in (sub_control, tenant_control):
            with pytest.raises(ControlError) as error:
                other.advance_clock(61)
            refused.append((error.value.status, error.value.code, error.value.message))
        read_by_sub = httpx.get(
            f"{server.base_url}/textrelay/v1/Clock", auth=(sub.sid, sub.auth_token)
        ).json()
        moved = control.advance_clock(61)

    assert [(status, code) for status, code, _ in refused] == [(403, 20403)] * 2
    assert "main account" in refused[0][2]
    assert read_by_sub["offset_s"] == 0
    assert moved > read_by_sub["now"]
