"""SIDs: generation, validation and explanation (shared/twilio/api-core.md §1)."""

from __future__ import annotations

import random
import re

import pytest

from textrelay.domain.sids import SidGenerator, SidType, explain, is_sid, normalize


def test_seeded_generator_is_deterministic_and_well_formed() -> None:
    first = SidGenerator(random.Random(1).randbytes)
    second = SidGenerator(random.Random(1).randbytes)

    sids = [first.new(SidType.MESSAGE) for _ in range(3)]

    assert sids == [second.new(SidType.MESSAGE) for _ in range(3)]
    assert len(set(sids)) == 3
    for sid in sids:
        assert re.fullmatch(r"SM[0-9a-f]{32}", sid)


def test_tokens_are_32_lowercase_hex() -> None:
    token = SidGenerator(random.Random(2).randbytes).new_hex()

    assert re.fullmatch(r"[0-9a-f]{32}", token)


@pytest.mark.parametrize(
    ("value", "types", "expected"),
    [
        ("SM" + "a" * 32, (), True),
        ("SM" + "A" * 32, (), True),
        ("MM" + "0" * 32, (SidType.MESSAGE, SidType.MMS_MESSAGE), True),
        ("SM" + "a" * 32, (SidType.ACCOUNT,), False),
        ("SM" + "a" * 31, (), False),
        ("SM" + "a" * 33, (), False),
        ("SM" + "g" * 32, (), False),
        ("sm" + "a" * 32, (), False),
        ("ZZ" + "a" * 32, (), False),
        ("", (), False),
    ],
)
def test_is_sid(value: str, types: tuple[SidType, ...], expected: bool) -> None:
    assert is_sid(value, *types) is expected


def test_normalize_lowercases_the_hex_only() -> None:
    assert normalize("SM" + "AB" * 16) == "SM" + "ab" * 16


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("SM" + "a" * 32, None),
        ("SM123", "34 characters"),
        ("sm" + "a" * 32, "two uppercase letters"),
        ("SM" + "x" * 32, "32 hexadecimal digits"),
        ("ZZ" + "a" * 32, "not one textrelay knows"),
    ],
)
def test_explain(value: str, problem: str | None) -> None:
    result = explain(value)

    if problem is None:
        assert result.well_formed
        assert result.kind is not None
        assert result.kind.resource == "Message (SMS)"
    else:
        assert not result.well_formed
        assert result.problem is not None
        assert problem in result.problem
