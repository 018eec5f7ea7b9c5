"""Message create validation through the official twilio client: every refusal as
(HTTP status, Twilio code), the magic test numbers, and the edge cases create accepts
(shared/twilio/api-core.md §2.2, §4.2, §5; messaging-and-webhooks.md §7)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from textrelay.domain.accounts import Account
from textrelay.testing import TextrelayServer

TO = "+14155550199"
SENDER = "<the account's own number>"
"""Stands for the `sender` fixture in parameter tables, which are built before it exists."""


def refused(call: Callable[[], object]) -> tuple[int, int]:
    """(HTTP status, Twilio code) of the TwilioRestException that `call` raises."""
    with pytest.raises(TwilioRestException) as error:
        call()
    return error.value.status, error.value.code


def post_message(client: Client, data: dict[str, str]) -> dict[str, Any]:
    """POST Messages.json with exactly `data`, for what `messages.create` cannot send (no
    `To` at all, `Tags`), still through the client's own request and error handling."""
    path = f"Accounts/{client.account_sid}/Messages.json"
    payload: dict[str, Any] = client.api.v2010.create("POST", path, data=data)
    return payload


def unowned_number() -> str:
    """A US number no account provisions: random subscriber digits in a 415 exchange."""
    return f"+1415{200 + secrets.randbelow(800):03d}{secrets.randbelow(10000):04d}"


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        # Required parameters (api-core.md §4.2).
        pytest.param({"to": TO, "body": "x"}, 400, 21603, id="no-from"),
        pytest.param({"to": "", "from_": SENDER, "body": "x"}, 400, 21604, id="empty-to"),
        pytest.param({"to": TO, "from_": SENDER}, 400, 21602, id="no-body"),
        pytest.param({"to": TO, "from_": SENDER, "body": ""}, 400, 21602, id="empty-body"),
        # Content.
        pytest.param({"to": TO, "from_": SENDER, "body": "a" * 1601}, 400, 21617, id="body-1601"),
        # Emoji count as two UTF-16 units towards the 1600 limit (messaging §7.1).
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "😀" * 801}, 400, 21617, id="emoji-body-1602"
        ),
        pytest.param(
            {
                "to": TO,
                "from_": SENDER,
                "media_url": [f"https://example.com/{i}.png" for i in range(11)],
            },
            400,
            21623,
            id="eleven-media",
        ),
        pytest.param(
            {"to": TO, "from_": SENDER, "media_url": ["ftp://x"]}, 400, 21620, id="media-ftp"
        ),
        pytest.param(
            {
                "to": TO,
                "from_": SENDER,
                "body": "x",
                "media_url": ["https://example.com/a.png", "not a url"],
            },
            400,
            21620,
            id="media-one-bad",
        ),
        # To.
        pytest.param({"to": "+1asd", "from_": SENDER, "body": "x"}, 400, 21211, id="to-letters"),
        pytest.param({"to": "+1415", "from_": SENDER, "body": "x"}, 400, 21211, id="to-short"),
        pytest.param(
            {"to": "whatsapp:hello", "from_": SENDER, "body": "x"}, 400, 21211, id="to-whatsapp"
        ),
        pytest.param(
            {"to": "fax:+14155550199", "from_": SENDER, "body": "x"}, 400, 21211, id="to-channel"
        ),
        # From.
        pytest.param({"to": TO, "from_": "+1asd", "body": "x"}, 400, 21212, id="from-letters"),
        pytest.param(
            {"to": TO, "from_": "Way Too Long ID", "body": "x"}, 400, 21212, id="from-alpha-long"
        ),
        pytest.param({"to": TO, "from_": "!!!", "body": "x"}, 400, 21212, id="from-symbols"),
        # textrelay's choice: no short code can be owned yet (docs/compatibility.md).
        pytest.param({"to": TO, "from_": "12345", "body": "x"}, 400, 21606, id="from-short-code"),
        # Magic From numbers (api-core.md §5).
        pytest.param({"to": TO, "from_": "+15005550001", "body": "x"}, 400, 21212, id="from-01"),
        pytest.param({"to": TO, "from_": "+15005550007", "body": "x"}, 400, 21606, id="from-07"),
        pytest.param({"to": TO, "from_": "+15005550008", "body": "x"}, 400, 21611, id="from-08"),
        # Magic To numbers (api-core.md §5).
        pytest.param({"to": "+15005550001", "from_": SENDER, "body": "x"}, 400, 21211, id="to-01"),
        pytest.param({"to": "+15005550002", "from_": SENDER, "body": "x"}, 400, 21612, id="to-02"),
        pytest.param({"to": "+15005550003", "from_": SENDER, "body": "x"}, 400, 21408, id="to-03"),
        pytest.param({"to": "+15005550004", "from_": SENDER, "body": "x"}, 400, 21610, id="to-04"),
        pytest.param({"to": "+15005550009", "from_": SENDER, "body": "x"}, 400, 21614, id="to-09"),
        pytest.param(
            {"to": "+15005550002", "from_": "+15005550006", "body": "x"},
            400,
            21612,
            id="magic-from-to-02",
        ),
        # Options.
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "x", "status_callback": "not a url"},
            400,
            21609,
            id="status-callback-text",
        ),
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "x", "status_callback": "ftp://example.com/cb"},
            400,
            21609,
            id="status-callback-ftp",
        ),
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "x", "validity_period": 0},
            400,
            21624,
            id="validity-0",
        ),
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "x", "validity_period": 36001},
            400,
            21624,
            id="validity-36001",
        ),
        pytest.param(
            {"to": TO, "from_": SENDER, "body": "x", "content_variables": '{"1": "a"}'},
            400,
            21654,
            id="content-variables-without-content-sid",
        ),
        # Messaging Services.
        pytest.param(
            {"to": TO, "messaging_service_sid": "MGnotvalid", "body": "x"},
            400,
            21705,
            id="service-malformed",
        ),
        pytest.param(
            {"to": TO, "messaging_service_sid": "MG" + "0" * 32, "body": "x"},
            404,
            21701,
            id="service-unknown",
        ),
        # Scheduling needs a Messaging Service (messaging-and-webhooks.md §8).
        pytest.param(
            {
                "to": TO,
                "from_": SENDER,
                "body": "x",
                "schedule_type": "fixed",
                "send_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            },
            400,
            35118,
            id="schedule-without-service",
        ),
        pytest.param(
            {
                "to": TO,
                "from_": SENDER,
                "body": "x",
                "send_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            },
            400,
            35118,
            id="send-at-without-service",
        ),
    ],
)
def test_create_is_refused(
    client: Client, sender: str, kwargs: dict[str, Any], status: int, code: int
) -> None:
    params = {name: sender if value == SENDER else value for name, value in kwargs.items()}

    assert refused(lambda: client.messages.create(**params)) == (status, code)
    assert client.messages.list() == []


