"""Message bodies as SMPP carries them: encoded, split into `submit_sm` parts, and decoded from a
`deliver_sm`.

Facts: shared/carriers/smpp-facts.md "Encoding and long messages"; the character sets and the
segment limits are segments.py's, so a message goes out in exactly the parts `count_segments`
bills (shared/twilio/messaging-and-webhooks.md §7.1).

- GSM-7 goes as data_coding 0, one septet per octet, unpacked, an extension character as
  ESC (0x1B) + its code. data_coding 0 is "the SMSC default alphabet": GSM 03.38 unpacked is
  the common reading; an SMSC whose default is another alphabet (ASCII, Latin-1, packed GSM) is
  not supported — a documented limitation, not a setting.
- Anything else goes as data_coding 8, UCS-2: UTF-16BE, a character outside the BMP as a
  surrogate pair (what handsets do; strict UCS-2 has no such characters).
- A long message goes one of three ways (`LongMessages`): a User Data Header in each part, SAR
  TLVs on each part, or the whole body in one `message_payload` TLV for the SMSC to split.

A part's `short_message` may exceed 140 octets: GSM-7 travels unpacked, so 160 septets are 160
octets (SMPP allows 254). Over the air, packed, every part fits the 140-octet SMS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from textrelay.domain.carriers import Concatenation
from textrelay.domain.segments import (
    GSM7_BASIC_TABLE,
    GSM7_ESCAPE,
    GSM7_EXTENSION_TABLE,
    GSM7_MULTI_SEGMENT,
    UCS2_MULTI_SEGMENT,
    Encoding,
    count_segments,
)

DATA_CODING_DEFAULT = 0
"""The SMSC default alphabet: GSM 03.38, unpacked, as textrelay reads it."""
DATA_CODING_IA5 = 1
DATA_CODING_LATIN_1 = 3
DATA_CODING_BINARY = 4
DATA_CODING_CYRILLIC = 6
DATA_CODING_HEBREW = 7
DATA_CODING_UCS2 = 8

ESM_CLASS_UDHI = 0x40
"""esm_class bit: short_message begins with a User Data Header."""

TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_MESSAGE_PAYLOAD = 0x0424

MAX_PARTS = 255
"""A UDH or SAR part count is one octet."""
MAX_PAYLOAD_OCTETS = 0xFFFF
"""A TLV's length is 16 bits."""

# UDH information elements (3GPP TS 23.040 §9.2.3.24): concatenation with an 8-bit reference
# (IE 0x00, 3 octets) or a 16-bit one (IE 0x08, 4 octets). Other elements are skipped.
_IE_CONCAT_8 = 0x00
_IE_CONCAT_16 = 0x08

_UNKNOWN_GSM7 = "?"
_GSM7_CODES: Mapping[str, bytes] = {
    **{char: bytes([code]) for code, char in enumerate(GSM7_BASIC_TABLE) if code != GSM7_ESCAPE},
    **{char: bytes([GSM7_ESCAPE, code]) for char, code in GSM7_EXTENSION_TABLE.items()},
}
_GSM7_EXTENSION_BY_CODE = {code: char for char, code in GSM7_EXTENSION_TABLE.items()}


class LongMessages(StrEnum):
    """How a body longer than one segment reaches the SMSC (a carrier setting)."""

    UDH = "udh"
    """A `05 00 03 ref total seq` header in each part's short_message, esm_class 0x40."""
    SAR = "sar"
    """sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs on each part."""
    PAYLOAD = "payload"
    """One submit_sm, the whole body in message_payload; the SMSC splits it."""


class BodyTooLong(ValueError):
    """The body needs more parts than one octet counts (UDH, SAR) or more octets than a TLV
    holds (message_payload). The API's 1600-character limit keeps messages far below both."""


@dataclass(frozen=True, slots=True)
class EncodedBody:
    data_coding: int
    octets: bytes
    """The whole body, encoded: unpacked GSM-7 septets or UTF-16BE."""
    encoding: Encoding


@dataclass(frozen=True, slots=True)
class SubmitPart:
    """One `submit_sm`'s share of a message: the fields that depend on the body."""

    short_message: bytes
    """Including the UDH, when there is one."""
    esm_class: int
    data_coding: int
    tlvs: tuple[tuple[int, bytes], ...] = ()
    """SAR or message_payload parameters, (tag, value) in the order they go out."""


def encode_body(body: str) -> EncodedBody:
    """`body` as one run of octets, in the encoding `count_segments` chose for it."""
    encoding, chars = _encode_chars(body)
    return EncodedBody(_data_coding(encoding), b"".join(chars), encoding)


