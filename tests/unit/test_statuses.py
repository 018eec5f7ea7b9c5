"""Message statuses and their transitions (messaging-and-webhooks.md §3, §8)."""

from __future__ import annotations

import pytest

from textrelay.domain.statuses import (
    CANCELABLE,
    IN_FLIGHT,
    TRANSITIONS,
    Direction,
    MessageStatus,
    can_transition,
)

S = MessageStatus

# §3, the edges of the synthesised diagram.
DOCUMENTED = [
    (S.QUEUED, S.SENDING),
    (S.SENDING, S.SENT),
    (S.SENT, S.DELIVERED),
    (S.DELIVERED, S.READ),
    (S.SENDING, S.FAILED),
    (S.SENT, S.UNDELIVERED),
    (S.ACCEPTED, S.QUEUED),
    (S.ACCEPTED, S.FAILED),
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.CANCELED),
    (S.SCHEDULED, S.FAILED),
    (S.RECEIVING, S.RECEIVED),
]

FORBIDDEN = [
    (S.DELIVERED, S.QUEUED),
    (S.DELIVERED, S.SENT),
    (S.SENT, S.QUEUED),
    (S.SENT, S.SENDING),
    (S.QUEUED, S.SCHEDULED),
    (S.QUEUED, S.ACCEPTED),
    (S.QUEUED, S.DELIVERED),  # delivery is only reported for a sent message
    (S.QUEUED, S.CANCELED),  # already handed to a sender (§8: 30409)
    (S.SENDING, S.CANCELED),
    (S.SENT, S.CANCELED),
    (S.QUEUED, S.RECEIVED),  # inbound and outbound never mix
    (S.RECEIVING, S.SENT),
    (S.RECEIVED, S.DELIVERED),
    (S.SCHEDULED, S.SENT),  # a scheduled message is queued first
    (S.QUEUED, S.QUEUED),
]

TERMINAL = {S.FAILED, S.UNDELIVERED, S.READ, S.CANCELED, S.RECEIVED, S.PARTIALLY_DELIVERED}


def test_status_values_are_the_specs_enum_in_order() -> None:
    assert [s.value for s in MessageStatus] == [
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    ]


def test_direction_values() -> None:
    assert {d.value for d in Direction} == {
        "inbound",
        "outbound-api",
        "outbound-call",
        "outbound-reply",
    }


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(MessageStatus)


@pytest.mark.parametrize(("current", "new"), DOCUMENTED)
def test_documented_transitions_are_allowed(current: MessageStatus, new: MessageStatus) -> None:
    assert can_transition(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_other_transitions_are_refused(current: MessageStatus, new: MessageStatus) -> None:
    assert not can_transition(current, new)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_final_statuses_go_nowhere(status: MessageStatus) -> None:
    assert TRANSITIONS[status] == frozenset()
    assert not any(can_transition(status, new) for new in MessageStatus)


def test_nothing_returns_to_an_initial_status() -> None:
    for targets in TRANSITIONS.values():
        assert S.SCHEDULED not in targets
        assert S.ACCEPTED not in targets
        assert S.RECEIVING not in targets


def test_in_flight() -> None:
    # Messages that may not be deleted yet (20009); `sent` counts as complete.
    assert {S.QUEUED, S.SENDING, S.ACCEPTED, S.SCHEDULED, S.RECEIVING} == IN_FLIGHT
    assert not IN_FLIGHT & TERMINAL
    assert all(TRANSITIONS[s] for s in IN_FLIGHT)


def test_cancelable() -> None:
    # §3/§8: only a message no sender holds yet may be canceled; others give 30409.
    assert {S.SCHEDULED, S.ACCEPTED} == CANCELABLE
    assert CANCELABLE <= IN_FLIGHT
    for status in MessageStatus:
        assert can_transition(status, S.CANCELED) is (status in CANCELABLE)
