"""Bodies encoded, split into submit_sm parts and decoded (domain/smpp/encoding.py;
shared/carriers/smpp-facts.md "Encoding and long messages")."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain.carriers import Concatenation
from textrelay.domain.segments import (
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_ESCAPE,
    GSM7_EXTENSION,
    GSM7_EXTENSION_TABLE,
    Encoding,
    count_segments,
)
from textrelay.domain.smpp.encoding import (
    ESM_CLASS_UDHI,
    TAG_MESSAGE_PAYLOAD,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    BodyTooLong,
    EncodedBody,
    LongMessages,
    SubmitPart,
    decode_short_message,
    decode_text,
    encode_body,
    sar_concatenation,
    split_for_submit,
)

EMOJI = "😀"  # U+1F600: a surrogate pair in UTF-16
_GSM7_ALPHABET = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
# Mostly extension characters and emoji near the limits, where a pair could be split.
_GSM7_BODIES = st.text(alphabet=_GSM7_ALPHABET, max_size=700) | st.text(
    alphabet=st.sampled_from(["a", "€", "{", " "]), min_size=140, max_size=500
)
_UNICODE_BODIES = st.text(max_size=400) | st.text(
    alphabet=st.sampled_from(["ж", EMOJI, "a", "€"]), min_size=60, max_size=300
)
_MODES = st.sampled_from([LongMessages.UDH, LongMessages.SAR])


# --- the GSM-7 tables segments.py exposes ----------------------------------------------------


def test_the_gsm7_tables_are_in_code_order() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert GSM7_BASIC_TABLE[GSM7_ESCAPE] == "\x1b"
    assert frozenset(GSM7_BASIC_TABLE) - {"\x1b"} == GSM7_BASIC
    # 3GPP TS 23.038 §6.2.1: a few well-known codes.
    assert [GSM7_BASIC_TABLE[c] for c in (0x00, 0x01, 0x02, 0x24, 0x40, 0x5F, 0x60, 0x7F)] == [
        "@",
        "£",
        "$",
        "¤",
        "¡",
        "§",
        "¿",
        "à",
    ]
    assert dict(GSM7_EXTENSION_TABLE) == {
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


# --- encode_body ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello", EncodedBody(0, b"Hello", Encoding.GSM7)),
        ("", EncodedBody(0, b"", Encoding.GSM7)),
        ("@£$_", EncodedBody(0, b"\x00\x01\x02\x11", Encoding.GSM7)),
        ("a\nb", EncodedBody(0, b"a\nb", Encoding.GSM7)),
        ("5€", EncodedBody(0, b"5\x1b\x65", Encoding.GSM7)),
        ("[x]", EncodedBody(0, b"\x1b\x3cx\x1b\x3e", Encoding.GSM7)),
        ("ç", EncodedBody(8, b"\x00\xe7", Encoding.UCS2)),
        ("hi ж", EncodedBody(8, "hi ж".encode("utf-16-be"), Encoding.UCS2)),
        (EMOJI, EncodedBody(8, b"\xd8\x3d\xde\x00", Encoding.UCS2)),
        ("\x1b", EncodedBody(8, b"\x00\x1b", Encoding.UCS2)),  # ESC itself is no character
    ],
)
def test_encode_body(body: str, expected: EncodedBody) -> None:
    assert encode_body(body) == expected


@given(st.text(alphabet=_GSM7_ALPHABET) | st.text())
def test_an_encoded_body_decodes_to_itself(body: str) -> None:
    encoded = encode_body(body)
    assert encoded.encoding == count_segments(body).encoding
    assert decode_text(encoded.octets, encoded.data_coding) == body


# --- split_for_submit: examples ----------------------------------------------------------------


def test_a_single_segment_goes_whole() -> None:
    for mode in LongMessages:
        if mode is LongMessages.PAYLOAD:
            continue
        assert split_for_submit("a" * 160, reference=7, mode=mode) == [SubmitPart(b"a" * 160, 0, 0)]
        assert split_for_submit("ж" * 70, reference=7, mode=mode) == [
            SubmitPart("ж".encode("utf-16-be") * 70, 0, 8)
        ]
    assert split_for_submit("", reference=7) == [SubmitPart(b"", 0, 0)]


def test_udh_parts() -> None:
    parts = split_for_submit("a" * 161, reference=0x1234)

    assert parts == [
        SubmitPart(b"\x05\x00\x03\x34\x02\x01" + b"a" * 153, ESM_CLASS_UDHI, 0),
        SubmitPart(b"\x05\x00\x03\x34\x02\x02" + b"a" * 8, ESM_CLASS_UDHI, 0),
    ]


def test_sar_parts() -> None:
    parts = split_for_submit("a" * 161, reference=0x51234, mode=LongMessages.SAR)

    assert parts == [
        SubmitPart(
            b"a" * 153,
            0,
            0,
            (
                (TAG_SAR_MSG_REF_NUM, b"\x12\x34"),
                (TAG_SAR_TOTAL_SEGMENTS, b"\x02"),
                (TAG_SAR_SEGMENT_SEQNUM, b"\x01"),
            ),
        ),
        SubmitPart(
            b"a" * 8,
            0,
            0,
            (
                (TAG_SAR_MSG_REF_NUM, b"\x12\x34"),
                (TAG_SAR_TOTAL_SEGMENTS, b"\x02"),
                (TAG_SAR_SEGMENT_SEQNUM, b"\x02"),
            ),
        ),
    ]


@pytest.mark.parametrize("body", ["short", "a" * 161, "ж" * 200, ""])
def test_payload_is_one_part_with_the_whole_body(body: str) -> None:
    encoded = encode_body(body)

    assert split_for_submit(body, reference=1, mode=LongMessages.PAYLOAD) == [
        SubmitPart(b"", 0, encoded.data_coding, ((TAG_MESSAGE_PAYLOAD, encoded.octets),))
    ]


def test_an_escape_pair_is_not_split() -> None:
    body = "a" * 152 + "€" + "b" * 10  # the € would take septets 153 and 154

    parts = split_for_submit(body, reference=1)

    assert count_segments(body).segments == len(parts) == 2
    assert parts[0].short_message[6:] == b"a" * 152
    assert parts[1].short_message[6:] == b"\x1b\x65" + b"b" * 10


def test_a_surrogate_pair_is_not_split() -> None:
    body = "ж" * 66 + EMOJI + "ж" * 10  # the emoji would take units 67 and 68

    parts = split_for_submit(body, reference=1)

    assert count_segments(body).segments == len(parts) == 2
    assert parts[0].short_message[6:] == "ж".encode("utf-16-be") * 66
    assert parts[1].short_message[6:] == (EMOJI + "ж" * 10).encode("utf-16-be")


def test_too_many_parts() -> None:
    with pytest.raises(BodyTooLong):
        split_for_submit("a" * (153 * 255 + 1), reference=1)
    with pytest.raises(BodyTooLong):
        split_for_submit("a" * (153 * 255 + 1), reference=1, mode=LongMessages.SAR)
    assert len(split_for_submit("a" * 153 * 255, reference=1)) == 255
    with pytest.raises(BodyTooLong):
        split_for_submit("ж" * 32768, reference=1, mode=LongMessages.PAYLOAD)
    assert split_for_submit("ж" * 32767, reference=1, mode=LongMessages.PAYLOAD)


# --- split_for_submit: properties --------------------------------------------------------------


def _decoded(parts: list[SubmitPart]) -> list[tuple[str, Concatenation | None]]:
    decoded = []
    for part in parts:
        text, concatenation = decode_short_message(
            part.short_message, part.data_coding, udhi=bool(part.esm_class & ESM_CLASS_UDHI)
        )
        if part.tlvs:
            concatenation = sar_concatenation(dict(part.tlvs))
        decoded.append((text, concatenation))
    return decoded


def _air_octets(part: SubmitPart) -> int:
    """The part's size over the air: GSM-7 packed, the UDH padded to a septet boundary."""
    if part.data_coding == 8:
        return len(part.short_message)
    header = part.short_message[0] + 1 if part.esm_class & ESM_CLASS_UDHI else 0
    septets = math.ceil(header * 8 / 7) + len(part.short_message) - header
    return math.ceil(septets * 7 / 8)


