"""GSM-7 / UCS-2 segment counting (shared/twilio/messaging-and-webhooks.md §7.1-7.2)."""

from __future__ import annotations

import math
import random

import pytest

from textrelay.domain.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_MULTI_SEGMENT,
    GSM7_SINGLE_SEGMENT,
    MAX_BODY_CHARACTERS,
    UCS2_MULTI_SEGMENT,
    UCS2_SINGLE_SEGMENT,
    Encoding,
    body_length,
    count_segments,
    is_gsm7,
)

EMOJI = "😀"  # U+1F600, outside the BMP: a surrogate pair in UTF-16

# §7.2, spelled as the reference spells it: LF, CR and SP by name, ranges with an en dash.
_DOC_BASIC_SET = (
    "@ £ $ ¥ è é ù ì ò Ç LF Ø ø CR Å å Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ Æ æ ß É SP ! \" # ¤ % & ' ( ) * "
    "+ , - . / 0–9 : ; < = > ? ¡ A–Z Ä Ö Ñ Ü § ¿ a–z ä ö ñ ü à"
)


def _doc_basic_set() -> frozenset[str]:
    chars: set[str] = set()
    for token in _DOC_BASIC_SET.split():
        if token in ("LF", "CR", "SP"):
            chars.add({"LF": "\n", "CR": "\r", "SP": " "}[token])
        elif len(token) == 3 and token[1] == "–":
            chars.update(chr(c) for c in range(ord(token[0]), ord(token[2]) + 1))
        else:
            chars.add(token)
    return frozenset(chars)


def test_character_tables_are_gsm_03_38() -> None:
    assert _doc_basic_set() == GSM7_BASIC
    assert len(GSM7_BASIC) == 127  # 128 code points less the escape
    assert frozenset("\f[\\]^{|}~€") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_limits_are_twilios() -> None:
    assert (GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT) == (160, 153)
    assert (UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT) == (70, 67)
    assert MAX_BODY_CHARACTERS == 1600


@pytest.mark.parametrize(
    ("body", "segments", "units"),
    [
        ("", 1, 0),  # media-only messages still count one segment
        ("a", 1, 1),
        ("a" * 160, 1, 160),
        ("a" * 161, 2, 161),
        ("a" * 306, 2, 306),
        ("a" * 307, 3, 307),
        ("a" * 459, 3, 459),
        ("a" * 460, 4, 460),
        ("a" * 1530, 10, 1530),
        ("a" * 1600, 11, 1600),
        ("Ç é è ù ì ò Ø å Δ Ω £ ¥ § ¿ ¡ ß Ä Ö Ñ Ü à\r\n", 1, 43),
        ("€" * 80, 1, 160),  # extension characters take two septets
        ("€" * 81, 2, 162),
        ("a" * 159 + "€", 2, 161),
        ("a" * 158 + "€", 1, 160),
        ("[]{}\\^~|\f€", 1, 20),
        ("a" * 152 + "€", 1, 154),  # 154 septets still fit a single 160-septet segment
    ],
)
def test_gsm7_segments(body: str, segments: int, units: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.GSM7
    assert (counted.segments, counted.units) == (segments, units)
    assert counted.non_gsm_characters == ()


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        # 152 | € would straddle (152 + 2 > 153): the pair opens segment two.
        ("a" * 152 + "€" + "a" * 10, 2),
        # 306 septets fill two segments exactly only when no pair straddles: 151 + € = 153.
        ("a" * 151 + "€" + "a" * 153, 2),
        # The same 306 septets with the pair one septet later: 152 | € + 151 | a.
        ("a" * 152 + "€" + "a" * 152, 3),
        # 152 | €×76 (152) + aa: a wasted septet in segment one pushes the tail to a third.
        ("a" * 152 + "€" * 76 + "aa", 3),
        # 76 pairs (152 septets) fill a segment; the 77th moves on: 76 | 76 | 1.
        ("€" * 153, 3),
    ],
)
def test_escape_pairs_never_straddle_a_segment(body: str, segments: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.GSM7
    assert counted.segments == segments


@pytest.mark.parametrize(
    ("body", "segments", "units"),
    [
        ("ç", 1, 1),
        ("ç" * 70, 1, 70),
        ("ç" * 71, 2, 71),
        ("ç" * 134, 2, 134),
        ("ç" * 135, 3, 135),
        ("a" * 69 + "ç", 1, 70),
        ("a" * 70 + "ç", 2, 71),
        (EMOJI, 1, 2),
        (EMOJI * 35, 1, 70),
        (EMOJI * 36, 2, 72),
        ("a" * 66 + EMOJI, 1, 68),  # more than 67, but a single segment holds 70
        ("€" * 69 + "ç", 1, 70),  # in UCS-2 the euro sign is one unit, not an escape pair
    ],
)
def test_ucs2_segments(body: str, segments: int, units: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.UCS2
    assert (counted.segments, counted.units) == (segments, units)


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 66 + EMOJI + "a" * 10, 2),  # 66 | pair + 10
        ("ç" * 65 + EMOJI + "ç" * 67, 2),  # 65 + pair = 67 | 67: no waste
        ("ç" * 66 + EMOJI + "ç" * 66, 3),  # 134 units, but 66 | pair + 65 | ç
        (EMOJI * 67, 3),  # 33 pairs (66) per segment: 33 | 33 | 1
    ],
)
def test_surrogate_pairs_never_straddle_a_segment(body: str, segments: int) -> None:
    counted = count_segments(body)

    assert counted.encoding is Encoding.UCS2
    assert counted.segments == segments


