"""MMS media both ways, WhatsApp's customer-service window and read receipts, and the faults
a webhook or a MediaUrl can throw at textrelay."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.control import ControlError
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nEND:VCARD\n"


def _content(server: TextrelayServer, account: Account, uri: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}{uri.removesuffix('.json')}", auth=(account.sid, account.auth_token)
    )


def test_outbound_mms_media_is_fetched_kept_and_served(
    server: TextrelayServer, client: Client, account: Account, sender: str, receiver: Receiver
) -> None:
    png = receiver.answer("/cat.png", PNG, content_type="image/png")
    card = receiver.answer("/ada.vcf", VCARD, content_type="text/vcard")

    message = client.messages.create(
        to="+14155550192", from_=sender, body="two things", media_url=[png, card]
    )
    with server.control(account) as control:
        final = control.wait_until_final(message.sid)
    media = client.messages(message.sid).media.list()
    by_type = {m.content_type: m for m in media}
    vcard_via_client = client.request(
        "GET", f"{server.base_url}{by_type['text/vcard'].uri.removesuffix('.json')}"
    )

    assert (message.sid[:2], message.num_media, final) == ("MM", "2", "delivered")
    assert set(by_type) == {"image/png", "text/vcard"}
    assert all(m.parent_sid == message.sid and m.sid.startswith("ME") for m in media)
    assert _content(server, account, by_type["image/png"].uri).content == PNG
    assert vcard_via_client.status_code == 200
    assert vcard_via_client.text == VCARD
    assert client.messages(message.sid).media(by_type["image/png"].sid).fetch().content_type == (
        "image/png"
    )


def test_media_needs_credentials_and_is_deleted_with_its_message(
    server: TextrelayServer, client: Client, account: Account, sender: str, receiver: Receiver
) -> None:
    url = receiver.answer("/dog.png", PNG, content_type="image/png")
    message = client.messages.create(to="+14155550193", from_=sender, media_url=[url])
    with server.control(account) as control:
        control.wait_until_final(message.sid)
    uri = client.messages(message.sid).media.list()[0].uri

    anonymous = httpx.get(f"{server.base_url}{uri.removesuffix('.json')}")
    client.messages(message.sid).delete()
    gone = _content(server, account, uri)

    assert anonymous.status_code == 401
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("path", "content", "content_type", "code"),
    [
        ("/data.json", b"{}", "application/json", 12300),
        ("/missing.png", b"", "image/png", 11200),  # answered 404 below
        ("/huge.png", b"x" * (5 * 1024 * 1024 + 10), "image/png", 11751),
    ],
)
def test_unusable_media_fails_the_message_with_twilios_code(
    server: TextrelayServer,
    client: Client,
    account: Account,
    sender: str,
    receiver: Receiver,
    path: str,
    content: bytes,
    content_type: str,
    code: int,
) -> None:
    status = 404 if path == "/missing.png" else 200
    url = receiver.answer(path, content, content_type=content_type, status=status)

    message = client.messages.create(to="+14155550194", from_=sender, media_url=[url])
    with server.control(account) as control:
        final = control.wait_until_final(message.sid, timeout_s=20)

    assert (final, client.messages(message.sid).fetch().error_code) == ("failed", code)


def test_inbound_mms_reaches_the_webhook_with_textrelays_own_media_urls(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = client.incoming_phone_numbers.create(
        area_code="415", sms_url=receiver.url("/mms")
    ).phone_number

    with server.control(account) as control:
        sent = control.text("+14155550195", number, "look", media=[("image/png", PNG)])
    call = receiver.wait_for(lambda rs: any(r.path == "/mms" for r in rs))[-1]
    fetched = httpx.get(call.params["MediaUrl0"], auth=(account.sid, account.auth_token))

    assert sent["sid"].startswith("MM")
    assert (call.params["NumMedia"], call.params["MediaContentType0"]) == ("1", "image/png")
    assert call.params["MediaUrl0"].startswith(
        f"{server.base_url}/2010-04-01/Accounts/{account.sid}/Messages/{sent['sid']}/Media/ME"
    )
    assert fetched.content == PNG
    assert call.valid_for(account.auth_token)


def test_bodies_round_trip_every_unicode_plane_and_gsm_extensions(
    server: TextrelayServer, client: Client, account: Account, sender: str, receiver: Receiver
) -> None:
    body = "€[]{}|^~\\ ü ß ñ Ω 汉字 ＡＢ 🙂🚀 𝄞 \U000e0041 end"
    number = client.incoming_phone_numbers.create(
        area_code="415", sms_url=receiver.url("/unicode")
    ).phone_number

    outbound = client.messages.create(to="+14155550196", from_=sender, body=body)
    with server.control(account) as control:
        inbound = control.text("+14155550196", number, body)
    call = receiver.wait_for(lambda rs: any(r.path == "/unicode" for r in rs))[-1]

    assert client.messages(outbound.sid).fetch().body == body
    assert client.messages(inbound["sid"]).fetch().body == body
    assert call.params["Body"] == body


# --- WhatsApp ----------------------------------------------------------------------------------


def test_whatsapp_needs_the_customer_to_have_written_within_24_hours(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    ours, theirs = f"whatsapp:{number}", "whatsapp:+14155550197"

    cold = client.messages.create(to=theirs, from_=ours, body="hello first")
    template = client.messages.create(
        to=theirs, from_=ours, content_sid="HX" + "a" * 32, status_callback=receiver.url()
    )
    with server.control(account) as control:
        cold_final = control.wait_until_final(cold.sid)
        control.text(theirs, ours, "hi, it's me")
        warm = client.messages.create(
            to=theirs, from_=ours, body="now we can talk", status_callback=receiver.url()
        )
        warm_final = control.wait_until_final(warm.sid)
        control.wait_until_final(template.sid)
        read = control.read(warm.sid)

    assert (cold_final, client.messages(cold.sid).fetch().error_code) == ("failed", 63016)
    assert warm_final == "delivered"
    assert read["status"] == "read"
    statuses = receiver.statuses(warm.sid, count=3)
    last = receiver.for_message(warm.sid)[-1].params
    assert statuses == ["sent", "delivered", "read"]
    assert (last["EventType"], last["ChannelPrefix"], last["ChannelToAddress"]) == (
        "READ",
        "whatsapp",
        "+14155550197",
    )


def test_an_sms_message_cannot_be_marked_read(
    server: TextrelayServer, client: Client, account: Account, sender: str
) -> None:
    message = client.messages.create(to="+14155550198", from_=sender, body="sms")
    with server.control(account) as control:
        control.wait_until_final(message.sid)
        with pytest.raises(ControlError) as refused:
            control.read(message.sid)

    assert "WhatsApp" in str(refused.value)


# --- webhook faults ------------------------------------------------------------------------------


def test_an_xml_bomb_a_redirect_loop_and_a_silent_webhook_send_nothing(
    server: TextrelayServer, client: Client, account: Account, receiver: Receiver
) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<Response><Message>&lol2;</Message></Response>"
    )
    loop = '<?xml version="1.0"?><Response><Redirect>/loop</Redirect></Response>'
    numbers = {
        name: client.incoming_phone_numbers.create(area_code="415", sms_url=url).phone_number
        for name, url in (
            ("bomb", receiver.answer("/bomb", bomb)),
            ("loop", receiver.answer("/loop", loop)),
            ("silent", receiver.url("/slow/20000#rt=300&tt=600&rc=0")),
        )
    }

    with server.control(account) as control:
        sent = {
            name: control.text("+14155550199", number, "hi") for name, number in numbers.items()
        }
        receiver.wait_for(lambda rs: sum(r.path == "/loop" for r in rs) >= 50, timeout_s=20)

        def recorded(sid: str, at_least: int) -> list[dict[str, Any]]:
            return eventually(
                lambda: control.callbacks(sid),
                until=lambda found: len(found) >= at_least,
                what=f"{at_least} webhook attempt(s) of {sid} recorded",
            )

        attempts = {
            name: recorded(message["sid"], 50 if name == "loop" else 1)
            for name, message in sent.items()
        }
        replies = control.received("+14155550199")

    assert [a["error_code"] for a in attempts["bomb"]] == [12100]
    assert len(attempts["loop"]) == 50  # then 14106: no more documents, no reply
    assert [a["error_code"] for a in attempts["silent"]] == [11200]
    assert replies == []


def test_texting_an_unknown_number_is_refused_with_a_clear_error(
    server: TextrelayServer, account: Account
) -> None:
    with server.control(account) as control, pytest.raises(ControlError) as refused:
        control.text("+14155550199", "+14155559999", "hello?")

    assert "+14155559999" in str(refused.value)


def test_a_reply_to_an_opted_out_number_is_not_sent_but_the_api_says_why(
    client: Client, sender: str
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to="+15005550004", from_=sender, body="x")

    assert refused.value.code == 21610
