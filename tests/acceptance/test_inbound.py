"""Two-way messaging end to end: a handset texts a number, the app's webhook (a real receiver)
gets Twilio's parameters, signed, and its TwiML answer becomes replies; STOP holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.control import ControlError
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

HANDSET = "+14155550190"

# A real SMS capture's parameter names (messaging-and-webhooks.md §5.1).
INBOUND_PARAMS = {
    "ToCountry",
    "ToState",
    "SmsMessageSid",
    "NumMedia",
    "ToCity",
    "FromZip",
    "SmsSid",
    "FromState",
    "SmsStatus",
    "FromCity",
    "Body",
    "FromCountry",
    "To",
    "ToZip",
    "NumSegments",
    "ReferralNumMedia",
    "MessageSid",
    "AccountSid",
    "From",
    "ApiVersion",
}


def _twiml(*bodies: str, **attributes: str) -> str:
    response = MessagingResponse()
    for body in bodies:
        response.message(body, **attributes)
    return str(response)


def _number(client: Client, sms_url: str | None = None, method: str = "POST") -> str:
    kwargs = {"sms_url": sms_url, "sms_method": method} if sms_url else {}
    number: str = client.incoming_phone_numbers.create(area_code="415", **kwargs).phone_number
    return number


def test_a_text_reaches_the_webhook_signed_and_its_twiml_reply_goes_back(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.answer("/sms", _twiml("Thanks, got it")))

    with server.control(account) as control:
        inbound = control.text(HANDSET, number, "hello there")
        reply = control.wait_for_message(HANDSET, after=inbound["sid"], timeout_s=10)
        thread = control.conversation(HANDSET, number)
    call = receiver.to_path("/sms")[0]

    assert (inbound["direction"], inbound["status"]) == ("inbound", "received")
    assert set(call.params) == INBOUND_PARAMS
    assert call.params["MessageSid"] == call.params["SmsSid"] == inbound["sid"]
    assert (call.params["From"], call.params["To"]) == (HANDSET, number)
    assert (call.params["Body"], call.params["SmsStatus"]) == ("hello there", "received")
    assert (call.params["FromCountry"], call.params["FromState"]) == ("US", "CA")
    assert call.valid_for(account.auth_token)
    assert (reply["direction"], reply["from"], reply["body"]) == (
        "outbound-reply",
        number,
        "Thanks, got it",
    )
    assert [m["body"] for m in thread] == ["hello there", "Thanks, got it"]
    assert client.messages(inbound["sid"]).fetch().direction == "inbound"


def test_get_webhooks_carry_the_parameters_in_the_query(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.answer("/get", _twiml("via GET")), method="GET")

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "hi")
        reply = control.wait_for_message(HANDSET, after=sent["sid"], timeout_s=10)
    call = receiver.to_path("/get")[0]

    assert call.method == "GET"
    assert "Body=hi" in call.path
    assert reply["body"] == "via GET"


def test_several_messages_plain_text_and_empty_answers(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    several = _number(client, receiver.answer("/two", _twiml("one", "two")))
    plain = _number(client, receiver.answer("/plain", "plain words", content_type="text/plain"))
    empty = _number(client, receiver.answer("/empty", "", status=204))

    with server.control(account) as control:
        for number in (several, plain, empty):
            control.text(HANDSET, number, "go")
        two = control.wait_for_message(HANDSET, contains="two", timeout_s=10)
        words = control.wait_for_message(HANDSET, contains="plain words", timeout_s=10)
        receiver.wait_for(lambda rs: any(r.path == "/empty" for r in rs))
        silent = control.conversation(HANDSET, empty)

    assert (two["from"], words["from"]) == (several, plain)
    assert [m["body"] for m in control_free_bodies(server, account, several)] == [
        "go",
        "one",
        "two",
    ]
    assert [m["direction"] for m in silent] == ["inbound"]


def control_free_bodies(
    server: TextrelayServer, account: Account, number: str
) -> list[dict[str, str]]:
    with server.control(account) as control:
        return control.conversation(HANDSET, number)


def test_a_redirect_fetches_more_twiml(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    receiver.answer("/next", _twiml("from the redirect"))
    first = '<?xml version="1.0" encoding="UTF-8"?><Response><Redirect>/next</Redirect></Response>'
    number = _number(client, receiver.answer("/first", first))

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "redirect me")
        reply = control.wait_for_message(HANDSET, after=sent["sid"], timeout_s=10)

    assert reply["body"] == "from the redirect"
    assert receiver.to_path("/next")[0].params["MessageSid"] == sent["sid"]


@pytest.mark.parametrize(
    ("status", "content_type", "body", "code"),
    [
        (500, "text/xml", "<Response/>", 11200),
        (200, "text/xml", "<Response><Message>unclosed</Response>", 12100),
        (200, "application/json", "{}", 12300),
    ],
)
def test_a_failing_webhook_goes_to_the_fallback_with_the_error(
    server: TextrelayServer,
    client: Client,
    account: Account,
    receiver: Receiver,
    status: int,
    content_type: str,
    body: str,
    code: int,
) -> None:
    primary = receiver.answer("/broken", body, status=status, content_type=content_type)
    fallback = receiver.answer("/fallback", _twiml("fallback reply"))
    number = client.incoming_phone_numbers.create(
        area_code="415", sms_url=primary, sms_fallback_url=fallback
    ).phone_number

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "are you there")
        reply = control.wait_for_message(HANDSET, after=sent["sid"], timeout_s=10)
        # The replies go out before the webhook job records its attempts: wait for both.
        attempts = eventually(
            lambda: control.callbacks(sent["sid"]),
            until=lambda recorded: len(recorded) >= 2,
            what="both webhook attempts recorded",
        )
    fallback_call = receiver.to_path("/fallback")[0]

    assert reply["body"] == "fallback reply"
    assert fallback_call.params["ErrorCode"] == str(code)
    assert fallback_call.params["ErrorUrl"] == primary
    assert fallback_call.valid_for(account.auth_token)
    assert [a["error_code"] for a in attempts] == [code, None]


def test_without_a_fallback_a_failure_is_recorded_and_nothing_is_sent(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.answer("/bad", "nope", content_type="application/json"))

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "hello?")
        receiver.wait_for(lambda rs: any(r.path == "/bad" for r in rs))
        # The attempt is recorded just after the receiver answers.
        attempts = eventually(
            lambda: control.callbacks(sent["sid"]), timeout_s=5, what="the attempt recorded"
        )
        thread = control.conversation(HANDSET, number)

    assert [a["error_code"] for a in attempts] == [12300]
    assert [m["direction"] for m in thread] == ["inbound"]


def test_more_than_ten_replies_send_none(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.answer("/many", _twiml(*[f"r{i}" for i in range(11)])))

    with server.control(account) as control:
        control.text(HANDSET, number, "flood")
        receiver.wait_for(lambda rs: any(r.path == "/many" for r in rs))
        ok = _number(client, receiver.answer("/one", _twiml("just one")))
        sent = control.text(HANDSET, ok, "then")
        control.wait_for_message(HANDSET, after=sent["sid"], timeout_s=10)
        flooded = control.conversation(HANDSET, number)

    assert [m["direction"] for m in flooded] == ["inbound"]


def test_a_reply_action_gets_the_replys_status_callbacks(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.answer("/act", _twiml("tracked", action="/reply-status")))

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "track it")
        reply = control.wait_for_message(HANDSET, after=sent["sid"], timeout_s=10)

    assert receiver.statuses(reply["sid"], count=2) == ["sent", "delivered"]
    assert {r.path for r in receiver.for_message(reply["sid"])} == {"/reply-status"}


def test_a_number_without_a_webhook_still_stores_the_message(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    number = _number(client)

    with server.control(account) as control:
        sent = control.text(HANDSET, number, "anyone?")

    assert client.messages(sent["sid"]).fetch().body == "anyone?"
    assert [m.sid for m in client.messages.list(to=number)] == [sent["sid"]]


def test_texting_a_number_of_another_account_is_refused(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    stranger = server.client(server.new_account())
    theirs = _number(stranger)

    with server.control(account) as control, pytest.raises(ControlError) as refused:
        control.text(HANDSET, theirs, "hi")

    assert refused.value.status == 400


# --- opt-out ---------------------------------------------------------------------------------


def test_stop_blocks_later_sends_and_start_lifts_it(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = _number(client, receiver.url("/ok"))

    with server.control(account) as control:
        stop = control.text(HANDSET, number, "  stop ")
        confirmation = control.wait_for_message(HANDSET, after=stop["sid"], timeout_s=10)
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=HANDSET, from_=number, body="promo")
        listed = control.opt_outs()
        start = control.text(HANDSET, number, "START")
        welcome = control.wait_for_message(HANDSET, after=start["sid"], timeout_s=10)
        allowed = client.messages.create(to=HANDSET, from_=number, body="welcome back")

    assert confirmation["body"].startswith("You have successfully been unsubscribed.")
    assert (refused.value.status, refused.value.code) == (400, 21610)
    assert [(o["recipient"], o["sender"]) for o in listed] == [(HANDSET, number)]
    assert welcome["body"].startswith("You have successfully been re-subscribed")
    assert allowed.status == "queued"
    # The keyword still reached the app's webhook (a job of its own, which may finish after
    # the auto-reply is stored).
    receiver.wait_for(lambda requests: len(requests) >= 2)
    assert [r.params["Body"] for r in receiver.to_path("/ok")] == ["  stop ", "START"]


def test_the_first_stop_on_a_fresh_server_holds_for_the_very_next_send(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    """While nobody has opted out, creates skip the opt-out probe (services/cache.Presence,
    one second at a time); the first STOP ends that at once, not a second later."""
    server = isolated_server()
    client = server.client()
    number = _number(client)
    before = client.messages.create(to=HANDSET, from_=number, body="before")  # learns "none"

    with server.control() as control:
        control.text(HANDSET, number, "STOP")
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=HANDSET, from_=number, body="after")

    assert before.status == "queued"
    assert (refused.value.status, refused.value.code) == (400, 21610)


def test_help_replies_and_a_stop_in_a_service_covers_the_whole_service(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    service = client.messaging.v1.services.create(friendly_name="opt-out scope")
    numbers = [client.incoming_phone_numbers.create(area_code="415") for _ in range(2)]
    for number in numbers:
        service.phone_numbers.create(phone_number_sid=number.sid)
    other = _number(client)

    with server.control(account) as control:
        help_sent = control.text(HANDSET, numbers[0].phone_number, "help")
        help_reply = control.wait_for_message(HANDSET, after=help_sent["sid"], timeout_s=10)
        stop = control.text(HANDSET, numbers[0].phone_number, "STOP")
        control.wait_for_message(HANDSET, after=stop["sid"], timeout_s=10)

    def send(**kwargs: str) -> object:
        return client.messages.create(to=HANDSET, body="x", **kwargs)

    assert help_reply["body"] == "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
    assert _code(lambda: send(from_=numbers[1].phone_number)) == 21610
    assert _code(lambda: send(messaging_service_sid=service.sid)) == 21610
    assert send(from_=other) is not None  # another sender is not covered


def _code(call: Callable[[], object]) -> int:
    with pytest.raises(TwilioRestException) as refused:
        call()
    return int(refused.value.code or 0)


def test_cookies_the_app_sets_come_back_for_the_same_pair_of_numbers(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    url = receiver.answer(
        "/cookies", "<Response/>", headers={"Set-Cookie": "session=abc123; Path=/; HttpOnly"}
    )
    number = _number(client, url)

    with server.control(account) as control:
        control.text(HANDSET, number, "one")
        receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/cookies"]) >= 1)
        control.text(HANDSET, number, "two")
        control.text("+14155550111", number, "someone else")
        calls = receiver.wait_for(lambda rs: len([r for r in rs if r.path == "/cookies"]) >= 3)
    by_body = {r.params["Body"]: r.headers.get("Cookie") for r in calls if r.path == "/cookies"}

    assert by_body == {"one": None, "two": "session=abc123", "someone else": None}


def test_a_scheduled_message_to_a_handset_that_opted_out_since_fails_with_21610(
    isolated_server: Callable[..., TextrelayServer], receiver: Receiver
) -> None:
    server = isolated_server()
    client = server.client()
    number = client.incoming_phone_numbers.create(area_code="415")
    service = client.messaging.v1.services.create(friendly_name="scheduled opt-out")
    service.phone_numbers.create(phone_number_sid=number.sid)
    message = client.messages.create(
        to=HANDSET,
        messaging_service_sid=service.sid,
        body="reminder",
        schedule_type="fixed",
        send_at=datetime.now(UTC) + timedelta(minutes=30),
        status_callback=receiver.url(),
    )

    with server.control() as control:
        control.text(HANDSET, number.phone_number, "STOP")
        control.advance_clock(31 * 60)
        final = control.wait_until_final(message.sid)

    assert (final, client.messages(message.sid).fetch().error_code) == ("failed", 21610)
    assert receiver.statuses(message.sid, count=1) == ["failed"]
