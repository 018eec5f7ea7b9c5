"""Delivery receipts: recognising one, reading its text and TLVs, and what it means for the message.

Facts: shared/carriers/smpp-facts.md "Delivery receipts". A receipt is a `deliver_sm` whose
esm_class message type is 0x04 (SMSC delivery receipt) or 0x20 (intermediate delivery
notification, SMPP 3.4 §5.2.12: the message is still on its way). Its outcome comes from the
`message_state` TLV when the SMSC sends one, else from the text's `stat:`:

| message_state | stat | status | error_code |
| --- | --- | --- | --- |
| 2 DELIVERED | DELIVRD | delivered | — |
| 5 UNDELIVERABLE | UNDELIV | undelivered | 30003 Unreachable destination handset |
| 3 EXPIRED | EXPIRED | undelivered | 30036 Validity Period Expired |
| 8 REJECTED | REJECTD | undelivered | 30007 Message filtered |
| 4 DELETED | DELETED | undelivered | 30008 Unknown error |
| 7 UNKNOWN | UNKNOWN | undelivered | 30008 Unknown error |
| 6 ACCEPTED | ACCEPTD | sent (not final) | — |
| 1 ENROUTE | ENROUTE | sent (not final) | — |
| any, in an intermediate notification (esm_class 0x20) | | sent (not final) | — |

Why: a receipt is the carrier's word after it took the message, so a negative one is
`undelivered`, as Twilio reports a negative delivery receipt (messaging-and-webhooks.md §3),
never `failed`. UNDELIV names no cause; the usual one, and Twilio's usual report, is a handset
that is off or out of reach (30003). EXPIRED is the validity period running out (30036, whose
title says exactly that). REJECTD is the network refusing the message, which Twilio reports as
carrier filtering (30007: "filtered (blocked) by Twilio or by the carrier"). DELETED (by an
operator) and UNKNOWN say nothing Twilio has a code for: 30008. The vendor-specific `err:` field
and the `network_error_code` TLV change nothing; they go into the receipt's detail for the
console. Stat values spelled as the message_state names (DELIVERED, REJECTED…) are read too;
any other stat is not understood, and the receipt with it is no receipt (the caller logs it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from textrelay.domain import codes
from textrelay.domain.carriers import Receipt
from textrelay.domain.smpp.encoding import DATA_CODING_UCS2
from textrelay.domain.statuses import MessageStatus

ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_DELIVERY_RECEIPT = 0x04
ESM_CLASS_INTERMEDIATE_NOTIFICATION = 0x20
_RECEIPT_TYPES = frozenset({ESM_CLASS_DELIVERY_RECEIPT, ESM_CLASS_INTERMEDIATE_NOTIFICATION})

TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_NETWORK_ERROR_CODE = 0x0423
TAG_MESSAGE_STATE = 0x0427

MESSAGE_STATES: Mapping[int, str] = MappingProxyType(
    {
        1: "ENROUTE",
        2: "DELIVERED",
        3: "EXPIRED",
        4: "DELETED",
        5: "UNDELIVERABLE",
        6: "ACCEPTED",
        7: "UNKNOWN",
        8: "REJECTED",
    }
)
"""The message_state TLV's values, by SMPP 3.4's names."""

# The receipt text's stat values (7 letters), and the message_state names that mean the same.
_STAT_OF_STATE_NAME = {
    "ENROUTE": "ENROUTE",
    "DELIVERED": "DELIVRD",
    "EXPIRED": "EXPIRED",
    "DELETED": "DELETED",
    "UNDELIVERABLE": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "UNKNOWN": "UNKNOWN",
    "REJECTED": "REJECTD",
}


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    status: MessageStatus
    error_code: int | None = None


_SENT = ReceiptOutcome(MessageStatus.SENT)
_OUTCOME_OF_STAT: Mapping[str, ReceiptOutcome] = MappingProxyType(
    {
        "DELIVRD": ReceiptOutcome(MessageStatus.DELIVERED),
        "UNDELIV": ReceiptOutcome(MessageStatus.UNDELIVERED, codes.UNREACHABLE_HANDSET.code),
        "EXPIRED": ReceiptOutcome(MessageStatus.UNDELIVERED, codes.VALIDITY_EXPIRED.code),
        "REJECTD": ReceiptOutcome(MessageStatus.UNDELIVERED, codes.MESSAGE_FILTERED.code),
        "DELETED": ReceiptOutcome(MessageStatus.UNDELIVERED, codes.UNKNOWN_ERROR.code),
        "UNKNOWN": ReceiptOutcome(MessageStatus.UNDELIVERED, codes.UNKNOWN_ERROR.code),
        "ACCEPTD": _SENT,
        "ENROUTE": _SENT,
    }
)


@dataclass(frozen=True, slots=True)
class ReceiptText:
    """The fields of a receipt's de-facto text format, each as the SMSC wrote it (None when
    absent). Dates stay text: `YYMMDDhhmm` or `YYMMDDhhmmss`, in a time zone nobody states."""

    id: str | None = None
    sub: str | None = None
    dlvrd: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None


# A field name at the start or after a space, then a colon. `submit date` also comes as
# `submit_date` or `submitdate` from some SMSCs.
_FIELD = re.compile(
    r"(?:^|(?<=\s))(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)[ \t]*:",
    re.IGNORECASE,
)
_VALUE = re.compile(r"[ \t]*(\S*)")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def is_receipt(esm_class: int) -> bool:
    """A `deliver_sm` with this esm_class reports on a message sent (an SMSC delivery receipt
    or an intermediate notification) rather than carrying a handset's message."""
    return esm_class & ESM_CLASS_TYPE_MASK in _RECEIPT_TYPES


