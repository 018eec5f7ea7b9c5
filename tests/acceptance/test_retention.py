"""Bounded storage (issue 15 #6): a server with `retention_days` forgets messages older than
that, as the official twilio client sees it, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.waiting import eventually
from textrelay.testing import TextrelayServer

DAY_S = 86_400
HANDSET = "+14155550123"


def _kept_line(server: TextrelayServer) -> str:
    """What the console's account page says of retention (the console link signs in)."""
    with httpx.Client(base_url=server.base_url) as browser:
        browser.get(server.console_url)
        page = browser.get("/console/account").text
    start = page.index('<span id="retention">') + len('<span id="retention">')
    return page[start : page.index("</span>", start)]


def _gone(client: Client, sid: str) -> bool:
    try:
        client.messages(sid).fetch()
    except TwilioRestException as exc:
        return (exc.status, exc.code) == (404, 20404)
    return False


def test_messages_older_than_the_retention_disappear_and_newer_ones_stay(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server(retention_days=2)
    account = server.new_account()
    client = server.client(account)
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    old_sent = client.messages.create(to=HANDSET, from_=number, body="old, sent").sid
    with server.control(account) as handset:
        old_received = handset.text(HANDSET, number, "old, pictured", media=[("image/png", b"x")])
    media = client.messages(old_received["sid"]).media.list()
    assert len(media) == 1
    media_file = Path(str(server.settings.media_dir)) / media[0].sid
    assert media_file.exists()
    eventually(
        lambda: client.messages(old_sent).fetch().status,
        until=lambda status: status == "delivered",
        what="the old message delivered",
    )

    with server.control() as operator:  # the server's main account moves the clock
        operator.advance_clock(3 * DAY_S)
    new_sent = client.messages.create(to=HANDSET, from_=number, body="new").sid

    eventually(
        lambda: _gone(client, old_sent) and _gone(client, old_received["sid"]),
        what="the old messages deleted by the retention sweep",
    )
    assert client.messages(new_sent).fetch().body == "new"
    assert [m.sid for m in client.messages.list()] == [new_sent]
    with pytest.raises(TwilioRestException) as refused:
        client.messages(old_received["sid"]).media(media[0].sid).fetch()
    assert (refused.value.status, refused.value.code) == (404, 20404)
    assert not media_file.exists()
    assert _kept_line(server) == (
        "messages are kept for 2 days, then deleted with their media and history"
    )


def test_without_retention_old_messages_are_kept(
    isolated_server: Callable[..., TextrelayServer],
) -> None:
    server = isolated_server()
    account = server.new_account()
    client = server.client(account)
    number = client.incoming_phone_numbers.create(area_code="415").phone_number
    old = client.messages.create(to=HANDSET, from_=number, body="old").sid

    with server.control() as operator:
        operator.advance_clock(400 * DAY_S)

    assert client.messages(old).fetch().body == "old"
    assert _kept_line(server) == "messages are kept indefinitely"
