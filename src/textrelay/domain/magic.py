"""Twilio's magic test numbers (shared/twilio/api-core.md §5), honoured on every account.

On Twilio they work with test credentials only; textrelay is a test bench, so any account may
use them to provoke the documented validation errors without setting anything up.
"""

from __future__ import annotations

from collections.abc import Callable

from textrelay.domain import errors

MAGIC_SENDER_OK = "+15005550006"
"""Passes every check on `From` without being owned, and its messages never advance."""

_FROM_ERRORS: dict[str, Callable[[str], errors.TwilioError]] = {
    "+15005550001": errors.InvalidFromNumber,
    "+15005550007": errors.FromNotOwned,
    "+15005550008": lambda _n: errors.SenderQueueFull(),
}

_TO_ERRORS: dict[str, Callable[[str], errors.TwilioError]] = {
    "+15005550001": errors.InvalidToNumber,
    "+15005550002": errors.ToUnreachable,
    "+15005550003": errors.NoGeoPermission,
    "+15005550004": lambda _n: errors.RecipientUnsubscribed(),
    "+15005550009": errors.ToNotMobile,
}

# IncomingPhoneNumbers create.
NUMBER_UNAVAILABLE = "+15005550000"
NUMBER_INVALID = "+15005550001"
MAGIC_NUMBER_OK = "+15005550006"
AREA_CODE_EMPTY = "533"
AREA_CODE_MAGIC = "500"


def check_sender(e164: str) -> None:
    """Raise the error Twilio documents for a magic `From`, if it is one."""
    make = _FROM_ERRORS.get(e164)
    if make is not None:
        raise make(e164)


def check_recipient(e164: str) -> None:
    """Raise the error Twilio documents for a magic `To`, if it is one."""
    make = _TO_ERRORS.get(e164)
    if make is not None:
        raise make(e164)
