"""SMS segment counting: GSM-7 (160 / 153 septets) or UCS-2 (70 / 67 UTF-16 units).

Facts: shared/twilio/messaging-and-webhooks.md §7. A single character outside GSM-7 turns the
whole message into UCS-2. Extension-table characters take two septets (ESC + char) and
characters outside the BMP take two UTF-16 units; neither pair is ever split across segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

GSM7_ESCAPE = 0x1B
"""The code that announces an extension-table character (ESC)."""
# GSM 03.38 basic character set in code order 0x00-0x7F: a character's index is its code.
# 0x1B, the escape, stands for itself and is no character of the set.
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(GSM7_BASIC_TABLE) - {chr(GSM7_ESCAPE)}
# The extension table with each character's code (3GPP TS 23.038 §6.2.1.1): sent as ESC + code,
# it costs two septets.
GSM7_EXTENSION_TABLE: Mapping[str, int] = MappingProxyType(
    {
        "\f": 0x0A,
        "^": 0x14,
        "{": 0x28,
        "}": 0x29,
        "\\": 0x2F,
        "[": 0x3C,
        "~": 0x3D,
        "]": 0x3E,
        "|": 0x40,
        "€": 0x65,
    }
)
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_TABLE)

GSM7_SINGLE_SEGMENT = 160
GSM7_MULTI_SEGMENT = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTI_SEGMENT = 67

MAX_BODY_CHARACTERS = 1600


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    segments: int
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    non_gsm_characters: tuple[str, ...]
    """The distinct characters that forced UCS-2, in order of first appearance."""


def is_gsm7(char: str) -> bool:
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def body_length(body: str) -> int:
    """Length as Twilio counts it for the 1600-character limit (UTF-16 code units)."""
    if body.isascii():
        return len(body)
    return len(body.encode("utf-16-le", "surrogatepass")) // 2


def count_segments(body: str) -> SegmentCount:
    """How many SMS segments `body` takes, and in which encoding.

    An empty body (a media-only message) still counts as one segment.
    """
    if GSM7_BASIC.issuperset(body):
        # The common case, counted without a loop in Python: one septet per character.
        units = len(body)
        segments = 1 if units <= GSM7_SINGLE_SEGMENT else -(-units // GSM7_MULTI_SEGMENT)
        return SegmentCount(Encoding.GSM7, segments, units, ())
    non_gsm = tuple(dict.fromkeys(c for c in body if not is_gsm7(c)))
    if non_gsm:
        encoding = Encoding.UCS2
        costs = [_utf16_units(c) for c in body]
        single, multi = UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT
    else:
        encoding = Encoding.GSM7
        costs = [2 if c in GSM7_EXTENSION else 1 for c in body]
        single, multi = GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT
    units = sum(costs)
    if units <= single:
        return SegmentCount(encoding, 1, units, non_gsm)
    return SegmentCount(encoding, _pack(costs, multi), units, non_gsm)


def _pack(costs: list[int], capacity: int) -> int:
    """Segments needed when no character's units may straddle two segments."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            segments += 1
            used = 0
        used += cost
    return segments
