"""GSM-7 / UCS-2 segment counting (shared/twilio/messaging-and-webhooks.md §7.1-7.2)."""

from __future__ import annotations

import pytest

from textrelay.domain.segments import Encoding, body_length, count_segments


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 1530, 10),
        ("€" * 80, 1),  # extension characters take two septets: 160
        ("€" * 81, 2),
        ("[]{}\\^~|\f€", 1),
    ],
)
def test_gsm7_segments(body: str, segments: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.GSM7
    assert counted.segments == segments


def test_extension_pair_never_straddles_a_segment() -> None:
    # 152 septets then an escape pair: 154 > 153, so the pair starts the second segment.
    counted = count_segments("a" * 152 + "€" + "a" * 10)

    assert counted.units == 152 + 2 + 10
    assert counted.segments == 2


def test_escape_pairs_push_into_a_third_segment() -> None:
    # 306 septets would fill exactly two segments of 153, but the first '€' does not fit after
    # 152 'a' (152 + 2 > 153): segment one wastes a septet and the last 'a' needs a third.
    counted = count_segments("a" * 152 + "€" * 76 + "aa")

    assert counted.units == 306
    assert counted.segments == 3


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("ç" * 70, 1),
        ("ç" * 71, 2),
        ("ç" * 134, 2),
        ("ç" * 135, 3),
        ("😀" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, 2),
        ("a" * 66 + "😀", 1),  # 68 units: more than 67, but a single segment holds 70
    ],
)
def test_ucs2_segments(body: str, segments: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.UCS2
    assert counted.segments == segments


def test_surrogate_pair_never_straddles_a_segment() -> None:
    counted = count_segments("a" * 66 + "😀" + "a" * 10)

    assert counted.units == 66 + 2 + 10
    assert counted.segments == 2  # 66 | 😀 + 10: the pair moved whole


def test_one_non_gsm_character_switches_the_whole_message() -> None:
    counted = count_segments("Hello ` world ç`")

    assert counted.encoding is Encoding.UCS2
    assert counted.non_gsm_characters == ("`", "ç")


def test_gsm_lookalikes_stay_gsm() -> None:
    assert count_segments("Ç é è ù ì ò Ø å Δ Ω £ ¥ § ¿ ¡ ß").encoding is Encoding.GSM7


@pytest.mark.parametrize(
    ("body", "length"), [("", 0), ("abc", 3), ("€", 1), ("ç", 1), ("😀", 2), ("a😀b", 4)]
)
def test_body_length_counts_utf16_units(body: str, length: int) -> None:
    assert body_length(body) == length
