"""The upstream carrier end to end: a gateway textrelay relays messages through another
textrelay's Twilio API and learns their fate from its signed status callbacks.

Two real servers on 127.0.0.1: the upstream (a plain textrelay, its simulator delivering) and
the gateway, a `textrelay serve` process started with a carriers file. The gateway's carriers:

* `relay`: the upstream, with its main account's credentials (every message not matched below);
* `scripted`: a receiver answering what a test scripts (a Twilio error, 429, 503, 201), for
  messages to +1212…;
* `down`: nothing listening, for messages to +1646….

The gateway runs on a port picked before it starts, since the carriers file gives the
upstream its callback URL. The official twilio client drives both servers; Twilio's
RequestValidator checks the callbacks.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.processes import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port
from tests.receiver import Receiver
from tests.waiting import eventually
from textrelay.client import client as make_client
from textrelay.control import Control
from textrelay.testing import TextrelayServer

RELAY = "relay"
SCRIPTED = "scripted"
DOWN = "down"
SCRIPTED_SID = "AC" + "5c" * 16
SCRIPTED_TOKEN = "a1" * 16
SCRIPTED_TO = "+1212"
DOWN_TO = "+1646"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
FINAL = {"delivered", "undelivered", "failed"}


def _number(prefix: str = "+1415") -> str:
    return f"{prefix}{200 + secrets.randbelow(800):03d}{secrets.randbelow(10000):04d}"


@dataclass
class Relay:
    gateway: ServerProcess
    upstream: TextrelayServer
    scripted: Receiver
    """Answers the `scripted` carrier's creates as a test says."""
    client: Client
    """The gateway's main account."""
    upstream_client: Client
    """The account the gateway relays through."""
    sender: str
    """A number both accounts own."""

    def callback_url(self, carrier: str) -> str:
        return f"{self.gateway.base_url}/textrelay/v1/Carriers/{carrier}/StatusCallback"

    def control(self) -> Control:
        return Control(self.gateway.base_url, ACCOUNT_SID, AUTH_TOKEN)

    def status(self, sid: str) -> tuple[str, int | None]:
        message = self.client.messages(sid).fetch()
        return message.status, message.error_code

    def wait_final(self, sid: str, timeout_s: float = 15.0) -> tuple[str, int | None]:
        return eventually(
            lambda: self.status(sid),
            until=lambda found: found[0] in FINAL,
            timeout_s=timeout_s,
            what=f"{sid} final on the gateway",
        )

    def script(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """What the scripted upstream answers to every create from now on."""
        self.scripted.answer(
            f"/2010-04-01/Accounts/{SCRIPTED_SID}/Messages.json",
            json.dumps(body),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    def scripted_creates(self) -> list[Any]:
        return self.scripted.to_path(f"/2010-04-01/Accounts/{SCRIPTED_SID}/Messages.json")


def _carriers_file(gateway_url: str, upstream: TextrelayServer, scripted: Receiver) -> str:
    main = upstream.main_account
    return f"""
[[carrier]]
name = "{RELAY}"
type = "upstream"
base_url = "{upstream.base_url}"
account_sid = "{main.sid}"
auth_token = "{main.auth_token}"
callback_base_url = "{gateway_url}"
timeout_s = 5

[[carrier]]
name = "{SCRIPTED}"
type = "upstream"
base_url = "{scripted.base_url}"
account_sid = "{SCRIPTED_SID}"
auth_token = "{SCRIPTED_TOKEN}"
callback_base_url = "{gateway_url}"
timeout_s = 5
submit_retries = 1

[[carrier]]
name = "{DOWN}"
type = "upstream"
base_url = "http://127.0.0.1:{free_port()}"
account_sid = "AC{"d0" * 16}"
auth_token = "{"d0" * 16}"
callback_base_url = "{gateway_url}"
timeout_s = 2

[[route]]
to_prefix = ["{SCRIPTED_TO}"]
carrier = "{SCRIPTED}"

[[route]]
to_prefix = ["{DOWN_TO}"]
carrier = "{DOWN}"

[[route]]
carrier = "{RELAY}"
"""


@pytest.fixture
def relay(
    fresh_database: Callable[[], str],
    isolated_server: Callable[..., TextrelayServer],
    tmp_path: Path,
) -> Iterator[Relay]:
    upstream = isolated_server()
    with Receiver() as scripted:
        port = free_port()
        carriers = tmp_path / "carriers.toml"
        carriers.write_text(_carriers_file(f"http://127.0.0.1:{port}", upstream, scripted))
        gateway = ServerProcess(
            fresh_database(),
            log_path=tmp_path / "gateway.log",
            port=str(port),
            carriers=str(carriers),
        ).start()
        try:
            client = make_client(gateway.base_url, ACCOUNT_SID, AUTH_TOKEN)
            upstream_client = upstream.client()
            sender = client.incoming_phone_numbers.create(phone_number=_number()).phone_number
            upstream_client.incoming_phone_numbers.create(phone_number=sender)
            yield Relay(gateway, upstream, scripted, client, upstream_client, sender)
        finally:
            gateway.stop()


def _signed_post(
    url: str, params: dict[str, str], token: str, *, to: str | None = None
) -> httpx.Response:
    """A request as an upstream sends it, signed over `url` with `token`, posted to
    `to` (default: `url`)."""
    signature = RequestValidator(token).compute_signature(url, params)
    return httpx.post(to or url, data=params, headers={"X-Twilio-Signature": signature})


def test_a_relayed_message_reaches_the_upstream_and_its_delivery_comes_back_signed(
    relay: Relay, receiver: Receiver
) -> None:
    to = _number("+1415")
    png = receiver.answer("/cat.png", PNG, content_type="image/png")
    card = receiver.answer("/cat-2.png", PNG, content_type="image/png")

    message = relay.client.messages.create(
        to=to,
        from_=relay.sender,
        body="hello through the relay",
        media_url=[png, card],
        status_callback=receiver.url("/app"),
    )
    statuses = receiver.statuses(message.sid, count=2, timeout_s=15)
    upstream_messages = eventually(
        lambda: relay.upstream_client.messages.list(to=to),
        what="the relayed message on the upstream",
    )
    relayed = upstream_messages[0]
    callbacks = receiver.for_message(message.sid)
    with relay.control() as control:
        record = control.carrier_record(message.sid)
        state = eventually(
            lambda: next(c for c in control.carriers() if c["name"] == RELAY),
            until=lambda found: found["counters"]["receipts"] >= 2,
            what="both of the upstream's callbacks (sent, delivered) counted",
        )

    assert message.status == "queued"
    assert statuses == ["sent", "delivered"]
    assert relay.status(message.sid) == ("delivered", None)
    assert len(upstream_messages) == 1
    assert (relayed.to, relayed.from_, relayed.body) == (to, relay.sender, message.body)
    assert (relayed.num_media, relayed.status) == ("2", "delivered")
    # The app's callbacks are the gateway's own, signed with the gateway account's token.
    assert all(c.valid_for(AUTH_TOKEN) for c in callbacks)
    assert not any(c.valid_for(relay.upstream.main_account.auth_token) for c in callbacks)
    assert {c.params["MessageSid"] for c in callbacks} == {message.sid}
    # What was exchanged with the upstream, as the console shows it.
    assert record["carrier"] == RELAY
    assert [r["reference"] for r in record["references"]] == [relayed.sid]
    commands = [(e["direction"], e["command"]) for e in record["exchanged"]]
    assert commands[:2] == [("sent", "POST Messages.json"), ("received", "HTTP 201")]
    create = record["exchanged"][0]["fields"]
    assert create["StatusCallback"] == relay.callback_url(RELAY)
    assert create["MediaUrl"] == f"{png} {card}"
    assert relay.upstream.main_account.auth_token not in json.dumps(record)
    assert record["exchanged"][1]["fields"]["sid"] == relayed.sid
    assert state["up"] is True
    assert state["counters"]["submitted"] == 1


def test_the_upstreams_delivery_failures_become_the_gateway_messages_with_their_codes(
    relay: Relay, receiver: Receiver
) -> None:
    # The upstream's simulator: +1555013XXXX is sent then undelivered, +1555023XXXX failed.
    undelivered = relay.client.messages.create(
        to="+15550130003", from_=relay.sender, body="x", status_callback=receiver.url()
    )
    failed = relay.client.messages.create(
        to="+15550230004", from_=relay.sender, body="y", status_callback=receiver.url()
    )

    assert relay.wait_final(undelivered.sid) == ("undelivered", 30003)
    assert relay.wait_final(failed.sid) == ("failed", 30004)
    assert receiver.statuses(undelivered.sid, count=2) == ["sent", "undelivered"]
    assert receiver.statuses(failed.sid, count=2) == ["sent", "failed"]
    last = receiver.for_message(failed.sid)[-1]
    assert last.params["ErrorCode"] == "30004"
    assert last.valid_for(AUTH_TOKEN)


def test_an_upstream_that_refuses_the_create_fails_the_message_with_30008(
    relay: Relay, receiver: Receiver
) -> None:
    # A number the gateway's account owns and the upstream's does not: 21606 there.
    theirs = relay.client.incoming_phone_numbers.create(phone_number=_number()).phone_number

    message = relay.client.messages.create(
        to=_number(), from_=theirs, body="refused", status_callback=receiver.url()
    )

    assert relay.wait_final(message.sid) == ("failed", 30008)
    assert receiver.statuses(message.sid, count=1) == ["failed"]
    assert relay.upstream_client.messages.list() == []
    with relay.control() as control:
        answer = control.carrier_record(message.sid)["exchanged"][1]
    assert (answer["command"], answer["status"]) == ("HTTP 400", 400)
    assert answer["fields"]["error"].startswith("21606 ")


def test_a_refusal_naming_a_delivery_code_keeps_it(relay: Relay) -> None:
    relay.script(400, {"code": 30007, "message": "Message filtered", "status": 400})

    message = relay.client.messages.create(to=_number(SCRIPTED_TO), from_=relay.sender, body="z")

    assert relay.wait_final(message.sid) == ("failed", 30007)
    (create,) = relay.scripted_creates()
    assert create.params["StatusCallback"] == relay.callback_url(SCRIPTED)
    assert (create.params["To"], create.params["From"], create.params["Body"]) == (
        message.to,
        relay.sender,
        "z",
    )
    credentials = base64.b64encode(f"{SCRIPTED_SID}:{SCRIPTED_TOKEN}".encode()).decode()
    assert create.headers["Authorization"] == f"Basic {credentials}"


def test_a_busy_upstream_is_tried_again_after_its_retry_after(relay: Relay) -> None:
    relay.script(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "1"})
    message = relay.client.messages.create(to=_number(SCRIPTED_TO), from_=relay.sender, body="b")

    # Three refusals, past submit_retries = 1: a busy upstream is not a failed attempt.
    eventually(lambda: len(relay.scripted_creates()), until=lambda n: n >= 3, timeout_s=10)
    still = relay.status(message.sid)
    upstream_sid = "SM" + secrets.token_hex(16)
    relay.script(201, {"sid": upstream_sid, "status": "queued"})
    eventually(lambda: relay.status(message.sid), until=lambda s: s[0] == "sent")
    delivered = _signed_post(
        relay.callback_url(SCRIPTED),
        {"MessageSid": upstream_sid, "MessageStatus": "delivered", "AccountSid": SCRIPTED_SID},
        SCRIPTED_TOKEN,
    )

    assert still == ("queued", None)
    assert delivered.status_code == 204
    assert relay.wait_final(message.sid) == ("delivered", None)
    with relay.control() as control:
        exchanged = control.carrier_record(message.sid)["exchanged"]
    answers = [e["command"] for e in exchanged if e["direction"] == "received"]
    assert answers[:3] == ["HTTP 429"] * 3
    assert answers[-2:] == ["HTTP 201", "POST StatusCallback"]
    assert exchanged[-1]["fields"]["MessageStatus"] == "delivered"


def test_an_upstream_failing_with_5xx_is_tried_again_then_fails_with_30008(relay: Relay) -> None:
    relay.script(503, {"code": 20503, "message": "Service Unavailable"}, {"Retry-After": "0"})

    message = relay.client.messages.create(to=_number(SCRIPTED_TO), from_=relay.sender, body="c")

    assert relay.wait_final(message.sid) == ("failed", 30008)
    assert len(relay.scripted_creates()) == 2  # the first try and submit_retries = 1


def test_an_upstream_that_is_down_leaves_the_message_queued_and_retried(relay: Relay) -> None:
    message = relay.client.messages.create(to=_number(DOWN_TO), from_=relay.sender, body="d")

    with relay.control() as control:
        tries = eventually(
            lambda: [
                e
                for e in control.carrier_record(message.sid)["exchanged"]
                if e["command"] == "no answer"
            ],
            until=lambda found: len(found) >= 3,
            timeout_s=15,
            what="three tries without an answer",
        )
        jobs = control.pending_jobs(message.sid)
        carriers = {c["name"]: c for c in control.carriers()}

    assert relay.status(message.sid) == ("queued", None)
    assert [job["kind"] for job in jobs] == ["dispatch"]
    assert "ConnectError" in tries[0]["fields"]["error"]
    assert carriers[DOWN]["up"] is False
    assert carriers[DOWN]["binds"][0]["last_error"]
    assert carriers[DOWN]["counters"]["rejected"] >= 3


def test_a_status_callback_must_carry_the_upstreams_signature(relay: Relay) -> None:
    url = relay.callback_url(RELAY)
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    upstream_token = relay.upstream.main_account.auth_token

    unsigned = httpx.post(url, data=params)
    forged = httpx.post(url, data=params, headers={"X-Twilio-Signature": "AAAA"})
    gateway_token = _signed_post(url, params, AUTH_TOKEN)
    tampered = httpx.post(
        url,
        data=params,
        headers={
            "X-Twilio-Signature": RequestValidator(upstream_token).compute_signature(
                url, {**params, "MessageStatus": "failed"}
            )
        },
    )
    # The URL signed is the one the upstream was given, whatever the request arrived at
    # (here `localhost` for 127.0.0.1, as a proxy's Host would differ).
    elsewhere = _signed_post(url, params, upstream_token, to=url.replace("127.0.0.1", "localhost"))
    unknown = _signed_post(relay.callback_url("nobody"), params, upstream_token)
    simulator = _signed_post(relay.callback_url("simulator"), params, upstream_token)
    read = httpx.get(url)

    for refused in (unsigned, forged, gateway_token, tampered):
        assert refused.status_code == 403
        assert refused.json()["code"] == 20403
        assert set(refused.json()) == {"code", "message", "more_info", "status"}
        assert "WWW-Authenticate" not in refused.headers
    assert (elsewhere.status_code, elsewhere.content) == (204, b"")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)
    assert (simulator.status_code, simulator.json()["code"]) == (404, 20404)
    assert read.status_code == 405