def is_mobile_originated(esm_class: int) -> bool:
    """A `deliver_sm` with this esm_class carries a handset's message (message type 0). The
    other types, SME acknowledgements and conversation aborts, are neither that nor a
    receipt: acknowledged and logged, never delivered as a message."""
    return esm_class & ESM_CLASS_TYPE_MASK == 0


def parse_receipt_text(text: str) -> ReceiptText | None:
    """The fields of a receipt text, e.g. `id:0A1B sub:001 dlvrd:001 submit date:2612021151
    done date:2612021151 stat:DELIVRD err:000 text:Hello`.

    Tolerant: fields in any order or missing, names in any case, unknown fields skipped, the
    first of a repeated field kept. `text:` ends the fields: everything after it is the text.
    None when no field is found at all.
    """
    values: dict[str, str] = {}
    found = False
    position = 0
    while (field := _FIELD.search(text, position)) is not None:
        found = True
        key = re.sub(r"[ _]", "", field.group(1).lower())
        if key == "text":
            values.setdefault(key, text[field.end() :])
            break
        value = _VALUE.match(text, field.end())
        assert value is not None  # _VALUE matches the empty string
        if _FIELD.match(text, value.start(1)):
            # An empty field (`id: sub:001`): the next name is not this field's value.
            position = field.end()
            continue
        if value.group(1):
            values.setdefault(key, value.group(1))
        position = value.end()
    if not found:
        return None
    return ReceiptText(
        id=values.get("id"),
        sub=values.get("sub"),
        dlvrd=values.get("dlvrd"),
        submit_date=values.get("submitdate"),
        done_date=values.get("donedate"),
        stat=values.get("stat"),
        err=values.get("err"),
        text=values.get("text"),
    )


def receipt_outcome(stat: str | None, message_state: int | None) -> ReceiptOutcome | None:
    """The status (and Twilio code) a receipt gives its message; the message_state TLV wins
    over the text's stat (table in the module docstring). None when neither is understood."""
    state_name = MESSAGE_STATES.get(message_state) if message_state is not None else None
    if state_name is not None:
        return _OUTCOME_OF_STAT[_STAT_OF_STATE_NAME[state_name]]
    if stat is None:
        return None
    normalized = stat.strip().upper()
    return _OUTCOME_OF_STAT.get(_STAT_OF_STATE_NAME.get(normalized, normalized))


