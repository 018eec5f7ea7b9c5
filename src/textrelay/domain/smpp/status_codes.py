"""What a non-zero `command_status` in a `submit_sm_resp` means for the message: submit again,
slow down, or fail with a Twilio code.

Facts: shared/carriers/smpp-facts.md "command_status values"; the names are SMPP 3.4's (§5.1.3).
The Twilio codes are the delivery family of domain/codes.py (shared/twilio/
messaging-and-webhooks.md §11): by the time a carrier answers, the message exists, so a refusal
is a `failed` message with an error code, never an API error such as 21211 or 21212.

| command_status (names without ESME_) | then | Twilio code |
| --- | --- | --- |
| 0x14 RMSGQFUL, 0x58 RTHROTTLED | slow down, retry | 30001 Queue overflow |
| 0x04 RINVBNDSTS, 0x08 RSYSERR, 0x45 RSUBMITFAIL, 0x64 RX_T_APPN | retry | 30008 Unknown error |
| 0x01 RINVMSGLEN | fail | 30019 Content size exceeds carrier limit |
| 0x0B RINVDSTADR, 0x50 RINVDSTTON, 0x51 RINVDSTNPI | fail | 30005 Unknown destination handset |
| 0x0A RINVSRCADR, 0x48 RINVSRCTON, 0x49 RINVSRCNPI | fail | 30004 Message blocked |
| 0x65 RX_P_APPN, 0x66 RX_R_APPN | fail | 30007 Message filtered |
| 0xFE RDELIVERYFAILURE | fail | 30003 Unreachable destination handset |
| malformed PDU: 0x02 0x03 0x06 0x07 0x15 0x43 0x61-0x63 0xC0-0xC4 | fail | 30008 Unknown error |
| any other (0xFF RUNKNOWNERR, vendor codes 0x400-0x4FF…) | retry | 30008 Unknown error |

"retry": submit again after a back-off; the code is the message's once the caller's attempts
run out. "slow down": also hold back the bind's other submits.

Why these codes:
- Throttling and a full queue are the SMSC asking for less traffic, not a verdict on the
  message; should the caller run out of attempts, 30001 is Twilio's code for sending faster
  than the queue drains.
- ESME_RSUBMITFAIL names no cause and SMSCs use it for transient trouble (routing, a busy
  downstream link), so it is retried like a system error.
- ESME_RINVBNDSTS on a submit means the bind was not (or no longer) a transmitter: rebinding
  and submitting again can succeed.
- An invalid destination is 30005 ("the number is unknown or no longer in service"): the
  address was well-formed by the API's rules (21211 would have stopped it) but the carrier
  knows no such subscriber.
- An invalid source is 30004: Twilio's page for it (twilio.com/docs/api/errors/30004) names
  carrier filtering of the sender among its causes and advises sending from a number instead
  of an alphanumeric sender ID; 21212 and 21612 describe the same fault, but as the API's
  synchronous answers, with an HTTP status.
- A permanent application error is the SMSC refusing this message for good, which Twilio
  reports as filtering (30007).
- Statuses that say textrelay built a bad PDU will not get better by submitting it again.
- An unknown status is retried: the caller's attempt limit turns a persistent one into 30008,
  so a vendor's transient code costs a delay rather than the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from textrelay.domain import codes

ESME_ROK = 0x00

COMMAND_STATUS_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0x00: "ESME_ROK",
        0x01: "ESME_RINVMSGLEN",
        0x02: "ESME_RINVCMDLEN",
        0x03: "ESME_RINVCMDID",
        0x04: "ESME_RINVBNDSTS",
        0x05: "ESME_RALYBND",
        0x06: "ESME_RINVPRTFLG",
        0x07: "ESME_RINVREGDLVFLG",
        0x08: "ESME_RSYSERR",
        0x0A: "ESME_RINVSRCADR",
        0x0B: "ESME_RINVDSTADR",
        0x0C: "ESME_RINVMSGID",
        0x0D: "ESME_RBINDFAIL",
        0x0E: "ESME_RINVPASWD",
        0x0F: "ESME_RINVSYSID",
        0x11: "ESME_RCANCELFAIL",
        0x13: "ESME_RREPLACEFAIL",
        0x14: "ESME_RMSGQFUL",
        0x15: "ESME_RINVSERTYP",
        0x33: "ESME_RINVNUMDESTS",
        0x34: "ESME_RINVDLNAME",
        0x40: "ESME_RINVDESTFLAG",
        0x42: "ESME_RINVSUBREP",
        0x43: "ESME_RINVESMCLASS",
        0x44: "ESME_RCNTSUBDL",
        0x45: "ESME_RSUBMITFAIL",
        0x48: "ESME_RINVSRCTON",
        0x49: "ESME_RINVSRCNPI",
        0x50: "ESME_RINVDSTTON",
        0x51: "ESME_RINVDSTNPI",
        0x53: "ESME_RINVSYSTYP",
        0x54: "ESME_RINVREPFLAG",
        0x55: "ESME_RINVNUMMSGS",
        0x58: "ESME_RTHROTTLED",
        0x61: "ESME_RINVSCHED",
        0x62: "ESME_RINVEXPIRY",
        0x63: "ESME_RINVDFTMSGID",
        0x64: "ESME_RX_T_APPN",
        0x65: "ESME_RX_P_APPN",
        0x66: "ESME_RX_R_APPN",
        0x67: "ESME_RQUERYFAIL",
        0xC0: "ESME_RINVOPTPARSTREAM",
        0xC1: "ESME_ROPTPARNOTALLWD",
        0xC2: "ESME_RINVPARLEN",
        0xC3: "ESME_RMISSINGOPTPARAM",
        0xC4: "ESME_RINVOPTPARAMVAL",
        0xFE: "ESME_RDELIVERYFAILURE",
        0xFF: "ESME_RUNKNOWNERR",
    }
)
"""Every command_status SMPP 3.4 defines, by value."""

# SMPP 3.4 §5.1.3 leaves 0x400-0x4FF to SMSC vendors.
_VENDOR_SPECIFIC = range(0x400, 0x500)


@dataclass(frozen=True, slots=True)
class SubmitRefusal:
    """What to do about a refused `submit_sm`."""

    error_code: int
    """The Twilio code the message fails with: now when not `retry`, else once the caller's
    attempts run out."""
    retry: bool
    """Submit the same message again (after a back-off)."""
    slow_down: bool
    """The SMSC wants less traffic: hold this bind's submits back, not only this message's."""
    name: str
    """The status's SMPP name, for logs and the console."""


