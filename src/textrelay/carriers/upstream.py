"""The upstream carrier: messages relayed through a Twilio-compatible API (Twilio itself,
Somleng, another textrelay), reports taken from its signed status callbacks, and handsets'
messages from its signed incoming message webhooks (docs/carriers-upstream.md).

A submit is one `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with the upstream's
credentials; the SID it answers with is the message's reference. The upstream reports at the
StatusCallback given with every message, `{callback_base_url}/textrelay/v1/Carriers/{name}/
StatusCallback`, which api/carriers.py hands to `status_callback` here; a handset's message
to one of the upstream's numbers comes to `…/IncomingMessage` (`incoming_message`). httpx
exceptions stop in this module: a submit always answers Accepted or Rejected.

Delivery is at least once: Twilio's Message create takes no idempotency key (the API's
`IdempotencyKey` parameters are on Payments and Calls' user-defined messages only;
`I-Twilio-Idempotency-Token` is a header of Twilio's webhooks, not of requests to it), so an
answer lost after the upstream created the message (a read timeout, a 5xx, a crash before
textrelay commits the 201) leads to a second create.
"""

from __future__ import annotations

import email.utils
import hmac
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from textrelay import __version__
from textrelay.carriers.config import UpstreamCarrierConfig
from textrelay.domain import codes
from textrelay.domain.carriers import (
    Accepted,
    BindState,
    CarrierSink,
    CarrierState,
    Direction,
    ExchangedPdu,
    MobileOriginated,
    NotSignedByCarrier,
    Receipt,
    Rejected,
    SubmitAnswer,
)
from textrelay.domain.media import MAX_MMS_BYTES, FetchedMedia, MediaFailure
from textrelay.domain.messages import API_VERSION, Message
from textrelay.domain.statuses import MessageStatus
from textrelay.domain.webhooks import twilio_signature

log = logging.getLogger(__name__)

KIND = "upstream"
COMMAND = "POST Messages.json"
CALLBACK_COMMAND = "POST StatusCallback"
INCOMING_COMMAND = "POST IncomingMessage"
MEDIA_COMMAND = "GET media"
MAX_INCOMING_MEDIA = 10
"""Twilio's most attachments a message (NumMedia); MediaUrl10 and past are not fetched."""
_RETRY_AFTER_DEFAULT_S = 1.0
# Twilio's messaging delivery errors are 30xxx (shared/twilio/api-core.md §4.2, "Delivery errors");
# a 4xx answer naming one is a refusal of this message, kept as its error code. Any other code
# (21211 invalid To, 21606 From not owned, 20003 bad credentials…) is a request textrelay made
# wrong for that upstream, which the app cannot act on: 30008, with the upstream's words as the
# reason.
_DELIVERY_CODES = range(30000, 31000)
_INTERMEDIATE = frozenset({"queued", "sending", "sent", "accepted"})
_FINAL = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}


class FetchMedia(Protocol):
    """How an attachment is fetched (services/ports.MediaFetcher.fetch): bounded in time and
    size, its type checked."""

    async def __call__(
        self, url: str, budget_bytes: int, *, auth: tuple[str, str] | None = None
    ) -> FetchedMedia | MediaFailure: ...


