"""TwiML for Programmable Messaging: what a webhook's answer asks textrelay to do.

Facts: shared/twilio/messaging-and-webhooks.md §5.3 (response processing and the `<Response>`,
`<Message>`, `<Body>`, `<Media>` and `<Redirect>` vocabulary). Sans-IO: `interpret` sees one HTTP
answer (status, Content-Type, body) and returns the replies to send, where to go next, or the
error that sends the caller to the fallback URL (§5.2). Fetching, following `action` and
`<Redirect>`, counting replies and documents across a session (MAX_REPLIES, MAX_DOCUMENTS) and
checking `to`/`from` against the account's numbers (14101, 14102, 14108) are the caller's.

One module on purpose (~430 lines): it is one parser of one document format, and its checks
read best in the order TwiML's elements nest.

Documented limitations: the `version` attribute of `<Response>` is accepted but not checked
(Twilio's 12101); the legacy `<Sms>` verb is treated as unknown (12200).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from textrelay.domain import codes
from textrelay.domain.codes import TwilioCode
from textrelay.domain.segments import MAX_BODY_CHARACTERS, body_length

MAX_RESPONSE_BYTES = 65536
"""A larger answer fails with 11750 (§5.3: "body > 64 kB")."""
MAX_REPLIES = 10
"""Replies per inbound message (§5.3, 14109); the caller also counts across documents."""
MAX_DOCUMENTS = 50
"""Documents per inbound message, redirects and actions included (§5.3, 14106; the caller's)."""
MAX_MEDIA = 10
"""`<Media>` nouns per `<Message>` (§5.3)."""

_TWIML_TYPES = frozenset({"text/xml", "application/xml", "text/html"})
_PLAIN_TYPE = "text/plain"

# Voice verbs (and their nouns when misplaced at the top level): in a messaging answer they are
# skipped with 14110, "non-message verb in SMS reply" (§5.3), not reported as unknown.
_VOICE_VERBS = frozenset(
    {
        "Say",
        "Play",
        "Dial",
        "Gather",
        "Record",
        "Hangup",
        "Pause",
        "Reject",
        "Enqueue",
        "Leave",
        "Connect",
        "Refer",
        "Pay",
        "Prompt",
        "Start",
        "Stop",
        "Stream",
        "Siprec",
        "Echo",
        "Number",
        "Client",
        "Conference",
        "Queue",
        "Sip",
    }
)
_RESPONSE_ATTRIBUTES = frozenset({"version"})
_MESSAGE_ATTRIBUTES = frozenset({"to", "from", "action", "method", "statusCallback"})
_REDIRECT_ATTRIBUTES = frozenset({"method"})


class HttpMethod(StrEnum):
    """The methods `method` may name on `<Message>` and `<Redirect>` (default POST)."""

    GET = "GET"
    POST = "POST"


@dataclass(frozen=True, slots=True)
class TwimlError:
    """Why an answer failed: the caller requests the fallback URL with this ErrorCode (§5.2)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class TwimlWarning:
    """A problem Twilio logs as a warning; the rest of the document still runs."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class ReplyMessage:
    """One `<Message>` (or a text/plain answer) to send as an `outbound-reply`."""

    to: str | None = None
    """As written; None replies to the inbound sender."""
    from_: str | None = None
    """As written; None sends from the number that received the inbound message."""
    body: str = ""
    media_urls: tuple[str, ...] = ()
    action: str | None = None
    """Relative or absolute; requested with MessageStatus once the reply's status is known."""
    method: HttpMethod = HttpMethod.POST
    """For both `action` and `status_callback`."""
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class Redirect:
    """`<Redirect>`: fetch the next document from `url` (resolve it with `resolve`)."""

    url: str
    method: HttpMethod = HttpMethod.POST


@dataclass(frozen=True, slots=True)
class TwimlAnswer:
    """What one webhook answer asks for. With `error` set, nothing is sent: go to the fallback."""

    replies: tuple[ReplyMessage, ...] = ()
    redirect: Redirect | None = None
    error: TwimlError | None = None
    warnings: tuple[TwimlWarning, ...] = ()

    @property
    def failed(self) -> bool:
        return self.error is not None


def resolve(base_url: str, target: str) -> str:
    """An `action` or `<Redirect>` URL made absolute against the URL that was requested."""
    return urljoin(base_url, target)


def interpret(status_code: int, content_type: str | None, body: bytes) -> TwimlAnswer:
    """The instructions in one webhook answer, per messaging-and-webhooks.md §5.3.

    Never raises: every malformed answer becomes an error or a warning.
    """
    # §5.3: a 4xx/5xx answer is an HTTP retrieval failure. Timeouts and connection errors
    # (11200/11205) never produce an answer, so the caller records those itself.
    if not 200 <= status_code < 300:
        return _failure(codes.HTTP_RETRIEVAL_FAILURE, f"The webhook answered HTTP {status_code}")
    # §5.3: 204, or an answer with nothing in it, is the standard "do nothing". Whitespace counts
    # as nothing: there is no document to parse, whatever the Content-Type.
    if status_code == 204 or not body.strip():
        return TwimlAnswer()
    if len(body) > MAX_RESPONSE_BYTES:
        return _failure(
            codes.RESPONSE_TOO_LARGE,
            f"The answer is {len(body)} bytes; the limit is {MAX_RESPONSE_BYTES}",
        )
    media_type, charset = _parse_content_type(content_type)
    if media_type in _TWIML_TYPES:
        return _interpret_document(body)
    if media_type == _PLAIN_TYPE:
        return _interpret_plain_text(body, charset)
    # §5.3: other or missing Content-Type → 12300.
    shown = content_type if content_type else "(none)"
    return _failure(
        codes.INVALID_CONTENT_TYPE, f"Content-Type {shown} is neither TwiML nor text/plain"
    )


# --- answers that are not XML ----------------------------------------------------------------


def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """The media type, lower-cased, and the charset parameter if there is one."""
    if not content_type:
        return "", None
    media_type, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


def _interpret_plain_text(body: bytes, charset: str | None) -> TwimlAnswer:
    # §5.3: text/plain is "sent back to the sender as a message", under the same body rules as
    # <Message>. An unknown charset falls back to UTF-8 rather than failing the answer.
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    warnings: list[TwimlWarning] = []
    reply = _reply(_normalise_newlines(text), (), {}, warnings)
    return TwimlAnswer(replies=() if reply is None else (reply,), warnings=tuple(warnings))


def _normalise_newlines(text: str) -> str:
    # What an XML parser does to a <Message>'s text, so both paths yield the same body.
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- TwiML documents -------------------------------------------------------------------------


def _interpret_document(body: bytes) -> TwimlAnswer:
    try:
        # DTDs, entity declarations and external references are refused (defusedxml): a
        # webhook answer is untrusted input, and Twilio's TwiML needs none of them.
        root = fromstring(body, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        # §5.3: invalid XML (unclosed tags, whitespace before `<?xml`, …) → 12100.
        return _failure(codes.DOCUMENT_PARSE_FAILURE, f"The answer is not valid XML: {exc}")
    # §5.3: names are case-sensitive, so <response> is not the root Twilio wants → 12102.
    if root.tag != "Response":
        return _failure(
            codes.ROOT_NOT_RESPONSE, f"The root element is <{root.tag}>, not <Response>"
        )

    warnings: list[TwimlWarning] = []
    _check_attributes(root, _RESPONSE_ATTRIBUTES, warnings)
    _check_no_text(root, root.text, warnings)
    replies: list[ReplyMessage] = []
    redirect: Redirect | None = None
    # §5.3: verbs run top to bottom. XML comments never reach here (the parser drops them).
    for verb in root:
        _check_no_text(root, verb.tail, warnings)
        if verb.tag == "Message":
            reply = _message(verb, warnings)
            if reply is None:
                continue
            replies.append(reply)
            # §5.3: more than MAX_REPLIES replies → 14109, and none of them is sent.
            if len(replies) > MAX_REPLIES:
                return _failure(
                    codes.REPLY_LIMIT_EXCEEDED,
                    f"The document asks for more than {MAX_REPLIES} replies",
                    warnings,
                )
            # §5.3: with `action`, the rest of the document is skipped; the caller continues
            # with the TwiML that the action request returns.
            if reply.action is not None:
                break
        elif verb.tag == "Redirect":
            redirect = _redirect(verb, warnings)
            # §5.3: <Redirect> transfers control; later verbs are ignored.
            if redirect is not None:
                break
        elif verb.tag in _VOICE_VERBS:
            # §5.3: a non-message verb in an SMS reply → 14110, skipped.
            warnings.append(
                _warning(codes.REPLY_INVALID_VERB, f"<{verb.tag}> is not a messaging verb")
            )
        else:
            # §5.3: an unknown verb, including a wrongly cased one (<message>) → 12200, skipped.
            warnings.append(_warning(codes.SCHEMA_WARNING, f"Unknown verb <{verb.tag}>"))
    return TwimlAnswer(replies=tuple(replies), redirect=redirect, warnings=tuple(warnings))


def _message(verb: ET.Element, warnings: list[TwimlWarning]) -> ReplyMessage | None:
    """A `<Message>`, or None when it cannot be sent (the warning says why)."""
    _check_attributes(verb, _MESSAGE_ATTRIBUTES, warnings)
    # Plain text and every <Body> noun, concatenated in document order (§5.3).
    parts = [verb.text or ""]
    media: list[str] = []
    for noun in verb:
        if noun.tag == "Body":
            _check_attributes(noun, frozenset(), warnings)
            parts.append(_noun_text(noun, warnings))
        elif noun.tag == "Media":
            _check_attributes(noun, frozenset(), warnings)
            url = _noun_text(noun, warnings).strip()
            if url:
                media.append(url)
            else:
                warnings.append(_warning(codes.SCHEMA_WARNING, "<Media> without a URL skipped"))
        else:
            # Verbs cannot nest (§5.3); anything else inside <Message> is not in the schema.
            warnings.append(
                _warning(codes.SCHEMA_WARNING, f"Unknown noun <{noun.tag}> in <Message>")
            )
        parts.append(noun.tail or "")
    # §5.3: at most MAX_MEDIA <Media>. Twilio's schema has no dedicated code for more, so the
    # extra ones are dropped with the schema warning.
    if len(media) > MAX_MEDIA:
        warnings.append(
            _warning(
                codes.SCHEMA_WARNING,
                f"{len(media)} <Media> in one <Message>; only the first {MAX_MEDIA} are sent",
            )
        )
        media = media[:MAX_MEDIA]
    return _reply("".join(parts), tuple(media), verb.attrib, warnings)


def _reply(
    text: str,
    media_urls: tuple[str, ...],
    attributes: dict[str, str],
    warnings: list[TwimlWarning],
) -> ReplyMessage | None:
    # The whole text is trimmed: indentation around <Body> is layout, not content. Twilio does
    # not document this; textrelay follows what a reader of the document expects.
    body = text.strip()
    # §5.3: 14103 for a body that is empty (without media) or longer than 1600 characters,
    # counted as Twilio counts them (segments.body_length); that message is not sent.
    if not body and not media_urls:
        warnings.append(
            _warning(codes.REPLY_INVALID_BODY, "The message has neither a body nor media")
        )
        return None
    if body_length(body) > MAX_BODY_CHARACTERS:
        warnings.append(
            _warning(
                codes.REPLY_INVALID_BODY,
                f"The body is {body_length(body)} characters; the limit is {MAX_BODY_CHARACTERS}",
            )
        )
        return None
    # §5.3: `to`/`from` default to the inbound sender / receiving number. An attribute that is
    # present but blank is not the default: sending to the sender instead of a recipient whose
    # number failed to render would be worse than not sending, so the message is skipped.
    to = attributes.get("to")
    if to is not None and not to.strip():
        warnings.append(_warning(codes.REPLY_INVALID_TO, "The 'to' attribute is empty"))
        return None
    from_ = attributes.get("from")
    if from_ is not None and not from_.strip():
        warnings.append(_warning(codes.REPLY_INVALID_FROM, "The 'from' attribute is empty"))
        return None
    action = attributes.get("action")
    if action is not None and not _is_url(action):
        # Twilio has no dedicated code for a bad `action`; the schema warning, and no action.
        warnings.append(_warning(codes.SCHEMA_WARNING, f"Invalid action URL {action!r} ignored"))
        action = None
    status_callback = attributes.get("statusCallback")
    if status_callback is not None and not _is_url(status_callback):
        warnings.append(
            _warning(
                codes.REPLY_INVALID_STATUS_CALLBACK,
                f"Invalid statusCallback {status_callback!r} ignored",
            )
        )
        status_callback = None
    return ReplyMessage(
        to=None if to is None else to.strip(),
        from_=None if from_ is None else from_.strip(),
        body=body,
        media_urls=media_urls,
        action=None if action is None else action.strip(),
        method=_method(attributes, warnings),
        status_callback=None if status_callback is None else status_callback.strip(),
    )


def _redirect(verb: ET.Element, warnings: list[TwimlWarning]) -> Redirect | None:
    _check_attributes(verb, _REDIRECT_ATTRIBUTES, warnings)
    url = _noun_text(verb, warnings).strip()
    if not _is_url(url):
        warnings.append(_warning(codes.SCHEMA_WARNING, f"<Redirect> to {url!r} skipped: not a URL"))
        return None
    return Redirect(url=url, method=_method(verb.attrib, warnings))


def _method(attributes: dict[str, str], warnings: list[TwimlWarning]) -> HttpMethod:
    # §5.3: `method` is GET or POST (default POST); anything else → 14104 and POST.
    raw = attributes.get("method")
    if raw is None:
        return HttpMethod.POST
    # Case-sensitive like the rest of TwiML: the schema's values are upper-case.
    if raw in (HttpMethod.GET, HttpMethod.POST):
        return HttpMethod(raw)
    warnings.append(_warning(codes.REPLY_INVALID_METHOD, f"Invalid method {raw!r}; POST used"))
    return HttpMethod.POST


def _noun_text(element: ET.Element, warnings: list[TwimlWarning]) -> str:
    """The text of a noun; elements nested inside it are not TwiML and are left out."""
    parts = [element.text or ""]
    for child in element:
        warnings.append(
            _warning(codes.SCHEMA_WARNING, f"Unexpected <{child.tag}> inside <{element.tag}>")
        )
        parts.append(child.tail or "")
    return "".join(parts)


def _check_attributes(
    element: ET.Element, allowed: frozenset[str], warnings: list[TwimlWarning]
) -> None:
    # §5.3: unknown attributes, wrongly cased ones included (`statuscallback`) → 12200.
    for name in element.attrib:
        if name not in allowed:
            warnings.append(
                _warning(codes.SCHEMA_WARNING, f"Unknown attribute {name!r} on <{element.tag}>")
            )


def _check_no_text(element: ET.Element, text: str | None, warnings: list[TwimlWarning]) -> None:
    if text is not None and text.strip():
        warnings.append(
            _warning(codes.SCHEMA_WARNING, f"Text directly inside <{element.tag}> ignored")
        )


def _is_url(text: str) -> bool:
    """Absolute http(s) or relative, with nothing a URL cannot contain."""
    cleaned = text.strip()
    if not cleaned or any(c.isspace() or not c.isprintable() for c in cleaned):
        return False
    try:
        scheme = urlsplit(cleaned).scheme
    except ValueError:
        return False
    return scheme in ("", "http", "https")


def _warning(entry: TwilioCode, detail: str) -> TwimlWarning:
    return TwimlWarning(entry.code, f"{entry.message}: {detail}")


def _failure(
    entry: TwilioCode, detail: str, warnings: list[TwimlWarning] | None = None
) -> TwimlAnswer:
    error = TwimlError(entry.code, f"{entry.message}: {detail}")
    return TwimlAnswer(error=error, warnings=tuple(warnings or ()))