def test_an_empty_post_asks_for_from_first(client: Client) -> None:
    # Observed on Twilio: an empty POST answers 21603 rather than 21604 (api-core.md §4.2).
    assert refused(lambda: post_message(client, {})) == (400, 21603)


def test_a_missing_to_is_refused(client: Client, sender: str) -> None:
    assert refused(lambda: post_message(client, {"From": sender, "Body": "x"})) == (400, 21604)


def test_from_not_owned_is_refused(client: Client) -> None:
    stranger = unowned_number()

    assert refused(lambda: client.messages.create(to=TO, from_=stranger, body="x")) == (
        400,
        21606,
    )
    assert refused(
        lambda: client.messages.create(to=TO, from_=f"whatsapp:{stranger}", body="x")
    ) == (400, 21606)


def test_from_owned_by_another_account_is_refused(server: TextrelayServer, client: Client) -> None:
    theirs = server.client(server.new_account()).incoming_phone_numbers.create(area_code="415")

    # Twilio's answer for a number that belongs to another account (api-core.md §4.2).
    assert refused(lambda: client.messages.create(to=TO, from_=theirs.phone_number, body="x")) == (
        400,
        21660,
    )


def test_a_released_number_can_no_longer_send(client: Client) -> None:
    number = client.incoming_phone_numbers.create(area_code="415")
    client.incoming_phone_numbers(number.sid).delete()

    assert refused(lambda: client.messages.create(to=TO, from_=number.phone_number, body="x")) == (
        400,
        21606,
    )


# --- fetch refusals --------------------------------------------------------------------------


def test_unknown_message_sid_is_not_found(client: Client) -> None:
    unknown = "SM" + "0" * 32

    assert refused(lambda: client.messages(unknown).fetch()) == (404, 20404)
    assert refused(lambda: client.messages("MM" + "0" * 32).fetch()) == (404, 20404)
    assert refused(lambda: client.messages("SMnotasid").fetch()) == (404, 20404)
    assert refused(lambda: client.messages(unknown).update(body="")) == (404, 20404)
    assert refused(lambda: client.messages(unknown).delete()) == (404, 20404)


def test_another_account_message_is_not_found(server: TextrelayServer, client: Client) -> None:
    other = server.client(server.new_account())
    theirs = other.messages.create(to=TO, from_="+15005550006", body="private")

    assert refused(lambda: client.messages(theirs.sid).fetch()) == (404, 20404)
    assert refused(lambda: client.messages(theirs.sid).delete()) == (404, 20404)
    assert other.messages(theirs.sid).fetch().body == "private"


# --- accepted edge cases ---------------------------------------------------------------------


def test_body_of_1600_characters_is_accepted(client: Client, sender: str) -> None:
    message = client.messages.create(to=TO, from_=sender, body="a" * 1600)

    assert message.status == "queued"
    assert message.body == "a" * 1600
    assert message.num_segments == "11"  # 1600 GSM-7 septets at 153 a segment