@given(_GSM7_BODIES | _UNICODE_BODIES, _MODES, st.integers(0, 0xFFFFFF))
def test_parts_decode_to_the_body_in_the_segments_counted(
    body: str, mode: LongMessages, reference: int
) -> None:
    parts = split_for_submit(body, reference=reference, mode=mode)
    decoded = _decoded(parts)

    assert len(parts) == count_segments(body).segments
    assert "".join(text for text, _ in decoded) == body
    for part in parts:
        assert len(part.short_message) <= 254  # sm_length is one octet
        assert _air_octets(part) <= 140
    if len(parts) == 1:
        assert decoded[0][1] is None
        assert parts[0].esm_class == 0
    else:
        mask = 0xFF if mode is LongMessages.UDH else 0xFFFF
        assert [c for _, c in decoded] == [
            Concatenation(reference & mask, len(parts), seq) for seq in range(1, len(parts) + 1)
        ]


@given(_GSM7_BODIES | _UNICODE_BODIES)
def test_a_payload_decodes_to_the_body(body: str) -> None:
    [part] = split_for_submit(body, reference=1, mode=LongMessages.PAYLOAD)
    [(tag, payload)] = part.tlvs

    assert tag == TAG_MESSAGE_PAYLOAD
    assert part.short_message == b""
    assert decode_short_message(payload, part.data_coding, udhi=False) == (body, None)


