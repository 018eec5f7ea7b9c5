"""The outbound lifecycle's pure rules (domain/lifecycle): the statuses a step passes through
(path_to) and what one status change does to a message (advance). messaging-and-webhooks.md
§3 (statuses), §10 (price), §11 (error codes)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain import codes
from textrelay.domain.lifecycle import IllegalTransition, advance, path_to, raw_dlr_done_date
from textrelay.domain.messages import Message
from textrelay.domain.statuses import Direction, MessageStatus, can_transition

S = MessageStatus
CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER = CREATED + timedelta(seconds=3)

# Every pair path_to can reach, with the statuses passed on the way (the outcome last).
# Any pair not here, including a status to itself, has no path.
REACHABLE: dict[tuple[MessageStatus, MessageStatus], tuple[MessageStatus, ...]] = {
    (S.QUEUED, S.SENDING): (S.SENDING,),
    (S.QUEUED, S.SENT): (S.SENT,),
    (S.QUEUED, S.FAILED): (S.FAILED,),
    (S.QUEUED, S.DELIVERED): (S.SENDING, S.SENT, S.DELIVERED),
    (S.QUEUED, S.UNDELIVERED): (S.SENDING, S.SENT, S.UNDELIVERED),
    (S.QUEUED, S.READ): (S.SENDING, S.SENT, S.DELIVERED, S.READ),
    (S.SENDING, S.SENT): (S.SENT,),
    (S.SENDING, S.FAILED): (S.FAILED,),
    (S.SENDING, S.DELIVERED): (S.SENT, S.DELIVERED),
    (S.SENDING, S.UNDELIVERED): (S.SENT, S.UNDELIVERED),
    (S.SENDING, S.READ): (S.SENT, S.DELIVERED, S.READ),
    (S.SENT, S.FAILED): (S.FAILED,),
    (S.SENT, S.DELIVERED): (S.DELIVERED,),
    (S.SENT, S.UNDELIVERED): (S.UNDELIVERED,),
    (S.SENT, S.READ): (S.DELIVERED, S.READ),
    (S.DELIVERED, S.READ): (S.READ,),
    (S.RECEIVING, S.RECEIVED): (S.RECEIVED,),
    **{
        (start, end): path
        for start in (S.ACCEPTED, S.SCHEDULED)
        for end, path in {
            S.QUEUED: (S.QUEUED,),
            S.SENDING: (S.QUEUED, S.SENDING),
            S.SENT: (S.QUEUED, S.SENT),
            S.FAILED: (S.FAILED,),
            S.CANCELED: (S.CANCELED,),
            S.DELIVERED: (S.QUEUED, S.SENDING, S.SENT, S.DELIVERED),
            S.UNDELIVERED: (S.QUEUED, S.SENDING, S.SENT, S.UNDELIVERED),
            # `read` would be a fifth change: beyond a step (which never asks for it).
        }.items()
    },
}

ALL_PAIRS = list(itertools.product(MessageStatus, repeat=2))


@pytest.mark.parametrize(
    ("current", "outcome"),
    [pair for pair in ALL_PAIRS if pair in REACHABLE],
    ids=lambda s: str(s),
)
def test_path_to_passes_through_the_expected_statuses(
    current: MessageStatus, outcome: MessageStatus
) -> None:
    assert path_to(current, outcome) == REACHABLE[current, outcome]


@pytest.mark.parametrize(
    ("current", "outcome"),
    [pair for pair in ALL_PAIRS if pair not in REACHABLE],
    ids=lambda s: str(s),
)
def test_path_to_an_unreachable_status_is_empty(
    current: MessageStatus, outcome: MessageStatus
) -> None:
    assert path_to(current, outcome) == ()


@pytest.mark.parametrize(("current", "outcome"), list(REACHABLE))
def test_every_path_is_a_chain_of_legal_transitions(
    current: MessageStatus, outcome: MessageStatus
) -> None:
    path = path_to(current, outcome)
    steps = itertools.pairwise((current, *path))

    assert all(can_transition(before, after) for before, after in steps)
    assert path[-1] is outcome


# --- advance --------------------------------------------------------------------------------


def message(status: MessageStatus = S.QUEUED, **changes: object) -> Message:
    base = Message(
        sid="SM" + "0" * 32,
        account_sid="AC" + "0" * 32,
        direction=Direction.OUTBOUND_API,
        status=status,
        from_="+14155559999",
        to="+14155550100",
        body="hello",
        num_segments=1,
        num_media=0,
        date_created=CREATED,
        date_updated=CREATED,
        price=None,
        price_unit="USD",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "status"),
    [pair for pair in ALL_PAIRS if not can_transition(*pair)],
    ids=lambda s: str(s),
)
def test_an_illegal_change_raises_and_names_the_message(
    current: MessageStatus, status: MessageStatus
) -> None:
    with pytest.raises(IllegalTransition, match=f"SM0+: {current} -> {status}"):
        advance(message(current), status, at=LATER)


@pytest.mark.parametrize(
    ("current", "status"),
    [pair for pair in ALL_PAIRS if can_transition(*pair)],
    ids=lambda s: str(s),
)
def test_a_legal_change_sets_the_status_and_date_updated_only(
    current: MessageStatus, status: MessageStatus
) -> None:
    before = message(current)

    after = advance(before, status, at=LATER)

    expected = {"status": status, "date_updated": LATER}
    if status is S.SENT:
        expected["date_sent"] = LATER
    assert dataclasses.replace(before, **expected) == after  # type: ignore[arg-type]
    assert before.status is current  # the message given is left as it was


def test_sent_records_date_sent_and_later_changes_keep_it() -> None:
    sent = advance(message(S.SENDING), S.SENT, at=LATER)
    delivered = advance(sent, S.DELIVERED, at=LATER + timedelta(seconds=5))

    assert sent.date_sent == LATER
    assert delivered.date_sent == LATER
    assert delivered.date_updated == LATER + timedelta(seconds=5)


@pytest.mark.parametrize("status", [S.SENDING, S.FAILED])
def test_only_sent_sets_date_sent(status: MessageStatus) -> None:
    assert advance(message(S.QUEUED), status, at=LATER).date_sent is None


def test_a_price_is_recorded_with_its_unit() -> None:
    sent = advance(message(S.SENDING), S.SENT, at=LATER, price="-0.04000", price_unit="EUR")

    assert (sent.price, sent.price_unit) == ("-0.04000", "EUR")


@pytest.mark.parametrize("unit", [None, ""])
def test_a_price_without_a_unit_keeps_the_messages_unit(unit: str | None) -> None:
    sent = advance(message(S.SENDING), S.SENT, at=LATER, price="-0.00790", price_unit=unit)

    assert (sent.price, sent.price_unit) == ("-0.00790", "USD")


def test_a_unit_without_a_price_changes_nothing() -> None:
    sent = advance(message(S.SENDING), S.SENT, at=LATER, price_unit="EUR")

    assert (sent.price, sent.price_unit) == (None, "USD")


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (30003, "Unreachable destination handset"),
        (30006, "Landline or unreachable carrier"),
        (30007, "Message filtered"),
        (30036, "Validity Period Expired"),
    ],
)
def test_an_error_code_brings_its_message(code: int, text: str) -> None:
    undelivered = advance(message(S.SENT), S.UNDELIVERED, at=LATER, error_code=code)

    assert (undelivered.error_code, undelivered.error_message) == (code, text)


@pytest.mark.parametrize("code", sorted(codes.DELIVERY_ERRORS))
def test_every_delivery_error_brings_its_catalogue_message(code: int) -> None:
    failed = advance(message(S.QUEUED), S.FAILED, at=LATER, error_code=code)

    assert failed.error_message == codes.DELIVERY_ERRORS[code].message


def test_an_error_code_textrelay_does_not_know_is_an_unknown_error() -> None:
    failed = advance(message(S.QUEUED), S.FAILED, at=LATER, error_code=21610)

    assert (failed.error_code, failed.error_message) == (21610, "Unknown error")


def test_without_an_error_code_an_earlier_error_is_kept() -> None:
    earlier = message(
        S.DELIVERED, error_code=30003, error_message="Unreachable destination handset"
    )

    read = advance(earlier, S.READ, at=LATER)

    assert (read.error_code, read.error_message) == (30003, "Unreachable destination handset")


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2199, 12, 31)))
def test_raw_dlr_done_date_is_yymmddhhmm(at: datetime) -> None:
    assert raw_dlr_done_date(at) == at.strftime("%y%m%d%H%M")
