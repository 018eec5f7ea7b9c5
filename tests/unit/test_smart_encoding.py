"""Smart Encoding (shared/twilio/messaging-and-webhooks.md §7.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain.segments import GSM7_BASIC, GSM7_EXTENSION, Encoding, count_segments
from textrelay.domain.smart_encoding import (
    SMART_ENCODING_REPLACEMENTS,
    smart_encode,
    smart_encoding_changes,
)

_REPLACED = sorted(chr(code_point) for code_point in SMART_ENCODING_REPLACEMENTS)
_GSM7 = GSM7_BASIC | GSM7_EXTENSION


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("“smart quotes”", '"smart quotes"', id="smart-double-quotes"),
        pytest.param("it’s ‘fine’", "it's 'fine'", id="smart-single-quotes"),
        pytest.param("now — or never", "now - or never", id="em-dash"),
        pytest.param("9–5", "9-5", id="en-dash"),
        pytest.param("wait…", "wait...", id="ellipsis"),
        pytest.param("10\u00a0am", "10 am", id="no-break-space"),
        pytest.param("thin\u2009space", "thin space", id="thin-space"),
        pytest.param("zero\u200bwidth\ufeff", "zerowidth", id="zero-width-removed"),
        pytest.param("• item", "- item", id="bullet"),
        pytest.param("ＡＢＣ１２３！", "ABC123!", id="fullwidth"),
        pytest.param("½ off‼", "1/2 off!!", id="expanded"),
        pytest.param("plain GSM-7 text @ £5", "plain GSM-7 text @ £5", id="unchanged"),
        pytest.param("", "", id="empty"),
    ],
)
def test_named_examples(body: str, expected: str) -> None:
    assert smart_encode(body) == expected


def test_encoded_smart_quotes_fit_gsm7() -> None:
    body = "“Hello” — it’s here…"
    assert count_segments(body).encoding is Encoding.UCS2
    assert count_segments(smart_encode(body)).encoding is Encoding.GSM7


@given(st.text(alphabet=st.sampled_from([*sorted(GSM7_BASIC), *_REPLACED])))
def test_mapped_and_gsm7_characters_become_gsm7(body: str) -> None:
    encoded = smart_encode(body)
    assert count_segments(encoded).encoding is Encoding.GSM7
    assert all(char in _GSM7 for char in encoded)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Party 🎉 tonight", id="emoji"),
        pytest.param("你好世界", id="chinese"),
        pytest.param("👩\u200d💻", id="zero-width-joiner"),
        pytest.param("ç, soft\u00adhyphen", id="not-in-table"),
    ],
)
def test_characters_outside_the_table_pass_through(body: str) -> None:
    assert smart_encode(body) == body
    assert smart_encoding_changes(body) == []
    assert count_segments(smart_encode(body)).encoding is Encoding.UCS2


def test_mixed_body_keeps_emoji_and_cjk_and_stays_ucs2() -> None:
    body = "“hi” 😀 你好，世界…"
    assert smart_encode(body) == '"hi" 😀 你好,世界...'
    assert count_segments(smart_encode(body)).encoding is Encoding.UCS2


@given(st.text())
def test_only_characters_outside_the_table_remain_non_gsm7(body: str) -> None:
    # Replacements are GSM-7, so what is left outside GSM-7 is exactly, and in order, what the
    # table does not know.
    unknown = [c for c in body if c not in _GSM7 and ord(c) not in SMART_ENCODING_REPLACEMENTS]
    assert [char for char in smart_encode(body) if char not in _GSM7] == unknown


@given(st.text() | st.text(alphabet=st.sampled_from([*_REPLACED, "a", " ", "😀"])))
def test_idempotent(body: str) -> None:
    once = smart_encode(body)
    assert smart_encode(once) == once


@pytest.mark.parametrize(
    ("code_point", "replacement"),
    sorted(SMART_ENCODING_REPLACEMENTS.items()),
    ids=lambda value: f"U+{value:04X}" if isinstance(value, int) else repr(value),
)
def test_every_replacement_is_gsm7(code_point: int, replacement: str) -> None:
    assert all(char in _GSM7 for char in replacement)
    # A replaced character is never GSM-7 itself: the table only ever saves segments.
    assert chr(code_point) not in _GSM7


def test_table_covers_the_documented_groups() -> None:
    # Spot checks against §7.3's groups, so an accidental deletion is noticed.
    for code_point, replacement in {
        0x00AB: '"',
        0x201E: '"',
        0x2019: "'",
        0x0060: "'",
        0x201A: ",",
        0x2014: "-",
        0x2022: "-",
        0x00A0: " ",
        0x3000: " ",
        0x2028: " ",
        0x200B: "",
        0x2060: "",
        0x2026: "...",
        0x00F7: "/",
        0xFF5E: "~",
        0x1D00: "A",
    }.items():
        assert SMART_ENCODING_REPLACEMENTS[code_point] == replacement


def test_changes_are_distinct_and_in_order_of_first_appearance() -> None:
    body = "“Hi” — it’s “me”\u200b…"
    assert smart_encoding_changes(body) == [
        ("“", '"'),
        ("”", '"'),
        ("—", "-"),
        ("’", "'"),
        ("\u200b", ""),
        ("…", "..."),
    ]


def test_no_changes_for_gsm7_or_emoji() -> None:
    assert smart_encoding_changes("plain text") == []
    assert smart_encoding_changes("🎉 你好") == []


@given(st.text(alphabet=st.sampled_from([*_REPLACED, "a", "é", "😀"])))
def test_changes_describe_what_smart_encode_does(body: str) -> None:
    changes = smart_encoding_changes(body)
    assert [original for original, _ in changes] == list(
        dict.fromkeys(char for char in body if ord(char) in SMART_ENCODING_REPLACEMENTS)
    )
    replacements = dict(changes)
    assert smart_encode(body) == "".join(replacements.get(char, char) for char in body)