# --- handsets' messages through the upstream ----------------------------------------------


def _incoming_url(relay: Relay, carrier: str = RELAY) -> str:
    return f"{relay.gateway.base_url}/textrelay/v1/Carriers/{carrier}/IncomingMessage"


def _set_sms_url(client: Client, number: str, url: str) -> None:
    (owned,) = client.incoming_phone_numbers.list(phone_number=number)
    owned.update(sms_url=url, sms_method="POST")


def test_a_handsets_message_through_the_upstream_reaches_the_app_and_its_reply_goes_back(
    relay: Relay, receiver: Receiver
) -> None:
    handset = _number("+1415")
    app = receiver.answer("/sms", "<Response><Message>pong</Message></Response>")
    _set_sms_url(relay.client, relay.sender, app)
    # At the upstream, the number's incoming message webhook is the gateway's.
    _set_sms_url(relay.upstream_client, relay.sender, _incoming_url(relay))

    with relay.upstream.control() as upstream:
        sent = upstream.text(handset, relay.sender, "ping", media=[("image/png", PNG)])
        reply = upstream.wait_for_message(handset, contains="pong", timeout_s=15)
    (webhook,) = receiver.wait_for(lambda rs: any(r.path == "/sms" for r in rs))
    (received,) = relay.client.messages.list(from_=handset, to=relay.sender)
    media = relay.client.messages(received.sid).media.list()
    content = httpx.get(
        webhook.params["MediaUrl0"], auth=(ACCOUNT_SID, AUTH_TOKEN), follow_redirects=True
    )
    with relay.control() as control:
        record = control.carrier_record(received.sid)
        counters = next(c for c in control.carriers() if c["name"] == RELAY)["counters"]

    # The gateway stored the handset's message for the account that owns the number.
    assert (received.direction, received.status, received.body) == ("inbound", "received", "ping")
    assert received.num_media == "1"
    assert [m.content_type for m in media] == ["image/png"]
    # The app's webhook is the gateway's own: its SID, its media URL, its account's signature.
    assert webhook.params["MessageSid"] == received.sid
    assert (webhook.params["From"], webhook.params["To"]) == (handset, relay.sender)
    assert webhook.params["NumMedia"] == "1"
    assert webhook.params["MediaUrl0"].startswith(f"{relay.gateway.base_url}/2010-04-01/")
    assert webhook.valid_for(AUTH_TOKEN)
    assert (content.status_code, content.content) == (200, PNG)
    # The app's TwiML reply went out through the upstream, from the same number.
    assert (reply["from"], reply["body"]) == (relay.sender, "pong")
    (outbound,) = relay.client.messages.list(to=handset)
    assert (outbound.direction, outbound.body) == ("outbound-reply", "pong")
    # The console shows what the upstream sent: its webhook and the attachment fetched.
    assert [r["reference"] for r in record["references"]] == [sent["sid"]]
    commands = [(e["direction"], e["command"]) for e in record["exchanged"]]
    assert commands == [("received", "POST IncomingMessage"), ("received", "GET media")]
    assert record["exchanged"][0]["fields"]["MessageSid"] == sent["sid"]
    assert record["exchanged"][1]["fields"]["bytes"] == str(len(PNG))
    assert counters["received"] == 1