def receipt_from_fields(
    short_message: bytes,
    data_coding: int,
    tlvs: Mapping[int, bytes],
    *,
    esm_class: int = ESM_CLASS_DELIVERY_RECEIPT,
) -> Receipt | None:
    """The Receipt a receipt `deliver_sm` carries (is_receipt(esm_class) already holds).

    The reference is the receipted_message_id TLV, else the text's `id:`, as given (hex or
    decimal: see `reference_candidates`). None when there is no reference or no understood
    outcome: the caller logs the PDU and acknowledges it all the same.
    """
    parsed = parse_receipt_text(_receipt_text(short_message, data_coding))
    reference = _c_string(tlvs.get(TAG_RECEIPTED_MESSAGE_ID, b"")) or (
        parsed.id if parsed is not None else None
    )
    if not reference:
        return None
    state_value = tlvs.get(TAG_MESSAGE_STATE, b"")
    message_state = state_value[0] if state_value else None
    stat = parsed.stat if parsed is not None else None
    if esm_class & ESM_CLASS_TYPE_MASK == ESM_CLASS_INTERMEDIATE_NOTIFICATION:
        # Whatever it says (even UNDELIV, while the SMSC keeps retrying), the message is still
        # on its way.
        outcome: ReceiptOutcome | None = _SENT
    else:
        outcome = receipt_outcome(stat, message_state)
    if outcome is None:
        return None
    detail = _detail(parsed, message_state, tlvs.get(TAG_NETWORK_ERROR_CODE))
    return Receipt(reference, outcome.status, outcome.error_code, detail)


def reference_candidates(reference: str) -> tuple[str, ...]:
    """`reference` first, then the other spellings the same SMSC id may have had in the
    `submit_sm_resp`: without leading zeros, decimal as hexadecimal (lower and upper case),
    hexadecimal in either case and as decimal.

    smpp-facts.md: receipts that match nothing are gateways' most reported problem, often
    because the SMSC answers the submit in hex and writes the receipt in decimal (or the other
    way round). Look the reference up as given first; the others are a fallback, and may
    match another message's id when an SMSC mixes formats, so only an unmatched receipt
    should try them.
    """
    candidates = [reference]
    if reference.lstrip("0"):
        candidates.append(reference.lstrip("0"))
    if reference.isascii() and reference.isdecimal():
        number = int(reference)
        candidates += [f"{number:x}", f"{number:X}"]
    if reference and all(c in _HEX_DIGITS for c in reference):
        candidates += [reference.lower(), reference.upper(), str(int(reference, 16))]
    return tuple(dict.fromkeys(candidates))


def _receipt_text(short_message: bytes, data_coding: int) -> str:
    # SMSCs write receipt texts in ASCII whatever data_coding says (0 included, where GSM-7
    # would turn `_` into `§`); only a UCS-2 receipt needs decoding as such.
    if data_coding == DATA_CODING_UCS2:
        return short_message.decode("utf-16-be", "replace")
    return short_message.decode("latin-1")


def _c_string(value: bytes) -> str:
    """A C-octet string TLV's text: up to its NUL, without surrounding space."""
    return value.split(b"\0", 1)[0].decode("latin-1").strip()


def _detail(parsed: ReceiptText | None, message_state: int | None, network: bytes | None) -> str:
    """What the carrier said, for the console: `stat:UNDELIV err:001 network_error:1/27`."""
    parts: list[str] = []
    if parsed is not None and parsed.stat is not None:
        parts.append(f"stat:{parsed.stat}")
    if parsed is not None and parsed.err is not None:
        parts.append(f"err:{parsed.err}")
    if message_state is not None:
        name = MESSAGE_STATES.get(message_state, str(message_state))
        parts.append(f"message_state:{name}")
    if network is not None and len(network) == 3:
        # network_type (1 GSM, 2 ANSI-136, 3 IS-95…), then a 16-bit error code.
        parts.append(f"network_error:{network[0]}/{int.from_bytes(network[1:], 'big')}")
    return " ".join(parts)
