"""Job payloads as stored (JSON) and read back: what a worker of another version reads too."""

from __future__ import annotations

import orjson

from textrelay.domain.jobs import JobKind, StatusCallback, payload_from_json

SENT = (("MessageStatus", "sent"), ("MessageSid", "SM" + "a" * 32))
DELIVERED = (("MessageStatus", "delivered"), ("MessageSid", "SM" + "a" * 32))


def _callback(params: tuple[tuple[str, str], ...], token: str) -> StatusCallback:
    return StatusCallback(
        account_sid="AC" + "b" * 32, url="https://app.example/status", params=params, token=token
    )


def _round_trip(payload: StatusCallback) -> object:
    return payload_from_json(JobKind.CALLBACK, orjson.loads(orjson.dumps(payload.to_json())))


def test_callbacks_promised_together_are_one_payload_sent_in_order() -> None:
    both = _callback(SENT, "t1").followed_by(_callback(DELIVERED, "t2"))

    assert both.steps() == ((SENT, "t1"), (DELIVERED, "t2"))
    assert _round_trip(both) == both


def test_the_rest_of_a_payload_from_a_step_on_keeps_its_tokens() -> None:
    both = _callback(SENT, "t1").followed_by(_callback(DELIVERED, "t2"))

    rest = both.from_step(1)

    assert rest.steps() == ((DELIVERED, "t2"),)
    assert rest.url == both.url
    assert rest.account_sid == both.account_sid


def test_a_single_callback_is_stored_as_before_and_a_stored_one_still_reads() -> None:
    one = _callback(SENT, "t1")

    assert "later" not in one.to_json()  # a worker of the version before reads it
    assert _round_trip(one) == one
