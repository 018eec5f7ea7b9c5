"""Messaging Services with the official twilio client: the resource, sender pools, short
codes, sending through a service, scheduling, validity periods and smart encoding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import DatabaseUnderTest
from tests.receiver import Receiver
from textrelay.domain.accounts import Account
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer


def _error(call: Callable[[], object]) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as refused:
        call()
    return refused.value.status, int(refused.value.code or 0)


def _provision_short_code(server: TextrelayServer, account: Account, code: str) -> str:
    response = httpx.post(
        f"{server.base_url}/textrelay/v1/Accounts/{account.sid}/ShortCodes",
        json={"short_code": code},
        auth=(account.sid, account.auth_token),
    )
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


def _advance(server: TextrelayServer, seconds: float) -> None:
    account = server.main_account
    response = httpx.post(
        f"{server.base_url}/textrelay/v1/Clock",
        json={"advance_s": seconds},
        auth=(account.sid, account.auth_token),
    )
    assert response.status_code == 200, response.text


# --- the Service resource ------------------------------------------------------------------


def test_create_fetch_update_delete_a_service(client: Client, account: Account) -> None:
    created = client.messaging.v1.services.create(friendly_name="Alerts")
    fetched = client.messaging.v1.services(created.sid).fetch()
    updated = client.messaging.v1.services(created.sid).update(
        friendly_name="Alerts 2",
        sticky_sender=False,
        smart_encoding=True,
        validity_period=600,
        usecase="notifications",
        status_callback="https://example.com/status",
    )
    deleted = client.messaging.v1.services(created.sid).delete()

    assert created.sid.startswith("MG")
    assert created.account_sid == account.sid
    assert (created.friendly_name, created.sticky_sender, created.validity_period) == (
        "Alerts",
        True,
        36000,
    )
    assert isinstance(created.date_created, datetime)
    assert fetched.sid == created.sid
    assert (updated.friendly_name, updated.sticky_sender, updated.smart_encoding) == (
        "Alerts 2",
        False,
        True,
    )
    assert (updated.validity_period, updated.usecase) == (600, "notifications")
    assert updated.status_callback == "https://example.com/status"
    assert deleted is True
    assert _error(lambda: client.messaging.v1.services(created.sid).fetch()) == (404, 20404)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"friendly_name": "x" * 65}, (400, 20001)),
        ({"friendly_name": "x", "usecase": "spam"}, (400, 21713)),
        ({"friendly_name": "x", "validity_period": 0}, (400, 21624)),
        ({"friendly_name": "x", "inbound_method": "PUT"}, (400, 20001)),
    ],
)
def test_bad_service_parameters_are_refused(
    client: Client, kwargs: dict[str, object], expected: tuple[int, int]
) -> None:
    assert _error(lambda: client.messaging.v1.services.create(**kwargs)) == expected


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("InboundRequestUrl", "javascript:alert(1)"),
        ("FallbackUrl", "ftp://example.com/sms"),
        ("StatusCallback", "file:///etc/passwd"),
        ("StatusCallback", "https://"),
    ],
)
def test_service_urls_are_checked_like_a_numbers_sms_url(
    server: TextrelayServer, account: Account, client: Client, name: str, url: str
) -> None:
    # The same check, status, code and message as IncomingPhoneNumbers' SmsUrl (issue 12 #9).
    auth = (account.sid, account.auth_token)
    existing = client.messaging.v1.services.create(friendly_name="kept")
    created = httpx.post(
        f"{server.base_url}/v1/Services", data={"FriendlyName": "x", name: url}, auth=auth
    )
    updated = httpx.post(
        f"{server.base_url}/v1/Services/{existing.sid}", data={name: url}, auth=auth
    )

    for response in (created, updated):
        assert (response.status_code, response.json()["code"]) == (400, 20001), response.text
        assert response.json()["message"] == f"{name} '{url}' is not a valid URL"
    assert [s.sid for s in client.messaging.v1.services.list()] == [existing.sid]
    assert client.messaging.v1.services(existing.sid).fetch().inbound_request_url is None


def test_a_short_codes_urls_are_checked_like_a_numbers_sms_url(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sid = _provision_short_code(server, account, "40405")
    code = client.short_codes(sid)

    assert _error(lambda: code.update(sms_url="javascript:alert(1)")) == (400, 20001)
    assert _error(lambda: code.update(sms_fallback_url="file:///x")) == (400, 20001)
    assert code.fetch().sms_url is None
    assert code.update(sms_url="https://example.com/sms").sms_url == "https://example.com/sms"


def test_friendly_name_is_required(server: TextrelayServer, account: Account) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/Services", data={}, auth=(account.sid, account.auth_token)
    )

    assert (response.status_code, response.json()["code"]) == (400, 20001)
    assert "FriendlyName" in response.json()["message"]


def test_another_accounts_service_is_invisible(server: TextrelayServer, client: Client) -> None:
    service = client.messaging.v1.services.create(friendly_name="mine")
    stranger = server.client(server.new_account())

    assert _error(lambda: stranger.messaging.v1.services(service.sid).fetch()) == (404, 20404)
    assert stranger.messaging.v1.services.list() == []
    assert _error(lambda: client.messaging.v1.services("MGnot-a-sid").fetch()) == (404, 20404)


# --- sender pools ------------------------------------------------------------------------------


def test_a_phone_number_is_in_one_service_at_most(client: Client, sender: str) -> None:
    number_sid = client.incoming_phone_numbers.list(phone_number=sender)[0].sid
    first = client.messaging.v1.services.create(friendly_name="first")
    second = client.messaging.v1.services.create(friendly_name="second")

    added = first.phone_numbers.create(phone_number_sid=number_sid)

    assert (added.sid, added.phone_number, added.country_code) == (number_sid, sender, "US")
    assert "SMS" in added.capabilities
    assert added.url.endswith(f"/v1/Services/{first.sid}/PhoneNumbers/{number_sid}")
    assert _error(lambda: first.phone_numbers.create(phone_number_sid=number_sid)) == (409, 21710)
    assert _error(lambda: second.phone_numbers.create(phone_number_sid=number_sid)) == (409, 21712)
    assert [p.sid for p in first.phone_numbers.list()] == [number_sid]
    assert first.phone_numbers(number_sid).fetch().phone_number == sender
    assert first.phone_numbers(number_sid).delete() is True
    assert _error(lambda: first.phone_numbers(number_sid).fetch()) == (404, 20404)
    assert second.phone_numbers.create(phone_number_sid=number_sid).sid == number_sid


def test_unknown_and_foreign_senders_are_not_found(server: TextrelayServer, client: Client) -> None:
    service = client.messaging.v1.services.create(friendly_name="pool")
    stranger = server.client(server.new_account())
    foreign = stranger.incoming_phone_numbers.create(area_code="415").sid

    assert _error(lambda: service.phone_numbers.create(phone_number_sid="PN" + "0" * 32)) == (
        404,
        20404,
    )
    assert _error(lambda: service.phone_numbers.create(phone_number_sid=foreign)) == (404, 20404)
    assert _error(lambda: service.short_codes.create(short_code_sid="SC" + "0" * 32)) == (
        404,
        20404,
    )


def test_alpha_senders_are_checked(client: Client) -> None:
    service = client.messaging.v1.services.create(friendly_name="alpha")

    added = service.alpha_senders.create(alpha_sender="Acme Co")

    assert added.sid.startswith("AI")
    assert (added.alpha_sender, added.capabilities) == ("Acme Co", ["SMS"])
    assert _error(lambda: service.alpha_senders.create(alpha_sender="Acme Co")) == (409, 21710)
    assert _error(lambda: service.alpha_senders.create(alpha_sender="Much too long")) == (
        400,
        21709,
    )
    assert _error(lambda: service.alpha_senders.create(alpha_sender="12345")) == (400, 21709)
    assert [a.alpha_sender for a in service.alpha_senders.list()] == ["Acme Co"]


def test_short_codes_are_provisioned_listed_updated_and_pooled(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    sid = _provision_short_code(server, account, "40404")
    service = client.messaging.v1.services.create(friendly_name="codes")

    listed = client.short_codes.list()
    updated = client.short_codes(sid).update(sms_url="https://example.com/sms", sms_method="GET")
    pooled = service.short_codes.create(short_code_sid=sid)

    assert [(c.sid, c.short_code) for c in listed] == [(sid, "40404")]
    assert (updated.sms_url, updated.sms_method) == ("https://example.com/sms", "GET")
    assert client.short_codes(sid).fetch().sms_url == "https://example.com/sms"
    assert (pooled.short_code, pooled.country_code) == ("40404", "US")
    assert _error(lambda: service.short_codes.create(short_code_sid=sid)) == (409, 21710)


# --- sending through a service -----------------------------------------------------------------


def test_a_service_send_is_accepted_then_queued_with_the_chosen_sender(
    client: Client, account: Account, sender: str, receiver: Receiver
) -> None:
    service = client.messaging.v1.services.create(
        friendly_name="send", status_callback=receiver.url()
    )
    service.phone_numbers.create(
        phone_number_sid=client.incoming_phone_numbers.list(phone_number=sender)[0].sid
    )

    message = client.messages.create(
        to="+14155550160", messaging_service_sid=service.sid, body="hello"
    )
    statuses = receiver.statuses(message.sid, count=3)
    queued = receiver.for_message(message.sid)[0]
    fetched = client.messages(message.sid).fetch()

    assert (message.status, message.from_, message.num_segments) == ("accepted", None, "0")
    assert message.messaging_service_sid == service.sid
    assert statuses == ["queued", "sent", "delivered"]
    assert queued.params["From"] == sender
    assert queued.params["MessagingServiceSid"] == service.sid
    assert queued.valid_for(account.auth_token)
    assert (fetched.status, fetched.from_, fetched.num_segments) == ("delivered", sender, "1")


def test_a_from_in_the_pool_is_queued_at_once_and_a_request_callback_wins(
    client: Client, sender: str, receiver: Receiver
) -> None:
    service = client.messaging.v1.services.create(
        friendly_name="pinned", status_callback=receiver.url("/service")
    )
    service.phone_numbers.create(
        phone_number_sid=client.incoming_phone_numbers.list(phone_number=sender)[0].sid
    )

    message = client.messages.create(
        to="+14155550161",
        from_=sender,
        messaging_service_sid=service.sid,
        body="x",
        status_callback=receiver.url("/request"),
    )

    assert (message.status, message.from_) == ("queued", sender)
    assert receiver.statuses(message.sid, count=2) == ["sent", "delivered"]
    assert {r.path for r in receiver.for_message(message.sid)} == {"/request"}


def test_service_send_errors(client: Client, sender: str) -> None:
    empty = client.messaging.v1.services.create(friendly_name="empty")
    full = client.messaging.v1.services.create(friendly_name="full")
    other = client.incoming_phone_numbers.create(area_code="415").phone_number
    full.phone_numbers.create(
        phone_number_sid=client.incoming_phone_numbers.list(phone_number=sender)[0].sid
    )

    def send(**kwargs: str) -> object:
        return client.messages.create(to="+14155550162", body="x", **kwargs)

    assert _error(lambda: send(messaging_service_sid="MG" + "0" * 32)) == (404, 21701)
    assert _error(lambda: send(messaging_service_sid=empty.sid)) == (400, 21704)
    assert _error(lambda: send(messaging_service_sid=full.sid, from_=other)) == (400, 21606)


def test_sender_selection_prefers_short_codes_then_area_codes_and_sticks(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    service = client.messaging.v1.services.create(friendly_name="selection")
    sf = client.incoming_phone_numbers.create(area_code="415")
    service.phone_numbers.create(phone_number_sid=sf.sid)

    first = client.messages.create(to="+12125550170", messaging_service_sid=service.sid, body="1")
    ny = client.incoming_phone_numbers.create(area_code="212")
    service.phone_numbers.create(phone_number_sid=ny.sid)
    again = client.messages.create(to="+12125550170", messaging_service_sid=service.sid, body="2")
    fresh = client.messages.create(to="+12125550171", messaging_service_sid=service.sid, body="3")
    code_sid = _provision_short_code(server, account, "50505")
    service.short_codes.create(short_code_sid=code_sid)
    to_code = client.messages.create(to="+12125550172", messaging_service_sid=service.sid, body="4")

    with server.control(account) as control:
        for message in (first, again, fresh, to_code):
            control.wait_until_final(message.sid)
    senders = [client.messages(m.sid).fetch().from_ for m in (first, again, fresh, to_code)]

    # The only number; sticky; area-code geomatch; a short code of the recipient's country.
    assert senders == [sf.phone_number, sf.phone_number, ny.phone_number, "50505"]


def test_alpha_senders_reach_other_countries_but_not_the_us(
    server: TextrelayServer, client: Client, account: Account, sender: str
) -> None:
    service = client.messaging.v1.services.create(friendly_name="alpha send", sticky_sender=False)
    service.alpha_senders.create(alpha_sender="Acme")
    service.phone_numbers.create(
        phone_number_sid=client.incoming_phone_numbers.list(phone_number=sender)[0].sid
    )

    abroad = client.messages.create(
        to="+447700900123", messaging_service_sid=service.sid, body="hi"
    )
    home = client.messages.create(to="+14155550173", messaging_service_sid=service.sid, body="hi")

    with server.control(account) as control:
        control.wait_until_final(abroad.sid)
        control.wait_until_final(home.sid)
    assert client.messages(abroad.sid).fetch().from_ == "Acme"
    assert client.messages(home.sid).fetch().from_ == sender


def test_smart_encoding_replaces_look_alikes_before_counting(client: Client, sender: str) -> None:
    body = "\u201cHello\u201d \u2014 it\u2019s here\u2026"

    plain = client.messages.create(to="+14155550174", from_=sender, body=body)
    smart = client.messages.create(to="+14155550174", from_=sender, body=body, smart_encoded=True)

    assert plain.body == body
    assert smart.body == '"Hello" - it\'s here...'
    assert smart.num_segments == "1"


# --- scheduling and validity (they move the server's clock: servers of their own) --------------


def _service_with_number(server: TextrelayServer, **settings: object) -> tuple[Client, str, str]:
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415")
    service = client.messaging.v1.services.create(friendly_name="scheduled", **settings)
    service.phone_numbers.create(phone_number_sid=number.sid)
    return client, service.sid, number.phone_number


def test_a_scheduled_message_waits_for_send_at_then_goes_out(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    client, service_sid, number = _service_with_number(server)
    send_at = datetime.now(UTC) + timedelta(minutes=20)

    message = client.messages.create(
        to="+14155550180",
        messaging_service_sid=service_sid,
        body="later",
        schedule_type="fixed",
        send_at=send_at,
        status_callback=receiver.url(),
    )
    with server.control() as control:
        waiting = control.events(message.sid)
    _advance(server, 21 * 60)

    assert (message.status, message.from_, message.num_segments) == ("scheduled", None, "0")
    assert [e["status"] for e in waiting] == ["scheduled"]
    assert receiver.statuses(message.sid, count=3) == ["queued", "sent", "delivered"]
    assert client.messages(message.sid).fetch().from_ == number


def test_canceling_a_scheduled_message_reports_canceled_and_never_sends(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    client, service_sid, _number = _service_with_number(server)
    message = client.messages.create(
        to="+14155550181",
        messaging_service_sid=service_sid,
        body="never",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(minutes=30),
        status_callback=receiver.url(),
    )

    canceled = client.messages(message.sid).update(status="canceled")
    _advance(server, 31 * 60)
    statuses = receiver.statuses(message.sid, count=1)

    assert canceled.status == "canceled"
    assert statuses == ["canceled"]
    assert client.messages(message.sid).fetch().status == "canceled"
    assert len(receiver.for_message(message.sid)) == 1
    assert _error(lambda: client.messages(message.sid).update(status="canceled")) == (400, 30409)


def test_scheduling_errors(isolated_server: Callable[..., TextrelayServer]) -> None:
    server = isolated_server()
    client, service_sid, number = _service_with_number(server)
    now = datetime.now(UTC)

    def schedule(at: datetime, **kwargs: str) -> object:
        return client.messages.create(
            to="+14155550182", body="x", schedule_type="fixed", send_at=at, **kwargs
        )

    assert _error(
        lambda: schedule(now + timedelta(minutes=5), messaging_service_sid=service_sid)
    ) == (
        400,
        35114,
    )
    assert _error(
        lambda: schedule(now + timedelta(days=36), messaging_service_sid=service_sid)
    ) == (
        400,
        35115,
    )
    assert _error(lambda: schedule(now + timedelta(hours=1), from_=number)) == (400, 35118)


def test_deleting_a_service_cancels_its_scheduled_messages(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    client, service_sid, _number = _service_with_number(server)
    message = client.messages.create(
        to="+14155550183",
        messaging_service_sid=service_sid,
        body="orphan",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(hours=1),
        status_callback=receiver.url(),
    )

    client.messaging.v1.services(service_sid).delete()

    assert receiver.statuses(message.sid, count=1) == ["canceled"]
    assert client.messages(message.sid).fetch().status == "canceled"


def test_a_message_queued_past_its_validity_period_fails_with_30036(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client, service_sid, number = _service_with_number(server, validity_period=60)
    message = client.messages.create(
        to="+14155550184",
        from_=number,
        messaging_service_sid=service_sid,
        body="stale",
        status_callback=receiver.url(),
    )
    with server.control() as control:
        control.wait_idle(message.sid)  # submitted, its first report parked for a step
        _advance(server, 61)
        stepped = control.step(message.sid)

    assert (stepped["status"], stepped["error_code"]) == ("failed", 30036)
    assert receiver.statuses(message.sid, count=1) == ["failed"]
    assert receiver.for_message(message.sid)[0].params["ErrorCode"] == "30036"


def test_a_short_code_sends_as_from_when_the_account_owns_it(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    with server.control(account) as control:
        control.provision_short_code("60606")
        message = client.messages.create(to="+14155550185", from_="60606", body="code")
        final = control.wait_until_final(message.sid)
    stranger = server.client(server.new_account())

    assert (message.from_, final) == ("60606", "delivered")
    assert _error(lambda: stranger.messages.create(to="+14155550185", from_="60606", body="x")) == (
        400,
        21660,
    )
    assert _error(lambda: client.messages.create(to="+14155550185", from_="70707", body="x")) == (
        400,
        21606,
    )


def test_removing_a_sender_keeps_its_messages_in_flight(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server(simulator_mode="manual")
    client, service_sid, number = _service_with_number(server)
    message = client.messages.create(
        to="+14155550186",
        messaging_service_sid=service_sid,
        body="x",
        status_callback=receiver.url(),
    )
    # Assigning a sender is the service's work, not the carrier's: it happens in manual
    # mode too, and the message then waits, queued, for its first step.
    assert receiver.statuses(message.sid, count=1) == ["queued"]
    with server.control() as control:
        number_sid = client.incoming_phone_numbers.list(phone_number=number)[0].sid
        client.messaging.v1.services(service_sid).phone_numbers(number_sid).delete()
        sent = control.step(message.sid)
        delivered = control.step(message.sid)

    assert receiver.for_message(message.sid)[0].params["From"] == number
    assert (sent["status"], delivered["status"], delivered["from"]) == ("sent", "delivered", number)


def test_sticky_senders_survive_a_restart(
    tmp_path: Path, database: DatabaseUnderTest, fresh_database: Callable[[], str]
) -> None:
    url = fresh_database()
    with TextrelayServer(Settings(database_url=url, media_dir=str(tmp_path))) as first:
        client, service_sid, number = _service_with_number(first)
        message = client.messages.create(
            to="+12125550187", messaging_service_sid=service_sid, body="1"
        )
        with first.control() as control:
            control.wait_until_final(message.sid)
    with TextrelayServer(Settings(database_url=url, media_dir=str(tmp_path))) as second:
        client = second.client()
        better = client.incoming_phone_numbers.create(area_code="212")
        client.messaging.v1.services(service_sid).phone_numbers.create(phone_number_sid=better.sid)
        again = client.messages.create(
            to="+12125550187", messaging_service_sid=service_sid, body="2"
        )
        with second.control() as control:
            control.wait_until_final(again.sid)
        assert client.messages(again.sid).fetch().from_ == number


def test_country_geomatch_prefers_a_sender_of_the_recipients_country(
    server: TextrelayServer, client: Client, account: Account, sender: str
) -> None:
    service = client.messaging.v1.services.create(friendly_name="geo", sticky_sender=False)
    london = client.incoming_phone_numbers.create(phone_number="+447700900555")
    for number_sid in (client.incoming_phone_numbers.list(phone_number=sender)[0].sid, london.sid):
        service.phone_numbers.create(phone_number_sid=number_sid)

    to_uk = client.messages.create(to="+447700900124", messaging_service_sid=service.sid, body="a")
    to_us = client.messages.create(to="+14155550188", messaging_service_sid=service.sid, body="b")
    to_fr = client.messages.create(to="+33612345678", messaging_service_sid=service.sid, body="c")

    with server.control(account) as control:
        for message in (to_uk, to_us, to_fr):
            control.wait_until_final(message.sid)
    senders = [client.messages(m.sid).fetch().from_ for m in (to_uk, to_us, to_fr)]

    # No French number: a US number is the fallback (messaging-and-webhooks.md §2).
    assert senders == ["+447700900555", sender, sender]


def test_a_scheduled_message_survives_a_restart_and_fires_on_time(
    fresh_database: Callable[[], str], receiver: Receiver
) -> None:
    url = fresh_database()
    settings = Settings(database_url=url, schedule_min_ahead_s=1)
    with TextrelayServer(settings) as first:
        client, service_sid, _number = _service_with_number(first)
        send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        message = client.messages.create(
            to="+14155550189",
            messaging_service_sid=service_sid,
            body="after the restart",
            schedule_type="fixed",
            send_at=send_at,
            status_callback=receiver.url(),
        )
    assert receiver.for_message(message.sid) == []
    with TextrelayServer(settings) as second:
        statuses = receiver.statuses(message.sid, count=3, timeout_s=10)
        sent = second.client().messages(message.sid).fetch()

    assert statuses == ["queued", "sent", "delivered"]
    assert sent.date_sent is not None
    assert sent.date_sent >= send_at