def test_an_incoming_message_must_be_signed_and_is_stored_once(relay: Relay) -> None:
    url = _incoming_url(relay)
    token = relay.upstream.main_account.auth_token
    handset = _number("+1415")
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": relay.upstream.main_account.sid,
        "From": handset,
        "To": relay.sender,
        "Body": "once",
        "NumMedia": "0",
    }

    first = _signed_post(url, params, token)
    again = _signed_post(url, params, token)
    unsigned = httpx.post(url, data=params)
    gateway_token = _signed_post(url, params, AUTH_TOKEN)
    # Signed for the status callback URL: a signature is good for one URL only.
    other_url = _signed_post(relay.callback_url(RELAY), params, token, to=url)
    unknown = _signed_post(_incoming_url(relay, "nobody"), params, token)
    nobodys = _signed_post(
        url, {**params, "MessageSid": "SM" + secrets.token_hex(16), "To": _number()}, token
    )
    stored = relay.client.messages.list(from_=handset)
    with relay.control() as control:
        counters = next(c for c in control.carriers() if c["name"] == RELAY)["counters"]

    for taken in (first, again, nobodys):
        assert taken.status_code == 200
        assert taken.headers["Content-Type"].startswith("text/xml")
        assert taken.content == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert [m.body for m in stored] == ["once"]
    assert (counters["received"], counters["received_again"]) == (1, 1)
    assert counters["unrouted_received"] == 1
    for refused in (unsigned, gateway_token, other_url):
        assert (refused.status_code, refused.json()["code"]) == (403, 20403)
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)