def test_magic_from_is_accepted_without_owning_it(client: Client, account: Account) -> None:
    message = client.messages.create(to=TO, from_="+15005550006", body="magic")

    assert message.status == "queued"
    assert message.from_ == "+15005550006"
    assert message.account_sid == account.sid
    assert message.date_sent is None
    assert message.price is None
    assert message.direction == "outbound-api"
    assert client.incoming_phone_numbers.list() == []


def test_media_urls_give_an_mm_sid(client: Client, sender: str) -> None:
    message = client.messages.create(
        to=TO,
        from_=sender,
        media_url=["https://example.com/a.png", "https://example.com/b.jpg"],
    )

    assert re.fullmatch(r"MM[0-9a-f]{32}", message.sid)
    assert message.num_media == "2"
    assert message.body == ""
    assert client.messages(message.sid).fetch().num_media == "2"


def test_ten_media_urls_are_accepted(client: Client, sender: str) -> None:
    urls = [f"https://example.com/{i}.png" for i in range(10)]

    message = client.messages.create(to=TO, from_=sender, body="ten", media_url=urls)

    assert message.num_media == "10"
    assert message.sid.startswith("MM")


def test_to_without_plus_is_read_in_the_sender_country(client: Client, sender: str) -> None:
    national = client.messages.create(to="4155550199", from_=sender, body="x")
    formatted = client.messages.create(to="(415) 555-0188", from_=sender, body="x")

    assert national.to == "+14155550199"
    assert formatted.to == "+14155550188"


def test_to_without_plus_follows_a_uk_sender(client: Client) -> None:
    uk_sender = client.incoming_phone_numbers.create(
        phone_number=f"+447400{secrets.randbelow(1_000_000):06d}"
    ).phone_number

    message = client.messages.create(to="07400123456", from_=uk_sender, body="cheers")

    assert message.to == "+447400123456"
    assert message.from_ == uk_sender


def test_whatsapp_to_counts_one_segment(client: Client, sender: str) -> None:
    message = client.messages.create(to=f"whatsapp:{TO}", from_=sender, body="w" * 400)

    assert message.to == f"whatsapp:{TO}"
    assert message.num_segments == "1"


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        pytest.param("a" * 160, "1", id="gsm-160"),
        pytest.param("a" * 161, "2", id="gsm-161"),
        pytest.param("a" * 306, "2", id="gsm-306"),
        pytest.param("a" * 307, "3", id="gsm-307"),
        pytest.param("€" * 80, "1", id="gsm-extension-160-septets"),
        pytest.param("€" * 81, "2", id="gsm-extension-162-septets"),
        pytest.param("ç" * 70, "1", id="ucs2-70"),
        pytest.param("ç" * 71, "2", id="ucs2-71"),
        pytest.param("a" * 69 + "ç", "1", id="one-non-gsm-character-70"),
        pytest.param("a" * 70 + "ç", "2", id="one-non-gsm-character-71"),
        pytest.param("😀" * 35, "1", id="emoji-70-units"),
        pytest.param("😀" * 36, "2", id="emoji-72-units"),
    ],
)
def test_segments(client: Client, sender: str, body: str, segments: str) -> None:
    message = client.messages.create(to=TO, from_=sender, body=body)

    assert message.num_segments == segments
    assert message.body == body


def test_tags_are_returned(client: Client, sender: str) -> None:
    tags = {"campaign": "spring", "tenant": "acme"}

    tagged = post_message(
        client, {"To": TO, "From": sender, "Body": "tagged", "Tags": json.dumps(tags)}
    )
    untagged = post_message(client, {"To": TO, "From": sender, "Body": "plain"})

    assert tagged["tags"] == tags
    assert untagged["tags"] == {}
    fetched = client.api.v2010.fetch(
        "GET", f"Accounts/{client.account_sid}/Messages/{tagged['sid']}.json"
    )
    assert fetched["tags"] == tags


@pytest.mark.parametrize("tags", ["not json", "[1, 2]", '{"n": 1}'])
def test_tags_that_are_not_an_object_of_strings_are_refused(
    client: Client, sender: str, tags: str
) -> None:
    data = {"To": TO, "From": sender, "Body": "x", "Tags": tags}

    assert refused(lambda: post_message(client, data)) == (400, 20001)


def test_alphanumeric_from_is_accepted(client: Client) -> None:
    message = client.messages.create(to=TO, from_="MyBrand", body="from a brand")

    assert message.from_ == "MyBrand"
    assert message.status == "queued"


@pytest.mark.parametrize("period", [1, 36000])
def test_validity_period_bounds_are_accepted(client: Client, sender: str, period: int) -> None:
    message = client.messages.create(to=TO, from_=sender, body="x", validity_period=period)

    assert message.status == "queued"


def test_status_callback_is_accepted(client: Client, sender: str) -> None:
    message = client.messages.create(
        to=TO, from_=sender, body="x", status_callback="https://example.com/status?x=1"
    )

    assert message.status == "queued"
