"""SIDs: the 34-character names of every resource (two-letter prefix + 32 hex digits).

Facts: shared/twilio/api-core.md §1. Twilio emits lowercase hex and its specs accept either
case, so generation is lowercase and parsing accepts both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

SID_LENGTH = 34
_SID_PATTERN = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


class SidType(StrEnum):
    """The prefixes textrelay knows, named after the resource they identify."""

    ACCOUNT = "AC"
    MESSAGE = "SM"
    MMS_MESSAGE = "MM"
    MEDIA = "ME"
    MESSAGING_SERVICE = "MG"
    PHONE_NUMBER = "PN"
    SHORT_CODE = "SC"
    API_KEY = "SK"
    APPLICATION = "AP"
    CONTENT = "HX"
    ALPHA_SENDER = "AI"
    CHANNEL_SENDER = "XE"
    REQUEST = "RQ"
    CALL = "CA"


@dataclass(frozen=True, slots=True)
class SidKind:
    resource: str
    product: str


SID_REGISTRY: dict[SidType, SidKind] = {
    SidType.ACCOUNT: SidKind("Account", "REST API (api.twilio.com/2010-04-01)"),
    SidType.MESSAGE: SidKind("Message (SMS)", "Programmable Messaging"),
    SidType.MMS_MESSAGE: SidKind("Message (with media)", "Programmable Messaging"),
    SidType.MEDIA: SidKind("Media", "Programmable Messaging"),
    SidType.MESSAGING_SERVICE: SidKind(
        "Messaging Service", "Programmable Messaging (messaging.twilio.com/v1)"
    ),
    SidType.PHONE_NUMBER: SidKind("IncomingPhoneNumber", "Phone Numbers"),
    SidType.SHORT_CODE: SidKind("ShortCode", "Programmable Messaging"),
    SidType.API_KEY: SidKind("API Key", "REST API (api.twilio.com/2010-04-01)"),
    SidType.APPLICATION: SidKind("Application (TwiML app)", "REST API"),
    SidType.CONTENT: SidKind("Content template", "Content API"),
    SidType.ALPHA_SENDER: SidKind("Alphanumeric Sender ID", "Programmable Messaging"),
    SidType.CHANNEL_SENDER: SidKind("Channel sender", "Programmable Messaging"),
    SidType.REQUEST: SidKind("API request", "REST API (Twilio-Request-Id header)"),
    SidType.CALL: SidKind("Call", "Programmable Voice (not emulated)"),
}

MESSAGE_SID_TYPES = frozenset({SidType.MESSAGE, SidType.MMS_MESSAGE})


class SidGenerator:
    """Makes new SIDs from a source of random bytes.

    The domain owns no randomness: the composition root passes `secrets.token_bytes`, or a
    seeded generator's `randbytes` when deterministic SIDs are wanted.
    """

    __slots__ = ("_random_bytes",)

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random_bytes = random_bytes

    def new(self, sid_type: SidType) -> str:
        return sid_type.value + self._random_bytes(16).hex()

    def new_hex(self, n_bytes: int = 16) -> str:
        """Random lowercase hex of the same source, for auth tokens and key secrets."""
        return self._random_bytes(n_bytes).hex()


@dataclass(frozen=True, slots=True)
class SidExplanation:
    sid: str
    well_formed: bool
    prefix: str
    kind: SidKind | None
    problem: str | None


_PREFIXES = frozenset(t.value for t in SidType)


def is_sid(value: str, *types: SidType) -> bool:
    """True when `value` is a well-formed SID of one of `types` (any known type if none)."""
    if len(value) != SID_LENGTH or not _SID_PATTERN.match(value):
        return False
    # Plain string membership (SidType values are str): called several times per request.
    return value[:2] in (types or _PREFIXES)


def normalize(sid: str) -> str:
    """The canonical spelling of a well-formed SID: prefix as is, hex in lowercase."""
    return sid[:2] + sid[2:].lower()


def explain(value: str) -> SidExplanation:
    """What a SID names and, if it is malformed, why."""
    text = value.strip()
    prefix = text[:2].upper()
    try:
        kind: SidKind | None = SID_REGISTRY[SidType(prefix)]
    except ValueError:
        kind = None
    problem: str | None = None
    if len(text) != SID_LENGTH:
        problem = f"a SID is {SID_LENGTH} characters long; this one has {len(text)}"
    elif not text[:2].isupper() or not text[:2].isalpha():
        problem = "a SID starts with two uppercase letters"
    elif not re.fullmatch(r"[0-9a-fA-F]{32}", text[2:]):
        problem = "after its prefix a SID has 32 hexadecimal digits"
    elif kind is None:
        problem = f"the prefix {prefix!r} is not one textrelay knows"
    return SidExplanation(text, problem is None, prefix, kind, problem)
