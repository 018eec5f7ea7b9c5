"""Routing: which carrier an outbound message leaves through, and which carrier may bring a
number's inbound messages.

The routing table is read top to bottom (docs/carriers-file.md, "Routing rules"):

1. A destination on a channel other than SMS (`whatsapp:…`, `messenger:…`) goes to the
   simulator. SMPP carriers and upstream SMS carriers carry SMS and MMS to phone numbers; they
   have no WhatsApp or Messenger session to deliver in, so such a message could only fail there.
2. The first route, in file order, whose every condition matches the message gives the
   carriers to try: its carrier, then its fallbacks. A condition not given matches anything.
3. No route matches: the simulator.
4. In allowlist mode, a destination outside the allowlist never leaves through a real carrier:
   the route's choice is replaced by the simulator and the choice says it was held back (a
   staging server with a live SMSC texts only the team's own phones).

A number bound to a carrier (its `numbers`) accepts inbound traffic from that carrier only; an
unbound number accepts it from any carrier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import phonenumbers

from textrelay.domain.addresses import channel_of, region_of
from textrelay.domain.carriers import SIMULATOR
from textrelay.domain.sids import normalize


class RoutingMode(StrEnum):
    ALL = "all"
    """Every destination may leave through the carrier its route names."""
    ALLOWLIST = "allowlist"
    """Only destinations on the allowlist may leave through a real carrier."""


def known_country(code: str) -> bool:
    """Whether `code` is an ISO 3166 alpha-2 country that has phone numbers (as
    libphonenumber knows them), in upper case: `GB`, `US`."""
    return code in phonenumbers.SUPPORTED_REGIONS


@dataclass(frozen=True, slots=True)
class Route:
    """One `[[route]]`: where the messages it matches go. It matches a message when every
    condition given matches; a condition not given (empty) matches anything."""

    carrier: str
    fallback: tuple[str, ...] = ()
    """Carriers tried in order when the carrier cannot be reached."""
    senders: frozenset[str] = frozenset()
    """The message's From, exactly: E.164, short code or alphanumeric sender ID."""
    messaging_services: frozenset[str] = frozenset()
    """Messaging Service SIDs (MG…), lowercase hex."""
    to_prefixes: tuple[str, ...] = ()
    """Prefixes of the E.164 To: `+4477`."""
    countries: frozenset[str] = frozenset()
    """ISO 3166 alpha-2 countries of the E.164 To: `GB`."""
    accounts: frozenset[str] = frozenset()
    """Account SIDs (AC…), lowercase hex."""
    name: str | None = None
    line: int = 0
    """The line of its `[[route]]` header in the carriers file (0: not from a file)."""

    @property
    def carriers(self) -> tuple[str, ...]:
        """The carriers to try, in order."""
        return (self.carrier, *self.fallback)

    def matches(
        self,
        *,
        account_sid: str,
        from_: str | None,
        to: str,
        messaging_service_sid: str | None,
    ) -> bool:
        """Whether every condition given holds for the message (SIDs normalised)."""
        if self.accounts and account_sid not in self.accounts:
            return False
        if self.senders and from_ not in self.senders:
            return False
        if self.messaging_services and messaging_service_sid not in self.messaging_services:
            return False
        if self.to_prefixes and not to.startswith(self.to_prefixes):
            return False
        return not self.countries or region_of(to) in self.countries


@dataclass(frozen=True, slots=True)
class RouteChoice:
    carriers: tuple[str, ...]
    """The carriers to try, in order; `(SIMULATOR,)` when nothing real takes the message."""
    held_back: bool = False
    """The allowlist kept the message from the real carrier its route named."""
    route: str | None = None
    """The route that matched: its name, or `route N` (1-based, in file order); None when
    none did (or the destination is not SMS's)."""


_SIMULATOR_ONLY = (SIMULATOR,)


@dataclass(frozen=True, slots=True)
class RouteTable:
    routes: tuple[Route, ...] = ()
    mode: RoutingMode = RoutingMode.ALL
    allow_prefixes: tuple[str, ...] = ()
    """Allowlist: prefixes of E.164 destinations (`+4477`)."""
    allow_countries: frozenset[str] = frozenset()
    """Allowlist: ISO 3166 alpha-2 countries of E.164 destinations (`GB`)."""
    bound_numbers: Mapping[str, str] = field(default_factory=dict)
    """Number or short code → the carrier it is bound to."""

    @classmethod
    def simulator_only(cls) -> RouteTable:
        """The table without a carriers file: everything goes to the simulator."""
        return cls()

    def choose(
        self,
        account_sid: str,
        from_: str | None,
        to: str,
        messaging_service_sid: str | None,
    ) -> RouteChoice:
        """The carriers an outbound message is tried on, by the rules in the module's
        docstring. `to` and `from_` are wire addresses as stored (E.164 for numbers)."""
        if channel_of(to).is_prefixed:
            return RouteChoice(_SIMULATOR_ONLY)
        account = normalize(account_sid)
        service = normalize(messaging_service_sid) if messaging_service_sid else None
        for number, route in enumerate(self.routes, start=1):
            if route.matches(
                account_sid=account, from_=from_, to=to, messaging_service_sid=service
            ):
                label = route.name or f"route {number}"
                if self._holds_back(route, to):
                    return RouteChoice(_SIMULATOR_ONLY, held_back=True, route=label)
                return RouteChoice(route.carriers, route=label)
        return RouteChoice(_SIMULATOR_ONLY)

    def allowed(self, to: str) -> bool:
        """Whether `to` may leave through a real carrier (always, in mode `all`)."""
        if self.mode is RoutingMode.ALL:
            return True
        if to.startswith(self.allow_prefixes):
            return True
        return bool(self.allow_countries) and region_of(to) in self.allow_countries

    def inbound_allowed(self, carrier: str, number: str) -> bool:
        """Whether `carrier` may bring inbound traffic (messages, receipts) for `number`: a
        number bound to a carrier hears from that carrier only; an unbound one from any."""
        bound = self.bound_numbers.get(number)
        return bound is None or bound == carrier

    def _holds_back(self, route: Route, to: str) -> bool:
        real = any(carrier != SIMULATOR for carrier in route.carriers)
        return real and not self.allowed(to)
