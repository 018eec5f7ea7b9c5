"""Messages through the official twilio client: create, fetch, list, page, filter, update,
delete (shared/twilio/api-core.md §2.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from textrelay.domain.accounts import Account
from textrelay.domain.statuses import MessageStatus
from textrelay.settings import Settings
from textrelay.testing import TextrelayServer


def set_status(server: TextrelayServer, sid: str, status: MessageStatus) -> None:
    """Move a message to `status` directly in the store (the delivery pipeline's job)."""
    from dataclasses import replace

    async def run(rt):  # type: ignore[no-untyped-def]
        async with rt.services.messages._ctx.store.transaction() as repo:
            message = await repo.messages.get(sid)
            await repo.messages.update(replace(message, status=status))

    server.call(run)


def test_create_returns_a_queued_outbound_message(
    client: Client, account: Account, sender: str
) -> None:
    message = client.messages.create(to="+14155550199", from_=sender, body="Hello! 👍")

    assert message.sid is not None
    assert message.sid.startswith("SM")
    assert len(message.sid) == 34
    assert message.account_sid == account.sid
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.from_ == sender
    assert message.to == "+14155550199"
    assert message.body == "Hello! 👍"
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.date_sent is None
    assert message.error_code is None
    assert message.price is None
    assert message.api_version == "2010-04-01"
    assert isinstance(message.date_created, datetime)
    assert message.uri == f"/2010-04-01/Accounts/{account.sid}/Messages/{message.sid}.json"


def test_fetch_returns_what_create_returned(client: Client, sender: str) -> None:
    created = client.messages.create(to="+14155550199", from_=sender, body="fetch me")

    fetched = client.messages(created.sid).fetch()

    assert fetched.sid == created.sid
    assert fetched.body == "fetch me"
    assert fetched.date_created == created.date_created


def test_list_pages_newest_first_across_pages(client: Client, sender: str) -> None:
    sids = [
        client.messages.create(to="+14155550199", from_=sender, body=f"m{i}").sid for i in range(7)
    ]

    listed = client.messages.list(page_size=3)
    streamed = [m.sid for m in client.messages.stream(page_size=2)]
    limited = client.messages.list(limit=4, page_size=3)

    assert [m.sid for m in listed] == list(reversed(sids))
    assert streamed == list(reversed(sids))
    assert [m.sid for m in limited] == list(reversed(sids))[:4]


def test_list_filters_by_to_and_from(client: Client, sender: str) -> None:
    other_sender = client.incoming_phone_numbers.create(area_code="628").phone_number
    a = client.messages.create(to="+14155550111", from_=sender, body="a")
    b = client.messages.create(to="+14155550122", from_=sender, body="b")
    c = client.messages.create(to="+14155550111", from_=other_sender, body="c")

    assert {m.sid for m in client.messages.list(to="+14155550111")} == {a.sid, c.sid}
    assert {m.sid for m in client.messages.list(from_=sender)} == {a.sid, b.sid}
    assert [m.sid for m in client.messages.list(to="+14155550111", from_=other_sender)] == [c.sid]


def test_delete_in_flight_is_refused_then_allowed_once_complete(
    server: TextrelayServer, client: Client
) -> None:
    # Twilio's magic sender: its messages stay queued, so this one is still in flight.
    message = client.messages.create(to="+14155550199", from_="+15005550006", body="bye")

    with pytest.raises(TwilioRestException) as refused:
        client.messages(message.sid).delete()
    set_status(server, message.sid, MessageStatus.DELIVERED)
    deleted = client.messages(message.sid).delete()

    assert (refused.value.status, refused.value.code) == (400, 20009)
    assert deleted is True
    with pytest.raises(TwilioRestException) as gone:
        client.messages(message.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_redact_empties_the_body_and_keeps_the_rest(
    server: TextrelayServer, client: Client, sender: str
) -> None:
    message = client.messages.create(to="+14155550199", from_=sender, body="secret")
    set_status(server, message.sid, MessageStatus.DELIVERED)

    redacted = client.messages(message.sid).update(body="")

    assert redacted.body == ""
    assert redacted.to == "+14155550199"
    assert client.messages(message.sid).fetch().body == ""


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, 30400),
        ({"body": "not empty"}, 30400),
        ({"status": "delivered"}, 30400),
        ({"status": "canceled"}, 30409),
    ],
)
def test_bad_updates_are_refused(
    client: Client, sender: str, kwargs: dict[str, str], code: int
) -> None:
    message = client.messages.create(to="+14155550199", from_=sender, body="x")

    with pytest.raises(TwilioRestException) as error:
        client.messages(message.sid).update(**kwargs)

    assert (error.value.status, error.value.code) == (400, code)


def test_date_sent_filters(server: TextrelayServer, client: Client, sender: str) -> None:
    message = client.messages.create(to="+14155550199", from_=sender, body="dated")
    sent_at = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)

    async def mark_sent(rt):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        async with rt.services.messages._ctx.store.transaction() as repo:
            stored = await repo.messages.get(message.sid)
            await repo.messages.update(
                replace(stored, status=MessageStatus.SENT, date_sent=sent_at)
            )

    server.call(mark_sent)

    assert [m.sid for m in client.messages.list(date_sent=sent_at)] == [message.sid]
    assert [
        m.sid for m in client.messages.list(date_sent_after=datetime(2024, 2, 3, tzinfo=UTC))
    ] == [message.sid]
    assert [
        m.sid
        for m in client.messages.list(date_sent_before=datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC))
    ] == [message.sid]
    assert client.messages.list(date_sent_before=datetime(2024, 2, 2, tzinfo=UTC)) == []
    assert client.messages.list(date_sent_after=datetime(2024, 2, 4, tzinfo=UTC)) == []


def test_auto_provision_senders_provisions_an_unknown_from(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/auto.db", auto_provision_senders=True)
    with TextrelayServer(settings) as server:
        client = server.client(server.new_account())
        other = server.client(server.new_account())
        taken = other.incoming_phone_numbers.create(area_code="415").phone_number

        message = client.messages.create(to="+14155550199", from_="+14155550142", body="hi")
        numbers = [n.phone_number for n in client.incoming_phone_numbers.list()]
        with pytest.raises(TwilioRestException) as mismatch:
            client.messages.create(to="+14155550199", from_=taken, body="hi")

    assert message.from_ == "+14155550142"
    assert numbers == ["+14155550142"]
    assert (mismatch.value.status, mismatch.value.code) == (400, 21660)
