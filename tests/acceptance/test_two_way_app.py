"""The example webhook app (examples/webhook_app.py) against textrelay: a handset texts "hi",
the app checks the signature, answers two <Message>s (one with media and an action URL), and
everything arrives where Twilio would send it."""

from __future__ import annotations

import httpx
from examples.webhook_app import PIXEL, create_app
from twilio.rest import Client

from tests.apps import serving
from tests.waiting import eventually
from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

HANDSET = "+14155550191"


def test_a_handset_texts_the_example_app_and_gets_both_replies(
    server: TextrelayServer, client: Client, account: Account
) -> None:
    app = create_app(account.auth_token)
    with serving(app) as app_url:
        number = client.incoming_phone_numbers.create(
            area_code="415", sms_url=f"{app_url}/sms"
        ).phone_number
        with server.control(account) as control:
            sent = control.text(HANDSET, number, "hi")
            replies = eventually(
                lambda: control.received(HANDSET, after=sent["sid"]),
                until=lambda found: len(found) >= 2,
                what="both replies did not arrive",
            )
            picture = next(r for r in replies if r["num_media"] == "1")
            control.wait_until_final(picture["sid"])
            eventually(lambda: len(app.state.statuses) >= 2, what="the app's two status callbacks")

    bodies = sorted(r["body"] for r in replies)
    media = client.messages(picture["sid"]).media.list()
    content = httpx.get(
        f"{server.base_url}{media[0].uri.removesuffix('.json')}",
        auth=(account.sid, account.auth_token),
    )

    assert bodies == ["And here is a picture", "You said: hi"]
    assert {r["direction"] for r in replies} == {"outbound-reply"}
    assert picture["sid"].startswith("MM")
    assert [s["MessageStatus"] for s in app.state.statuses] == ["sent", "delivered"]
    assert {s["MessageSid"] for s in app.state.statuses} == {picture["sid"]}
    assert media[0].content_type == "image/png"
    assert content.content == PIXEL
    assert content.headers["content-type"] == "image/png"
