"""Delivery receipts (domain/smpp/receipts.py; shared/carriers/smpp-facts.md "Delivery
receipts")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textrelay.domain import codes
from textrelay.domain.carriers import Receipt
from textrelay.domain.smpp.receipts import (
    MESSAGE_STATES,
    TAG_MESSAGE_STATE,
    TAG_NETWORK_ERROR_CODE,
    TAG_RECEIPTED_MESSAGE_ID,
    ReceiptOutcome,
    ReceiptText,
    is_mobile_originated,
    is_receipt,
    parse_receipt_text,
    receipt_from_fields,
    receipt_outcome,
    reference_candidates,
)
from textrelay.domain.statuses import MessageStatus

S = MessageStatus
STANDARD = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2612021151 done date:2612021152 "
    "stat:DELIVRD err:000 text:Hello there"
)


# --- is_receipt -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("esm_class", "receipt", "handset"),
    [
        (0x00, False, True),
        (0x40, False, True),  # a handset's message with a UDH
        (0x03, False, True),  # messaging-mode bits say nothing about the type
        (0x04, True, False),  # SMSC delivery receipt
        (0x44, True, False),
        (0x07, True, False),
        (0x20, True, False),  # intermediate delivery notification
        (0x08, False, False),  # SME delivery acknowledgement
        (0x10, False, False),  # SME manual/user acknowledgement
        (0x18, False, False),  # conversation abort
    ],
)
def test_message_types(esm_class: int, receipt: bool, handset: bool) -> None:
    assert is_receipt(esm_class) is receipt
    assert is_mobile_originated(esm_class) is handset


# --- parse_receipt_text -----------------------------------------------------------------------


def test_the_standard_text() -> None:
    assert parse_receipt_text(STANDARD) == ReceiptText(
        id="0123456789",
        sub="001",
        dlvrd="001",
        submit_date="2612021151",
        done_date="2612021152",
        stat="DELIVRD",
        err="000",
        text="Hello there",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # any order, any case, hex ids kept as given
        ("stat:UNDELIV ID:0A1b err:001", ReceiptText(id="0A1b", stat="UNDELIV", err="001")),
        ("Id:7 Stat:delivrd", ReceiptText(id="7", stat="delivrd")),
        # missing fields
        ("id:42", ReceiptText(id="42")),
        ("stat:EXPIRED", ReceiptText(stat="EXPIRED")),
        # `submit_date` and 12-digit dates
        (
            "id:1 submit_date:261202115130 done_date:261202115131 stat:DELIVRD",
            ReceiptText(
                id="1", submit_date="261202115130", done_date="261202115131", stat="DELIVRD"
            ),
        ),
        # text: is the last field and may hold anything, field names included
        (
            "id:9 stat:DELIVRD text:id:999 stat:UNDELIV",
            ReceiptText(id="9", stat="DELIVRD", text="id:999 stat:UNDELIV"),
        ),
        ("id:9 text:", ReceiptText(id="9", text="")),
        # an empty field does not take the next one as its value
        ("id: sub:001 stat:DELIVRD", ReceiptText(sub="001", stat="DELIVRD")),
        # a space after the colon
        ("id: 77 stat: DELIVRD", ReceiptText(id="77", stat="DELIVRD")),
        # unknown fields are skipped; the first of a repeated field is kept
        ("msgid:5 id:6 dest:123 stat:DELIVRD stat:UNDELIV", ReceiptText(id="6", stat="DELIVRD")),
        # a field name inside a word is no field
        ("xid:5 id:6", ReceiptText(id="6")),
    ],
)
def test_tolerant_parsing(text: str, expected: ReceiptText) -> None:
    assert parse_receipt_text(text) == expected


@pytest.mark.parametrize("text", ["", "hello world", "identity crisis", "status: ok"])
def test_garbage_is_no_receipt_text(text: str) -> None:
    assert parse_receipt_text(text) is None


@given(st.text())
def test_parsing_never_raises(text: str) -> None:
    parse_receipt_text(text)


# --- receipt_outcome --------------------------------------------------------------------------

_DELIVERED = ReceiptOutcome(S.DELIVERED)
_SENT = ReceiptOutcome(S.SENT)


def _undelivered(code: codes.TwilioCode) -> ReceiptOutcome:
    return ReceiptOutcome(S.UNDELIVERED, code.code)


# (stat, message_state, outcome): the module docstring's table, row by row.
_TABLE = [
    ("DELIVRD", 2, _DELIVERED),
    ("UNDELIV", 5, _undelivered(codes.UNREACHABLE_HANDSET)),
    ("EXPIRED", 3, _undelivered(codes.VALIDITY_EXPIRED)),
    ("REJECTD", 8, _undelivered(codes.MESSAGE_FILTERED)),
    ("DELETED", 4, _undelivered(codes.UNKNOWN_ERROR)),
    ("UNKNOWN", 7, _undelivered(codes.UNKNOWN_ERROR)),
    ("ACCEPTD", 6, _SENT),
    ("ENROUTE", 1, _SENT),
]


@pytest.mark.parametrize(("stat", "state", "outcome"), _TABLE)
def test_receipt_outcome(stat: str, state: int, outcome: ReceiptOutcome) -> None:
    assert receipt_outcome(stat, None) == outcome
    assert receipt_outcome(None, state) == outcome
    assert receipt_outcome(stat.lower(), None) == outcome
    assert receipt_outcome(f" {stat} ", None) == outcome
    # message_state's names, as some SMSCs spell stat
    assert receipt_outcome(MESSAGE_STATES[state], None) == outcome


def test_message_state_wins_over_stat() -> None:
    assert receipt_outcome("UNDELIV", 2) == _DELIVERED
    assert receipt_outcome("DELIVRD", 5) == _undelivered(codes.UNREACHABLE_HANDSET)


@pytest.mark.parametrize(
    ("stat", "state", "outcome"),
    [
        ("DELIVRD", 0, _DELIVERED),  # a state SMPP 3.4 does not define: stat decides
        ("DELIVRD", 9, _DELIVERED),
        ("BUFFRED", None, None),  # not understood
        ("", None, None),
        (None, None, None),
        (None, 0, None),
    ],
)
def test_what_is_not_understood(stat: str | None, state: int | None, outcome: object) -> None:
    assert receipt_outcome(stat, state) == outcome


def test_every_error_code_is_a_delivery_code() -> None:
    for _, _, outcome in _TABLE:
        assert outcome.error_code is None or outcome.error_code in codes.DELIVERY_ERRORS


# --- receipt_from_fields ----------------------------------------------------------------------


def test_a_receipt_from_its_text() -> None:
    receipt = receipt_from_fields(STANDARD.encode(), 0, {})

    assert receipt == Receipt("0123456789", S.DELIVERED, None, "stat:DELIVRD err:000")


def test_a_negative_receipt() -> None:
    text = b"id:abc123 sub:001 dlvrd:000 stat:UNDELIV err:027 text:"

    assert receipt_from_fields(text, 0, {}) == Receipt(
        "abc123", S.UNDELIVERED, codes.UNREACHABLE_HANDSET.code, "stat:UNDELIV err:027"
    )


def test_the_tlvs_win_over_the_text() -> None:
    tlvs = {TAG_RECEIPTED_MESSAGE_ID: b"1A2B\x00", TAG_MESSAGE_STATE: b"\x03"}

    receipt = receipt_from_fields(b"id:6699 stat:DELIVRD err:000", 0, tlvs)

    assert receipt == Receipt(
        "1A2B",
        S.UNDELIVERED,
        codes.VALIDITY_EXPIRED.code,
        "stat:DELIVRD err:000 message_state:EXPIRED",
    )


def test_tlvs_alone_make_a_receipt() -> None:
    tlvs = {
        TAG_RECEIPTED_MESSAGE_ID: b"msg-1\x00",
        TAG_MESSAGE_STATE: b"\x05",
        TAG_NETWORK_ERROR_CODE: b"\x01\x00\x1b",
    }

    assert receipt_from_fields(b"", 0, tlvs) == Receipt(
        "msg-1",
        S.UNDELIVERED,
        codes.UNREACHABLE_HANDSET.code,
        "message_state:UNDELIVERABLE network_error:1/27",
    )


def test_an_empty_receipted_message_id_falls_back_to_the_text() -> None:
    receipt = receipt_from_fields(b"id:77 stat:DELIVRD", 0, {TAG_RECEIPTED_MESSAGE_ID: b"\x00"})

    assert receipt is not None
    assert receipt.reference == "77"


def test_a_ucs2_receipt_text() -> None:
    receipt = receipt_from_fields("id:5 stat:REJECTD".encode("utf-16-be"), 8, {})

    assert receipt == Receipt("5", S.UNDELIVERED, codes.MESSAGE_FILTERED.code, "stat:REJECTD")


def test_an_underscore_survives_data_coding_0() -> None:
    # GSM-7 would read `_` (0x5F) as `§`: receipt texts are ASCII whatever data_coding says.
    receipt = receipt_from_fields(b"id:a_b stat:DELIVRD", 0, {})

    assert receipt is not None
    assert receipt.reference == "a_b"


def test_an_intermediate_notification_is_sent() -> None:
    text = b"id:5 stat:UNDELIV err:001"

    assert receipt_from_fields(text, 0, {}, esm_class=0x20) == Receipt(
        "5", S.SENT, None, "stat:UNDELIV err:001"
    )
    assert receipt_from_fields(b"id:5", 0, {}, esm_class=0x20) == Receipt("5", S.SENT, None, "")


@pytest.mark.parametrize(
    ("short_message", "tlvs"),
    [
        (b"stat:DELIVRD err:000", {}),  # no id anywhere
        (b"hello", {}),  # garbage
        (b"", {}),
        (b"id:5 err:000", {}),  # an id, but no outcome
        (b"id:5 stat:BUFFRED", {}),  # an outcome not understood
        (b"", {TAG_MESSAGE_STATE: b"\x02"}),  # an outcome, but no id
    ],
)
def test_no_receipt(short_message: bytes, tlvs: dict[int, bytes]) -> None:
    assert receipt_from_fields(short_message, 0, tlvs) is None


@given(st.binary(max_size=200), st.integers(0, 255))
def test_reading_a_receipt_never_raises(short_message: bytes, data_coding: int) -> None:
    receipt_from_fields(short_message, data_coding, {})


# --- reference_candidates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("0000006699", ("0000006699", "6699", "1a2b", "1A2B", "26265")),
        ("1A2B", ("1A2B", "1a2b", "6699")),
        ("1a2b", ("1a2b", "1A2B", "6699")),
        ("msg-1", ("msg-1",)),
        ("0", ("0",)),
        ("ff", ("ff", "FF", "255")),
    ],
)
def test_reference_candidates(reference: str, expected: tuple[str, ...]) -> None:
    assert reference_candidates(reference) == expected


def test_a_hex_submit_answer_matches_a_decimal_receipt() -> None:
    submitted = f"{123456789:X}"  # submit_sm_resp in hex
    received = "0123456789"  # the receipt in decimal, zero-padded

    assert submitted in reference_candidates(received)
