"""command_status outcomes of a submit_sm (domain/smpp/status_codes.py;
shared/carriers/smpp-facts.md "command_status values")."""

from __future__ import annotations

import pytest

from textrelay.domain import codes
from textrelay.domain.smpp.status_codes import (
    COMMAND_STATUS_NAMES,
    SubmitRefusal,
    name_of,
    submit_outcome,
)

# smpp-facts.md's selection, as it spells the names.
_FACTS = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x14: "ESME_RMSGQFUL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
}


@pytest.mark.parametrize(("status", "name"), sorted(_FACTS.items()))
def test_names_of_the_facts_statuses(status: int, name: str) -> None:
    assert name_of(status) == name


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (0x400, "vendor-specific 0x00000400"),
        (0x4FF, "vendor-specific 0x000004FF"),
        (0x09, "undefined 0x00000009"),
        (0x500, "undefined 0x00000500"),
    ],
)
def test_names_of_other_statuses(status: int, name: str) -> None:
    assert name_of(status) == name


def test_every_name_is_an_esme_name() -> None:
    assert all(name.startswith("ESME_R") for name in COMMAND_STATUS_NAMES.values())
    assert len(set(COMMAND_STATUS_NAMES.values())) == len(COMMAND_STATUS_NAMES)


_SLOW = (codes.QUEUE_OVERFLOW.code, True, True)
_RETRY = (codes.UNKNOWN_ERROR.code, True, False)


def _fail(code: codes.TwilioCode) -> tuple[int, bool, bool]:
    return (code.code, False, False)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0x14, _SLOW),  # ESME_RMSGQFUL
        (0x58, _SLOW),  # ESME_RTHROTTLED
        (0x04, _RETRY),  # ESME_RINVBNDSTS
        (0x08, _RETRY),  # ESME_RSYSERR
        (0x45, _RETRY),  # ESME_RSUBMITFAIL
        (0x64, _RETRY),  # ESME_RX_T_APPN
        (0xFF, _RETRY),  # ESME_RUNKNOWNERR
        (0x0D, _RETRY),  # ESME_RBINDFAIL: no sense on a submit, so unknown
        (0x400, _RETRY),  # vendor-specific
        (0x12345, _RETRY),  # undefined
        (0x01, _fail(codes.CONTENT_TOO_LARGE)),  # ESME_RINVMSGLEN
        (0x0B, _fail(codes.UNKNOWN_HANDSET)),  # ESME_RINVDSTADR
        (0x50, _fail(codes.UNKNOWN_HANDSET)),  # ESME_RINVDSTTON
        (0x51, _fail(codes.UNKNOWN_HANDSET)),  # ESME_RINVDSTNPI
        (0x0A, _fail(codes.MESSAGE_BLOCKED)),  # ESME_RINVSRCADR
        (0x48, _fail(codes.MESSAGE_BLOCKED)),  # ESME_RINVSRCTON
        (0x49, _fail(codes.MESSAGE_BLOCKED)),  # ESME_RINVSRCNPI
        (0x65, _fail(codes.MESSAGE_FILTERED)),  # ESME_RX_P_APPN
        (0x66, _fail(codes.MESSAGE_FILTERED)),  # ESME_RX_R_APPN
        (0xFE, _fail(codes.UNREACHABLE_HANDSET)),  # ESME_RDELIVERYFAILURE
        (0x02, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVCMDLEN
        (0x03, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVCMDID
        (0x43, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVESMCLASS
        (0x61, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVSCHED
        (0x62, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVEXPIRY
        (0xC0, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVOPTPARSTREAM
        (0xC4, _fail(codes.UNKNOWN_ERROR)),  # ESME_RINVOPTPARAMVAL
    ],
)
def test_submit_outcome(status: int, expected: tuple[int, bool, bool]) -> None:
    error_code, retry, slow_down = expected

    assert submit_outcome(status) == SubmitRefusal(error_code, retry, slow_down, name_of(status))


def test_every_outcome_names_a_delivery_code() -> None:
    for status in [*COMMAND_STATUS_NAMES, 0x400, 0x9999]:
        if status:
            assert submit_outcome(status).error_code in codes.DELIVERY_ERRORS


def test_ok_is_no_refusal() -> None:
    with pytest.raises(ValueError, match="ESME_ROK"):
        submit_outcome(0)