# --- decode_short_message ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        (b"Hello", 0, "Hello"),
        (b"\x00\x01\x02\x11", 0, "@£$_"),
        (b"\x1b\x65 \x1b\x3c", 0, "€ ["),
        (b"\x1b\x41", 0, "A"),  # an escape to no extension character: the basic one
        (b"\x1b\x1b", 0, "?"),
        (b"abc\x1b", 0, "abc?"),  # a dangling escape
        (b"a\x80\xff", 0, "a??"),  # not septets
        ("Привет".encode("utf-16-be"), 8, "Привет"),
        (b"\xd8\x3d\xde\x00", 8, EMOJI),
        (b"\x00A\x00", 8, "A\ufffd"),  # odd length
        (b"\xd8\x3d\x00A", 8, "\ufffdA"),  # a lone surrogate
        (b"caf\xe9", 1, "caf\ufffd"),  # IA5 is 7-bit
        (b"caf\xe9", 3, "café"),
        (b"\x00\xff", 4, "\x00ÿ"),  # binary, best effort
        (b"\x00\xff", 2, "\x00ÿ"),
        (b"\xb0", 6, "А"),  # ISO 8859-5
        (b"\xe0", 7, "א"),  # ISO 8859-8
        (b"\x00", 0xF0, "@"),  # GSM message class 0, GSM-7
        (b"\x00", 0xF4, "\x00"),  # GSM message class 0, 8-bit
        ("hi".encode("utf-16-be"), 0x18, "hi"),  # GSM general coding, UCS-2, class 0
        (b"\x00", 0x10, "@"),  # GSM general coding, GSM-7, class 0
        (b"\x00", 0x30, "\x00"),  # compressed: best effort
        (b"", 0, ""),
        (b"", 8, ""),
    ],
)
def test_decode_without_header(data: bytes, data_coding: int, text: str) -> None:
    assert decode_short_message(data, data_coding, udhi=False) == (text, None)


@pytest.mark.parametrize(
    ("data", "text", "concatenation"),
    [
        (b"\x05\x00\x03\x2a\x02\x01Hi", "Hi", Concatenation(0x2A, 2, 1)),
        (b"\x06\x08\x04\x12\x34\x03\x02hey", "hey", Concatenation(0x1234, 3, 2)),
        # Another element first (0x24, national language), then the concatenation.
        (b"\x08\x24\x01\x01\x00\x03\x07\x03\x01x", "x", Concatenation(7, 3, 1)),
        (b"\x03\x24\x01\x01x", "x", None),  # no concatenation element
        (b"\x05\x00\x03\x01\x02\x00x", "x", None),  # sequence 0: ignored
        (b"\x05\x00\x03\x01\x02\x03x", "x", None),  # sequence past the total: ignored
        (b"\x05\x00\x03\x01\x00\x00x", "x", None),  # total 0: ignored
        (b"\x05\x00\x04\x01\x02\x01x", "x", None),  # wrong element length
        (b"\x04\x00\x03\x01\x02x", "x", None),  # the element runs past the header
        (b"\x09\x00\x03", "", None),  # the header runs past the data
        (b"", "", None),
    ],
)
def test_decode_with_header(data: bytes, text: str, concatenation: Concatenation | None) -> None:
    assert decode_short_message(data, 0, udhi=True) == (text, concatenation)


def test_a_ucs2_part_with_header() -> None:
    data = b"\x05\x00\x03\x09\x02\x02" + "ж!".encode("utf-16-be")

    assert decode_short_message(data, 8, udhi=True) == ("ж!", Concatenation(9, 2, 2))


@given(st.binary(max_size=300), st.integers(0, 255), st.booleans())
def test_decoding_never_raises(data: bytes, data_coding: int, udhi: bool) -> None:
    text, _ = decode_short_message(data, data_coding, udhi=udhi)
    assert isinstance(text, str)


@pytest.mark.parametrize(
    ("tlvs", "expected"),
    [
        ({0x020C: b"\x12\x34", 0x020E: b"\x03", 0x020F: b"\x02"}, Concatenation(0x1234, 3, 2)),
        ({0x020C: b"\x07", 0x020E: b"\x02", 0x020F: b"\x01"}, Concatenation(7, 2, 1)),
        ({0x020E: b"\x03", 0x020F: b"\x02"}, None),
        ({0x020C: b"\x00\x01", 0x020E: b"\x02", 0x020F: b"\x03"}, None),
        ({0x020C: b"", 0x020E: b"\x02", 0x020F: b"\x01"}, None),
        ({}, None),
    ],
)
def test_sar_concatenation(tlvs: dict[int, bytes], expected: Concatenation | None) -> None:
    assert sar_concatenation(tlvs) == expected