def split_for_submit(
    body: str, *, reference: int, mode: LongMessages = LongMessages.UDH
) -> list[SubmitPart]:
    """The `submit_sm` parts of `body`: one when it fits a segment (or `mode` is PAYLOAD),
    else as many as `count_segments(body).segments`, a character's units never split.

    `reference` ties the parts together (UDH: its low 8 bits; SAR: its low 16 bits); the caller
    picks it, e.g. from the message SID, so a retried message keeps its reference.
    BodyTooLong when the parts cannot be numbered (more than 255) or the payload is over 64 kB.
    """
    encoding, chars = _encode_chars(body)
    data_coding = _data_coding(encoding)
    if mode is LongMessages.PAYLOAD:
        payload = b"".join(chars)
        if len(payload) > MAX_PAYLOAD_OCTETS:
            raise BodyTooLong(f"{len(payload)} octets do not fit message_payload")
        return [SubmitPart(b"", 0, data_coding, ((TAG_MESSAGE_PAYLOAD, payload),))]
    if count_segments(body).segments == 1:
        return [SubmitPart(b"".join(chars), 0, data_coding)]
    # Per segment: 153 septets (one octet each, unpacked) or 67 UTF-16 units (two octets each).
    capacity = GSM7_MULTI_SEGMENT if encoding is Encoding.GSM7 else 2 * UCS2_MULTI_SEGMENT
    chunks = _pack(chars, capacity)
    total = len(chunks)
    if total > MAX_PARTS:
        raise BodyTooLong(f"{total} parts cannot be numbered in one octet")
    if mode is LongMessages.SAR:
        ref = (reference & 0xFFFF).to_bytes(2, "big")
        return [
            SubmitPart(
                chunk,
                0,
                data_coding,
                (
                    (TAG_SAR_MSG_REF_NUM, ref),
                    (TAG_SAR_TOTAL_SEGMENTS, bytes([total])),
                    (TAG_SAR_SEGMENT_SEQNUM, bytes([seq])),
                ),
            )
            for seq, chunk in enumerate(chunks, start=1)
        ]
    return [
        SubmitPart(
            bytes([5, _IE_CONCAT_8, 3, reference & 0xFF, total, seq]) + chunk,
            ESM_CLASS_UDHI,
            data_coding,
        )
        for seq, chunk in enumerate(chunks, start=1)
    ]


def decode_short_message(
    data: bytes, data_coding: int, *, udhi: bool
) -> tuple[str, Concatenation | None]:
    """The text of a `deliver_sm`'s short_message (or message_payload), and where it belongs
    when its User Data Header says it is a part of a longer message.

    `udhi` is esm_class & 0x40. Never raises: undecodable octets become `?` (GSM-7) or U+FFFD
    (UCS-2, IA5), and a header longer than the data leaves no text.
    """
    concatenation = None
    if udhi and data:
        header_length = data[0]
        concatenation = _concatenation_in(data[1 : 1 + header_length])
        data = data[1 + header_length :]
    return decode_text(data, data_coding), concatenation


def decode_text(data: bytes, data_coding: int) -> str:
    """Octets without a header, decoded by data_coding. Never raises.

    0 unpacked GSM-7; 1 IA5 (ASCII); 3 Latin-1; 6 Cyrillic and 7 Hebrew (ISO 8859-5/-8); 8
    UCS-2 (UTF-16BE); 0x10-0x3F and 0xF0-0xFF, GSM data coding schemes with a message class,
    by the alphabet they name. Anything else (binary, Japanese and Korean sets, compressed
    text, message-waiting groups) is read as Latin-1: every octet becomes some character, and
    a binary body was never text.
    """
    if data_coding == DATA_CODING_DEFAULT:
        return _decode_gsm7(data)
    if data_coding == DATA_CODING_UCS2:
        # Odd lengths and lone surrogates (a pair a handset split between parts) become U+FFFD.
        return data.decode("utf-16-be", "replace")
    if data_coding == DATA_CODING_IA5:
        return data.decode("ascii", "replace")
    if data_coding == DATA_CODING_CYRILLIC:
        return data.decode("iso8859_5", "replace")
    if data_coding == DATA_CODING_HEBREW:
        return data.decode("iso8859_8", "replace")
    alphabet = _gsm_alphabet(data_coding)
    if alphabet == _GSM_ALPHABET_7BIT:
        return _decode_gsm7(data)
    if alphabet == _GSM_ALPHABET_UCS2:
        return data.decode("utf-16-be", "replace")
    return data.decode("latin-1")


