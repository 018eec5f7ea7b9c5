"""Relative validity periods (domain/smpp/validity.py; shared/carriers/smpp-facts.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain.smpp.validity import MAX_RELATIVE_SECONDS, relative_validity


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (36000, "000000100000000R"),  # Twilio's longest ValidityPeriod: 10 hours
        (14400, "000000040000000R"),  # Twilio's default: 4 hours
        (0, "000000000000000R"),
        (1, "000000000001000R"),
        (59, "000000000059000R"),
        (60, "000000000100000R"),
        (86399, "000000235959000R"),
        (86400, "000001000000000R"),
        (90061, "000001010101000R"),
        (MAX_RELATIVE_SECONDS, "000099235959000R"),
        (MAX_RELATIVE_SECONDS + 1, "000099235959000R"),  # capped
        (10**12, "000099235959000R"),
    ],
)
def test_relative_validity(seconds: int, expected: str) -> None:
    assert relative_validity(seconds) == expected


def test_a_negative_period() -> None:
    with pytest.raises(ValueError, match="negative"):
        relative_validity(-1)


@given(st.integers(0, MAX_RELATIVE_SECONDS))
def test_the_format_holds_the_period(seconds: int) -> None:
    text = relative_validity(seconds)
    years, months, days, hours, minutes, secs = (int(text[i : i + 2]) for i in range(0, 12, 2))

    assert len(text) == 16
    assert text.endswith("000R")
    assert (years, months) == (0, 0)
    assert (hours < 24, minutes < 60, secs < 60) == (True, True, True)
    assert days * 86400 + hours * 3600 + minutes * 60 + secs == seconds