@pytest.mark.parametrize("char", ["ç", "`", EMOJI, "á", "ê", "\u00a0", "\u2019", "中", "\x1b"])
def test_one_non_gsm_character_switches_the_whole_message(char: str) -> None:
    body = "a" * 100 + char

    counted = count_segments(body)

    assert not is_gsm7(char)
    assert counted.encoding is Encoding.UCS2
    assert counted.segments == 2  # 100 GSM characters alone would be one segment
    assert counted.non_gsm_characters == (char,)


@pytest.mark.parametrize(
    ("body", "offenders"),
    [
        ("Hello ` world ç`", ("`", "ç")),
        ("ç" + EMOJI + "ç`" + EMOJI + "€", ("ç", EMOJI, "`")),
        ("plain € [text]", ()),
    ],
)
def test_non_gsm_characters_are_distinct_and_in_order(
    body: str, offenders: tuple[str, ...]
) -> None:
    assert count_segments(body).non_gsm_characters == offenders


def test_every_gsm_character_stays_gsm() -> None:
    for char in sorted(GSM7_BASIC | GSM7_EXTENSION):
        assert is_gsm7(char), repr(char)
        assert count_segments(char).encoding is Encoding.GSM7, repr(char)
        assert count_segments(char).units == (2 if char in GSM7_EXTENSION else 1), repr(char)


def test_segments_waste_at_most_one_unit_per_boundary() -> None:
    rng = random.Random(5)
    alphabets = ["a€", "aç", "ç" + EMOJI, "a{}", "a"]
    for _ in range(2000):
        body = "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(0, 400)))
        counted = count_segments(body)
        single, multi = (
            (GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT)
            if counted.encoding is Encoding.GSM7
            else (UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT)
        )
        if counted.units <= single:
            assert counted.segments == 1, body
        else:
            assert counted.segments >= math.ceil(counted.units / multi), body
            # Each boundary may leave at most one unit unused (a pair that did not fit).
            assert (counted.segments - 1) * (multi - 1) < counted.units, body


@pytest.mark.parametrize(
    ("body", "length"),
    [
        ("", 0),
        ("abc", 3),
        ("€", 1),
        ("ç", 1),
        (EMOJI, 2),
        ("a" + EMOJI + "b", 4),
        ("é" * 1600, 1600),
        (EMOJI * 800, 1600),
    ],
)
def test_body_length_counts_utf16_units(body: str, length: int) -> None:
    assert body_length(body) == length