def sar_concatenation(tlvs: Mapping[int, bytes]) -> Concatenation | None:
    """Where a `deliver_sm` belongs by its SAR TLVs; None without them or when they make no
    sense (a total or sequence of 0, a sequence past the total)."""
    try:
        ref = tlvs[TAG_SAR_MSG_REF_NUM]
        total = tlvs[TAG_SAR_TOTAL_SEGMENTS]
        seq = tlvs[TAG_SAR_SEGMENT_SEQNUM]
    except KeyError:
        return None
    if not ref or not total or not seq:
        return None
    return _concatenation(int.from_bytes(ref, "big"), total[0], seq[0])


# Above 0x0F, SMPP's data_coding is the GSM data coding scheme (3GPP TS 23.038 §4).
_GSM_ALPHABET_7BIT = 0
_GSM_ALPHABET_UCS2 = 2


def _gsm_alphabet(data_coding: int) -> int | None:
    """The alphabet a GSM data coding scheme names: 0 GSM-7, 1 8-bit, 2 UCS-2; None when
    it names none textrelay can read (compressed, reserved, message waiting)."""
    if 0x10 <= data_coding <= 0x3F:
        # General data coding: bit 5 compressed, bits 3-2 the alphabet.
        return None if data_coding & 0x20 else (data_coding >> 2) & 0x03
    if data_coding & 0xF0 == 0xF0:
        # Data coding / message class: bit 2 chooses 8-bit over GSM-7.
        return (data_coding >> 2) & 0x01
    return None


def _data_coding(encoding: Encoding) -> int:
    return DATA_CODING_DEFAULT if encoding is Encoding.GSM7 else DATA_CODING_UCS2


def _encode_chars(body: str) -> tuple[Encoding, list[bytes]]:
    """Each character's octets, in the encoding count_segments picks for the whole body."""
    encoding = count_segments(body).encoding
    if encoding is Encoding.GSM7:
        return encoding, [_GSM7_CODES[char] for char in body]
    # surrogatepass: a lone surrogate (it cannot come from a valid form post, but a str may
    # hold one) goes as the unit it is, as count_segments counted it.
    return encoding, [char.encode("utf-16-be", "surrogatepass") for char in body]


def _pack(chars: list[bytes], capacity: int) -> list[bytes]:
    """Consecutive characters in chunks of at most `capacity` octets, none split; the same
    greedy fill as segments.py counts with."""
    chunks: list[bytes] = []
    current = bytearray()
    for char in chars:
        if len(current) + len(char) > capacity:
            chunks.append(bytes(current))
            current.clear()
        current += char
    chunks.append(bytes(current))
    return chunks


def _concatenation_in(header: bytes) -> Concatenation | None:
    """The first well-formed concatenation element of a UDH; other elements are skipped."""
    index = 0
    while index + 2 <= len(header):
        element, length = header[index], header[index + 1]
        value = header[index + 2 : index + 2 + length]
        index += 2 + length
        if len(value) < length:
            return None  # the element runs past the header
        found = None
        if element == _IE_CONCAT_8 and length == 3:
            found = _concatenation(value[0], value[1], value[2])
        elif element == _IE_CONCAT_16 and length == 4:
            found = _concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        if found is not None:
            return found
    return None


def _concatenation(reference: int, total: int, sequence: int) -> Concatenation | None:
    # 3GPP TS 23.040 §9.2.3.24.1: a total of 0, or a sequence of 0 or past the total, makes the
    # receiver ignore the element (and treat the message as a whole one).
    if total == 0 or not 1 <= sequence <= total:
        return None
    return Concatenation(reference, total, sequence)


def _decode_gsm7(data: bytes) -> str:
    chars: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            escaped = False
            extension = _GSM7_EXTENSION_BY_CODE.get(octet)
            if extension is not None:
                chars.append(extension)
            elif octet < 0x80 and octet != GSM7_ESCAPE:
                # 3GPP TS 23.038 §6.2.1.1: an escape to no extension character shows the
                # basic table's character for the code.
                chars.append(GSM7_BASIC_TABLE[octet])
            else:
                chars.append(_UNKNOWN_GSM7)
        elif octet == GSM7_ESCAPE:
            escaped = True
        elif octet < 0x80:
            chars.append(GSM7_BASIC_TABLE[octet])
        else:
            chars.append(_UNKNOWN_GSM7)
    if escaped:
        chars.append(_UNKNOWN_GSM7)  # an escape with nothing after it
    return "".join(chars)
