"""The small interfaces services use to reach the outside (STYLE.md rule 6).

CarrierSink, the way back up from a carrier, is declared in domain/carriers.py so that the
adapters implementing Carrier can name it without reaching up into services.

app.py plugs in the concrete adapters: textrelay.carriers for Carrier, textrelay.webhooks for
WebhookTransport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from textrelay.domain.carriers import (
    CarrierSink,
    CarrierState,
    MobileOriginated,
    Receipt,
    SubmitAnswer,
)
from textrelay.domain.media import FetchedMedia, MediaFailure
from textrelay.domain.messages import Message
from textrelay.domain.webhooks import WebhookOutcome, WebhookRequest


class Carrier(Protocol):
    """Where outbound messages go: the simulator, an SMSC over SMPP, an upstream
    Twilio-compatible API. app.py opens every carrier with the server and closes it on stop."""

    @property
    def name(self) -> str: ...

    async def open(self, sink: CarrierSink) -> None:
        """Start connecting (binds are made in the background; `submit` waits for none)."""
        ...

    async def submit(self, message: Message) -> SubmitAnswer:
        """Hand a message over: accepted with the carrier's references, or rejected with a
        Twilio error code and whether to try again. Never raises for the carrier's behaviour."""
        ...

    async def close(self) -> None: ...

    def state(self) -> CarrierState: ...


@runtime_checkable
class CallbackCarrier(Protocol):
    """A carrier that reports by calling textrelay back over HTTP: an upstream
    Twilio-compatible API posts status callbacks to
    `/textrelay/v1/Carriers/{name}/StatusCallback` and handsets' messages to
    `/textrelay/v1/Carriers/{name}/IncomingMessage` (api/carriers.py)."""

    async def status_callback(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> Receipt | None:
        """Check the callback's X-Twilio-Signature, hand the receipt it carries to the sink
        the carrier was opened with, and return it (None: a status that settles nothing).
        `url` is where the request arrived; the signature is checked against the callback
        URL the carrier gave the upstream. NotSignedByCarrier, before anything is handed over,
        when the signature is missing or wrong."""
        ...

    async def incoming_message(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> MobileOriginated | None:
        """Check the request's X-Twilio-Signature as `status_callback` does, and hand the
        handset's message it carries to the sink; returns once the sink is done with it.
        None when it carries no message; NotSignedByCarrier when the signature is missing or
        wrong."""
        ...


class WebhookTransport(Protocol):
    async def deliver(self, request: WebhookRequest) -> WebhookOutcome:
        """Make every HTTP attempt one webhook's policy allows; never raises for the
        receiver's behaviour."""
        ...


class MediaFetcher(Protocol):
    async def fetch(
        self, url: str, budget_bytes: int, *, auth: tuple[str, str] | None = None
    ) -> FetchedMedia | MediaFailure:
        """The media at `url` within `budget_bytes`, or why it cannot be sent. `auth`: HTTP
        Basic credentials for `url`'s own origin (not sent on past a redirect elsewhere)."""
        ...


class MediaStore(Protocol):
    """Where media bytes live (a directory by default), keyed by Media SID."""

    async def put(self, sid: str, content: bytes) -> None: ...

    async def get(self, sid: str) -> bytes | None: ...

    async def delete(self, sid: str) -> None: ...