_SLOW_DOWN = frozenset({0x14, 0x58})
_MALFORMED = frozenset({0x02, 0x03, 0x06, 0x07, 0x15, 0x43, 0x61, 0x62, 0x63}) | frozenset(
    range(0xC0, 0xC5)
)
_PERMANENT: Mapping[int, codes.TwilioCode] = MappingProxyType(
    {
        0x01: codes.CONTENT_TOO_LARGE,
        0x0B: codes.UNKNOWN_HANDSET,
        0x50: codes.UNKNOWN_HANDSET,
        0x51: codes.UNKNOWN_HANDSET,
        0x0A: codes.MESSAGE_BLOCKED,
        0x48: codes.MESSAGE_BLOCKED,
        0x49: codes.MESSAGE_BLOCKED,
        0x65: codes.MESSAGE_FILTERED,
        0x66: codes.MESSAGE_FILTERED,
        0xFE: codes.UNREACHABLE_HANDSET,
    }
    | {status: codes.UNKNOWN_ERROR for status in _MALFORMED}
)


def name_of(command_status: int) -> str:
    """The SMPP name of a command_status (`ESME_RTHROTTLED`), or its hexadecimal value with
    what SMPP reserves it for."""
    name = COMMAND_STATUS_NAMES.get(command_status)
    if name is not None:
        return name
    if command_status in _VENDOR_SPECIFIC:
        return f"vendor-specific 0x{command_status:08X}"
    return f"undefined 0x{command_status:08X}"


def submit_outcome(command_status: int) -> SubmitRefusal:
    """What a `submit_sm_resp` with this non-zero command_status means (table in the module
    docstring). ValueError for ESME_ROK, which refuses nothing."""
    if command_status == ESME_ROK:
        raise ValueError("ESME_ROK is not a refusal")
    name = name_of(command_status)
    if command_status in _SLOW_DOWN:
        return SubmitRefusal(codes.QUEUE_OVERFLOW.code, retry=True, slow_down=True, name=name)
    permanent = _PERMANENT.get(command_status)
    if permanent is not None:
        return SubmitRefusal(permanent.code, retry=False, slow_down=False, name=name)
    # The temporary statuses (0x04, 0x08, 0x45, 0x64) and every status not named above.
    return SubmitRefusal(codes.UNKNOWN_ERROR.code, retry=True, slow_down=False, name=name)
