"""Opt-out keywords (STOP / START / HELP), their auto-replies and the opted-out state they set.

Facts: shared/twilio/messaging-and-webhooks.md §6. Only Twilio's default, English keyword set
is modelled; the service layer stores what `apply` decides under the key `scope_for` gives and
sends the reply it returns.

Documented limitations (not modelled here):
* Advanced Opt-Out (custom keywords and replies per service, language and country).
* Toll-free carrier handling (`NETWORK MSG:` replies, `YES` not opting back in).
* Standalone short codes, where Twilio does no keyword handling by default: the caller decides
  whether to consult these rules at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Keyword(StrEnum):
    """The category of a keyword; the values are those of the inbound `OptOutType` parameter."""

    STOP = "STOP"
    START = "START"
    HELP = "HELP"


DEFAULT_KEYWORDS: Mapping[Keyword, tuple[str, ...]] = MappingProxyType(
    {
        # REVOKE and OPTOUT are in Twilio's current docs, not in older lists (§6).
        Keyword.STOP: (
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
        ),
        Keyword.START: ("START", "YES", "UNSTOP"),
        Keyword.HELP: ("HELP", "INFO"),
    }
)

DEFAULT_REPLIES: Mapping[Keyword, str] = MappingProxyType(
    {
        Keyword.STOP: (
            "You have successfully been unsubscribed. You will not receive any more messages "
            "from this number. Reply START to resubscribe."
        ),
        Keyword.START: (
            "You have successfully been re-subscribed to messages from this number. "
            "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
        ),
        Keyword.HELP: "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    }
)

_BY_FOLDED_WORD: Mapping[str, Keyword] = MappingProxyType(
    {word.casefold(): keyword for keyword, words in DEFAULT_KEYWORDS.items() for word in words}
)


def classify(body: str) -> Keyword | None:
    """The keyword category of an inbound body, or None when it is not a keyword message.

    Twilio counts only a single-word message, trimmed and compared case-insensitively
    ("STOP PLEASE" is not an opt-out, §6); comparison uses Unicode casefolding.
    """
    # §6 is silent on punctuation, so "stop." and "Stop!" are NOT keywords: matching only the
    # bare word is the narrow reading of "single-word message", and wrongly blocking a
    # recipient is worse than a user resending a plain STOP.
    return _BY_FOLDED_WORD.get(body.strip().casefold())


@dataclass(frozen=True, slots=True)
class OptOutScope:
    """The key an opt-out is stored under."""

    recipient: str
    """The handset's address, i.e. the inbound `From` and the outbound `To`."""
    sender_scope: str
    """The Twilio sender's address, or `service:<MG sid>` when it is in a Messaging Service."""


def scope_for(recipient: str, sender: str, service_sid: str | None) -> OptOutScope:
    """The scope an opt-out from `recipient` to `sender` covers.

    An opt-out to a number in a Messaging Service covers the whole service (§6), so it is keyed
    by the service rather than the number. An empty `service_sid` means "no service", as an
    absent `MessagingServiceSid` does.
    """
    sender_scope = _service_scope(service_sid) if service_sid else sender
    return OptOutScope(recipient=recipient, sender_scope=sender_scope)


def sender_scopes(sender: str | None, *service_sids: str | None) -> set[str]:
    """Every scope an opt-out could have been stored under that a send from `sender`, in
    these services, falls within: the sender's own and each service's."""
    scopes = {_service_scope(sid) for sid in service_sids if sid}
    if sender:
        scopes.add(sender)
    return scopes


def _service_scope(service_sid: str) -> str:
    return f"service:{service_sid}"


def reply_for(keyword: Keyword, *, opted_out_before: bool) -> str | None:
    """The auto-reply to a keyword, or None when Twilio sends none.

    STOP and START always get their reply; HELP gets none while the handset is opted out (§6).
    """
    if keyword is Keyword.HELP and opted_out_before:
        return None
    return DEFAULT_REPLIES[keyword]


@dataclass(frozen=True, slots=True)
class OptOutDecision:
    opted_out: bool
    """The recipient's opted-out state after the message."""
    reply: str | None
    """The auto-reply to send, if any."""


def apply(keyword: Keyword | None, opted_out: bool) -> OptOutDecision:
    """What an inbound message does to a scope that is `opted_out` before it arrives.

    STOP opts out, START opts in, HELP and any other text leave the state alone (§6).
    """
    if keyword is None:
        return OptOutDecision(opted_out=opted_out, reply=None)
    reply = reply_for(keyword, opted_out_before=opted_out)
    if keyword is Keyword.STOP:
        return OptOutDecision(opted_out=True, reply=reply)
    if keyword is Keyword.START:
        return OptOutDecision(opted_out=False, reply=reply)
    return OptOutDecision(opted_out=opted_out, reply=reply)