class UpstreamCarrier:
    """A Carrier (services/ports.py) over an upstream's REST API, and a CallbackCarrier: its
    reports come back through `status_callback`, handsets' messages through
    `incoming_message`, whose attachments `fetch_media` fetches."""

    def __init__(self, config: UpstreamCarrierConfig, fetch_media: FetchMedia) -> None:
        self._config = config
        self._fetch_media = fetch_media
        self._messages_url = (
            f"{config.base_url}/{API_VERSION}/Accounts/{config.account_sid}/Messages.json"
        )
        self._client: httpx.AsyncClient | None = None
        self._sink: CarrierSink | None = None
        self._answered = True
        """The last request got an HTTP answer (the bind shows as bound until one does not)."""
        self._last_error: str | None = None
        self._in_flight = 0
        self.counters: Counter[str] = Counter(submitted=0, rejected=0, receipts=0)
        """submitted, rejected, receipts (reports of any status), bad_signatures."""

    @property
    def name(self) -> str:
        return self._config.name

    async def open(self, sink: CarrierSink) -> None:
        self._sink = sink
        if self._client is None:
            self._client = httpx.AsyncClient(
                auth=(self._config.account_sid, self._config.auth_token),
                timeout=self._config.timeout_s,
                headers={"User-Agent": f"textrelay/{__version__}", "Accept": "application/json"},
                follow_redirects=False,
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def state(self) -> CarrierState:
        bind = BindState(
            self._config.base_url,
            bound=self._answered,
            in_flight=self._in_flight,
            submitted=self.counters["submitted"],
            receipts=self.counters["receipts"],
            last_error=self._last_error,
        )
        return CarrierState(self.name, KIND, (bind,), dict(self.counters))

    # --- outbound --------------------------------------------------------------------------

    async def submit(self, message: Message) -> SubmitAnswer:
        form = self._form(message)
        sent = ExchangedPdu(Direction.SENT, COMMAND, _shown(form), at=_now())
        client = self._client
        if client is None:
            return self._rejected(
                Rejected(
                    codes.UNKNOWN_ERROR.code,
                    "the carrier is not open",
                    retry=True,
                    retry_after_s=_RETRY_AFTER_DEFAULT_S,
                    unreachable=True,
                    exchanged=(sent,),
                )
            )
        self._in_flight += 1
        try:
            response = await client.post(self._messages_url, data=form)
        except httpx.HTTPError as exc:
            # No answer (refused, DNS, TLS, timed out) or no usable one (a broken response):
            # the upstream may or may not have the message; trying again is at least once.
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._answered = False
            self._last_error = what
            received = ExchangedPdu(Direction.RECEIVED, "no answer", {"error": what}, at=_now())
            return self._rejected(
                Rejected(
                    codes.UNKNOWN_ERROR.code,
                    f"{self._config.base_url} did not answer: {what}",
                    retry=True,
                    retry_after_s=_RETRY_AFTER_DEFAULT_S,
                    unreachable=True,
                    exchanged=(sent, received),
                )
            )
        finally:
            self._in_flight -= 1
        self._answered = True
        return self._answer(response, sent)

    def _form(self, message: Message) -> dict[str, str | list[str]]:
        """The create's form fields (Twilio's names; shared/twilio/api-core.md §2.2)."""
        form: dict[str, str | list[str]] = {"To": message.to, "Body": message.body}
        if message.from_:
            form["From"] = message.from_
        if message.options.media_urls:
            form["MediaUrl"] = list(message.options.media_urls)
        form["StatusCallback"] = self._config.status_callback_url
        if message.options.validity_period_s is not None:
            form["ValidityPeriod"] = str(message.options.validity_period_s)
        return form

    def _answer(self, response: httpx.Response, sent: ExchangedPdu) -> SubmitAnswer:
        status = response.status_code
        data = _json_object(response)
        sid = _text(data.get("sid"))
        error_code = _code(data.get("code"))
        error_message = _text(data.get("message"))
        fields = {"sid": sid, "status": _text(data.get("status"))}
        if error_code is not None:
            fields["error"] = f"{error_code} {error_message}".strip()
        received = ExchangedPdu(
            Direction.RECEIVED,
            f"HTTP {status}",
            {name: value for name, value in fields.items() if value},
            status=status,
            at=_now(),
        )
        exchanged = (sent, received)
        if 200 <= status < 300:
            if sid:
                self._last_error = None
                self.counters["submitted"] += 1
                return Accepted(references=(sid,), exchanged=exchanged)
            # Created, perhaps, but with nothing to match its reports by. Not retried: the
            # upstream may well have the message, and a second create would send it twice.
            return self._refused(
                codes.UNKNOWN_ERROR.code, f"HTTP {status} without a message sid", exchanged
            )
        reason = error_message or f"HTTP {status}"
        if error_code is not None:
            reason = f"{reason} ({error_code})"
        if status == 429 or status >= 500:
            self._last_error = f"HTTP {status}: {reason}"
            return self._rejected(
                Rejected(
                    codes.UNKNOWN_ERROR.code,
                    f"HTTP {status}: {reason}",
                    retry=True,
                    retry_after_s=_retry_after_s(response.headers.get("Retry-After")),
                    slow_down=status == 429,
                    exchanged=exchanged,
                )
            )
        if status in (401, 403):
            # Every message would be refused alike: the carriers file's credentials are wrong.
            log.warning("%s: %s refused the credentials: %s", self.name, self._messages_url, reason)
        code = (
            error_code
            if error_code is not None and error_code in _DELIVERY_CODES
            else codes.UNKNOWN_ERROR.code
        )
        return self._refused(code, f"HTTP {status}: {reason}", exchanged)

    def _refused(
        self, error_code: int, reason: str, exchanged: tuple[ExchangedPdu, ...]
    ) -> Rejected:
        return self._rejected(Rejected(error_code, reason, retry=False, exchanged=exchanged))

    def _rejected(self, rejected: Rejected) -> Rejected:
        self.counters["rejected"] += 1
        return rejected

    # --- reports ---------------------------------------------------------------------------

    async def status_callback(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> Receipt | None:
        """A status callback from the upstream: check its signature, hand the receipt it
        carries to the sink, and return it; None for a status that settles nothing (`read`,
        `canceled`, a callback without a MessageSid).

        The signature is checked against the StatusCallback textrelay gave the upstream
        (`status_callback_url`), not `url`, the URL the request arrived at, which differs
        behind a proxy; `url` only explains a refusal. NotSignedByCarrier when the
        signature is missing or wrong; nothing is handed over then.
        """
        self._check_signature(
            "a status callback", url, self._config.status_callback_url, params, signature
        )
        receipt = receipt_from_callback(params)
        if receipt is None:
            return None
        self.counters["receipts"] += 1
        if self._sink is None:
            log.warning("%s: a status callback came before the carrier was opened", self.name)
            return receipt
        await self._sink.receipts(self.name, (receipt,))
        return receipt

    # --- handsets' messages ----------------------------------------------------------------

    async def incoming_message(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> MobileOriginated | None:
        """A handset's message to one of the upstream's numbers, which the upstream sent to
        that number's incoming message webhook (`incoming_message_url`): check its signature
        as `status_callback` does, fetch its attachments, hand it to the sink, and return it
        once the sink has stored it (or refused it: a number nobody here owns). None, with
        nothing handed over, when it names no sender or no recipient. NotSignedByCarrier as
        `status_callback`."""
        self._check_signature(
            "an incoming message", url, self._config.incoming_message_url, params, signature
        )
        from_, to = params.get("From", ""), params.get("To", "")
        if not from_ or not to:
            log.warning("%s: an incoming message without From or To ignored", self.name)
            return None
        received = ExchangedPdu(Direction.RECEIVED, INCOMING_COMMAND, dict(params), at=_now())
        media, fetches = await self._attachments(params)
        message = MobileOriginated(
            from_=from_,
            to=to,
            body=params.get("Body", ""),
            exchanged=(received, *fetches),
            media=media,
            reference=params.get("MessageSid") or params.get("SmsSid") or None,
            media_base_url=self._config.callback_base_url,
        )
        if self._sink is None:
            log.warning("%s: an incoming message came before the carrier was opened", self.name)
            return message
        await self._sink.mobile_originated(self.name, message)
        return message

    async def _attachments(
        self, params: Mapping[str, str]
    ) -> tuple[tuple[tuple[str, bytes], ...], tuple[ExchangedPdu, ...]]:
        """The attachments (content type, bytes) of an incoming message, fetched in order
        with the upstream's credentials for its own URLs, within MMS's 5 MB in all; and what
        each fetch gave, for the console. One that cannot be fetched is left out and logged:
        the upstream does not send the message again, and the text is worth keeping."""
        count = min(_count(params.get("NumMedia")), MAX_INCOMING_MEDIA)
        budget = MAX_MMS_BYTES
        media: list[tuple[str, bytes]] = []
        fetches: list[ExchangedPdu] = []
        for index in range(count):
            url = params.get(f"MediaUrl{index}", "")
            if not url:
                continue
            auth = self._credentials if _same_origin(url, self._config.base_url) else None
            fetched = await self._fetch_media(url, budget, auth=auth)
            if isinstance(fetched, MediaFailure):
                log.warning("%s: attachment %s left out: %s", self.name, url, fetched.message)
                fields = {"url": url, "error": f"{fetched.code} {fetched.message}"}
            else:
                budget -= len(fetched.content)
                media.append((fetched.content_type, fetched.content))
                fields = {
                    "url": url,
                    "content_type": fetched.content_type,
                    "bytes": str(len(fetched.content)),
                }
            fetches.append(ExchangedPdu(Direction.RECEIVED, MEDIA_COMMAND, fields, at=_now()))
        return tuple(media), tuple(fetches)

    @property
    def _credentials(self) -> tuple[str, str]:
        return self._config.account_sid, self._config.auth_token

    def _check_signature(
        self,
        what: str,
        url: str,
        expected: str,
        params: Mapping[str, str],
        signature: str | None,
    ) -> None:
        """NotSignedByCarrier unless `signature` is the upstream's for `expected`, the URL textrelay
        gave the upstream for `what` (not `url`, where the request arrived: it differs behind
        a proxy)."""
        if not signature or not _signed(self._config.auth_token, expected, params, signature):
            self.counters["bad_signatures"] += 1
            raise NotSignedByCarrier(
                f"the X-Twilio-Signature of {what} to {url} is "
                f"{'missing' if not signature else 'not valid'} for {expected} and the "
                f"auth token of {self._config.account_sid}"
            )


def receipt_from_callback(params: Mapping[str, str]) -> Receipt | None:
    """The receipt a Twilio status callback carries (shared/twilio/messaging-and-webhooks.md
    §4.3): `delivered`, `undelivered` or `failed` with its ErrorCode (30008 when it names
    none: Twilio's failed messages always carry one), `sent` for the statuses before those,
    None for the others and for a callback that names no message."""
    reference = params.get("MessageSid") or params.get("SmsSid")
    reported = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not reference:
        return None
    pdu = ExchangedPdu(Direction.RECEIVED, CALLBACK_COMMAND, dict(params), at=_now())
    if reported in _INTERMEDIATE:
        return Receipt(reference, MessageStatus.SENT, detail=reported, exchanged=(pdu,))
    status = _FINAL.get(reported)
    if status is None:
        return None
    error_code = None
    if status is not MessageStatus.DELIVERED:
        error_code = _code(params.get("ErrorCode")) or codes.UNKNOWN_ERROR.code
    detail = reported if error_code is None else f"{reported} ErrorCode={error_code}"
    return Receipt(
        reference,
        status,
        error_code=error_code,
        detail=detail,
        exchanged=(pdu,),
        # The addresses let a callback that overtakes the create's answer find its message.
        handset=params.get("To") or None,
        sender=params.get("From") or None,
    )


def _signed(token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Whether `signature` is the upstream's for `url` and `params`. As twilio-python's
    RequestValidator, the URL counts with and without its port: signers differ on whether an
    explicit port is part of it (messaging-and-webhooks.md §4.5)."""
    pairs = list(params.items())
    given = signature.encode()
    return any(
        hmac.compare_digest(twilio_signature(token, candidate, pairs).encode(), given)
        for candidate in _with_and_without_port(url)
    )


def _with_and_without_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    netloc = parts.netloc if parts.port is None else parts.netloc.rsplit(":", 1)[0]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (
        urlunsplit(parts._replace(netloc=netloc)),
        urlunsplit(parts._replace(netloc=f"{netloc}:{port}")),
    )


def _count(value: str | None) -> int:
    """NumMedia as a count; 0 when it is not one."""
    text = (value or "").strip()
    return int(text) if text.isdigit() else 0


def _same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is on the upstream's API host (scheme, host and port alike): only there
    do its credentials go."""
    one, other = urlsplit(url), urlsplit(base_url)
    try:
        return (one.scheme, one.hostname, one.port) == (other.scheme, other.hostname, other.port)
    except ValueError:  # a port that is not a number
        return False


def _retry_after_s(header: str | None) -> float:
    """Retry-After in seconds (RFC 9110 §10.2.3: seconds, or an HTTP date); 1 s without one."""
    if not header:
        return _RETRY_AFTER_DEFAULT_S
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return _RETRY_AFTER_DEFAULT_S
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - _now()).total_seconds(), 0.0)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; {} when it is not one (an HTML error page, a proxy's text)."""
    try:
        data = response.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _code(value: object) -> int | None:
    """A Twilio error code as an int: given as a JSON number, or as a form field's digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def _shown(form: Mapping[str, str | list[str]]) -> dict[str, str]:
    """The form as the console shows it (the credentials are in a header, not here)."""
    return {
        name: value if isinstance(value, str) else " ".join(value) for name, value in form.items()
    }


def _now() -> datetime:
    return datetime.now(UTC)