def test_an_incoming_messages_attachments_elsewhere_are_fetched_without_the_credentials(
    relay: Relay, receiver: Receiver
) -> None:
    token = relay.upstream.main_account.auth_token
    handset = _number("+1415")
    png = receiver.answer("/cat.png", PNG, content_type="image/png")
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "From": handset,
        "To": relay.sender,
        "Body": "two attachments, one gone",
        "NumMedia": "2",
        "MediaUrl0": receiver.url("/status/404"),
        "MediaContentType0": "image/png",
        "MediaUrl1": png,
        "MediaContentType1": "image/png",
    }

    answer = _signed_post(_incoming_url(relay), params, token)
    (received,) = relay.client.messages.list(from_=handset)
    fetches = [r for r in receiver.requests if r.method == "GET"]
    with relay.control() as control:
        exchanged = control.carrier_record(received.sid)["exchanged"]

    assert answer.status_code == 200
    # The one that could not be fetched is left out; the text and the other are kept.
    assert (received.body, received.num_media) == (params["Body"], "1")
    assert [r.path for r in fetches] == ["/status/404", "/cat.png"]
    # The upstream's credentials go to the upstream's own host only.
    assert not any("Authorization" in r.headers for r in fetches)
    gone, kept = exchanged[1]["fields"], exchanged[2]["fields"]
    assert gone["url"] == params["MediaUrl0"]
    assert gone["error"].startswith("11200 ")
    assert (kept["url"], kept["content_type"]) == (png, "image/png")
