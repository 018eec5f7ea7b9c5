"""Twilio's error codes as textrelay uses them: each code once, with its message and HTTP status.

The one catalogue. Every other module names a code through this module, never as a number, and
the exception classes of errors.py take their code, status and message from an entry here. It
is a module of its own because it holds more than what the API raises: the asynchronous codes
(a message's `error_code`/`error_message`, a callback's `ErrorCode`, a webhook attempt, a TwiML
warning) have no HTTP status and no exception class, and with them errors.py would pass ~400
lines.

An entry's `message` is the text textrelay sends with the code: Twilio's wording where it was
observed, else the title in Twilio's error dictionary. `{name}` fields make it a template that
the raising class fills in (`TwilioCode.format`). Some exceptions give a more precise wording of
their own under a shared code (MissingParameter under 20001, NotFound.for_path under 20404,
FromNotInServicePool under 21606): the code and status are still the entry's.

Facts: shared/twilio/api-core.md §4; messaging-and-webhooks.md §0, §1.6, §4.4, §5.3, §7.4, §11.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

MORE_INFO_BASE = "https://www.twilio.com/docs/errors/"


@dataclass(frozen=True, slots=True)
class TwilioCode:
    code: int
    message: str
    status: int | None = None
    """The HTTP status when the API answers with this code; None for a code that only shows
    up asynchronously (message JSON, status callback, webhook attempt, TwiML warning)."""

    @property
    def more_info(self) -> str:
        return f"{MORE_INFO_BASE}{self.code}"

    def format(self, **fields: object) -> str:
        """The message with its `{name}` fields filled in."""
        return self.message.format(**fields)


_BY_CODE: dict[int, TwilioCode] = {}


def _define(code: int, message: str, status: int | None = None) -> TwilioCode:
    if code in _BY_CODE:
        raise ValueError(f"error code {code} is in the catalogue twice")
    entry = _BY_CODE[code] = TwilioCode(code, message, status)
    return entry


# --- request-level (api-core.md §4) ---------------------------------------------------------

INVALID_PARAMETER = _define(20001, "Invalid parameter", 400)
UNAUTHENTICATED = _define(20003, "Authenticate", 401)
METHOD_NOT_ALLOWED = _define(20004, "Method not allowed", 405)
ACCOUNT_NOT_ACTIVE = _define(20005, "Account not active", 401)
PAGE_SIZE_TOO_LARGE = _define(20007, "Page size too large", 400)
DELETE_BEFORE_COMPLETE = _define(20009, "Cannot delete this resource before it is complete", 400)
FORBIDDEN = _define(20403, "Forbidden", 403)
NOT_FOUND = _define(20404, "The requested resource was not found", 404)
# Twilio documents no code for an oversized request body; 20413 mirrors its habit of
# prefixing the HTTP status with 20 (20404, 20429, 20500). Recorded in docs/compatibility.md.
REQUEST_TOO_LARGE = _define(20413, "Request body too large", 413)
TOO_MANY_REQUESTS = _define(20429, "Too Many Requests", 429)
INTERNAL_SERVER_ERROR = _define(20500, "Internal Server Error", 500)
SERVICE_UNAVAILABLE = _define(20503, "Service Unavailable", 503)
NOT_IMPLEMENTED = _define(20501, "Not Implemented", 501)
"""UNCONFIRMED for Twilio: textrelay's answer to a proxy request (CONNECT) on its base URL,
numbered as Twilio numbers its other HTTP-status codes, 20000 + the status
(docs/compatibility.md)."""

# --- phone numbers --------------------------------------------------------------------------

PHONE_NUMBER_INVALID = _define(21421, "PhoneNumber is invalid.", 400)
PHONE_NUMBER_UNAVAILABLE = _define(21422, "PhoneNumber is unavailable.", 400)
NO_NUMBERS_IN_AREA_CODE = _define(21452, "No phone numbers found in area code.", 400)

# --- message create and update (api-core.md §4; messaging-and-webhooks.md §0) --------------

INVALID_TO_NUMBER = _define(21211, "The 'To' number {to} is not a valid phone number.", 400)
INVALID_FROM_NUMBER = _define(
    21212,
    "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.",
    400,
)
NO_GEO_PERMISSION = _define(
    21408,
    "Permission to send an SMS has not been enabled for the region indicated by "
    "the 'To' number: {to}.",
    400,
)
MESSAGE_BODY_REQUIRED = _define(21602, "Message body is required.", 400)
FROM_REQUIRED = _define(21603, "A 'From' phone number is required.", 400)
TO_REQUIRED = _define(21604, "A 'To' phone number is required.", 400)
FROM_NOT_OWNED = _define(
    21606,
    "The From phone number {from_} is not a valid, SMS-capable inbound phone "
    "number or short code for your account.",
    400,
)
INVALID_STATUS_CALLBACK = _define(21609, "The StatusCallback URL {url} is not a valid URL.", 400)
RECIPIENT_UNSUBSCRIBED = _define(21610, "Attempt to send to unsubscribed recipient", 400)
SENDER_QUEUE_FULL = _define(
    21611, "This 'From' number has exceeded the maximum number of queued messages", 400
)
TO_UNREACHABLE = _define(
    21612,
    "The 'To' phone number: {to}, is not currently reachable using the 'From' "
    "phone number via SMS.",
    400,
)
TO_NOT_MOBILE = _define(21614, "'To' number {to} is not a valid mobile number", 400)
BODY_TOO_LONG = _define(
    21617, "The concatenated message body exceeds the 1600 character limit.", 400
)
INVALID_MEDIA_URL = _define(
    21620, "Media urls: {urls} are invalid. Please use only valid http and https urls", 400
)
TOO_MANY_MEDIA = _define(21623, "Number of media files exceeds allowed limit of 10.", 400)
INVALID_VALIDITY_PERIOD = _define(
    21624, "Validity Period must be an integer between 1 and 36000 seconds.", 400
)
CONTENT_SID_REQUIRED = _define(21654, "ContentSid Required", 400)
INVALID_CONTENT_SID = _define(21655, "The ContentSid is Invalid", 400)
FROM_ACCOUNT_MISMATCH = _define(
    21660, "Mismatch between the 'From' number {from_} and the account", 400
)
MESSAGE_UPDATE_INVALID = _define(30400, "Parameters are not valid", 400)
MESSAGE_NOT_CANCELABLE = _define(
    30409,
    "Message cannot be canceled. Only messages that are scheduled or have not yet "
    "been sent by a Messaging Service can be canceled.",
    400,
)

# --- scheduling (messaging-and-webhooks.md §8) ---------------------------------------------

SEND_AT_MISSING = _define(35111, "SendAt cannot be empty for ScheduleType 'fixed'", 400)
SEND_AT_TOO_SOON = _define(
    35114,
    "Scheduling does not support this timestamp: SendAt must be at least "
    "{minimum_s} seconds in the future",
    400,
)
SEND_AT_TOO_LATE = _define(
    35115,
    "Scheduling does not support this timestamp: SendAt must be at most "
    "{maximum_s} seconds in the future",
    400,
)
SCHEDULING_REQUIRES_SERVICE = _define(
    35118, "MessagingServiceSid is required to schedule a message", 400
)
SCHEDULE_TYPE_UNSUPPORTED = _define(35126, "ScheduleType is not supported for this channel", 400)

# --- Messaging Services and sender pools (messaging-and-webhooks.md §1.6, §2) ---------------

MESSAGING_SERVICE_NOT_FOUND = _define(21701, "The Messaging Service Sid {sid} is invalid.", 404)
NO_ELIGIBLE_SENDER = _define(21703, "No phone number available in the service")
"""Asynchronous: a service send whose pool has no sender that can reach the recipient."""
MESSAGING_SERVICE_POOL_EMPTY = _define(
    21704, "The Messaging Service contains no phone numbers", 400
)
MESSAGING_SERVICE_INVALID = _define(21705, "The Messaging Service Sid {sid} is invalid.", 400)
ALPHA_SENDER_MISSING = _define(
    21708, "Missing required parameter AlphaSender in the post body", 400
)
ALPHA_SENDER_INVALID = _define(
    21709,
    "Invalid AlphaSender '{alpha}': up to 11 letters, digits, spaces and + - _ &, not only digits",
    400,
)
SENDER_ALREADY_IN_SERVICE = _define(
    21710, "Phone Number or Short Code is already in the Messaging Service.", 409
)
SENDER_IN_ANOTHER_SERVICE = _define(
    21712, "Phone Number or Short Code is associated with another Messaging Service.", 409
)
INVALID_USECASE = _define(21713, "Invalid Usecase '{usecase}'", 400)

# --- webhooks, media fetches and TwiML (asynchronous; messaging-and-webhooks.md §4.4, §5.3,
# §7.4). The 141xx codes are about one <Message> of a TwiML reply. ---------------------------

HTTP_RETRIEVAL_FAILURE = _define(11200, "HTTP retrieval failure")
"""The receiver answered with a non-2xx status, timed out reading, or broke the protocol; for
media, a URL that cannot be fetched."""
HTTP_CONNECTION_FAILURE = _define(11205, "HTTP connection failure")
"""The receiver could not be connected to (refused, unreachable, connect timeout)."""
RESPONSE_TOO_LARGE = _define(11750, "TwiML response body too large")
MEDIA_TOO_LARGE = _define(11751, "Media exceeds messaging provider size limit")
DOCUMENT_PARSE_FAILURE = _define(12100, "Document parse failure")
ROOT_NOT_RESPONSE = _define(12102, "The root element must be Response")
SCHEMA_WARNING = _define(12200, "Schema validation warning")
INVALID_CONTENT_TYPE = _define(12300, "Invalid Content-Type")
"""A webhook answer that is neither TwiML nor text/plain; media of a type MMS cannot carry."""
REPLY_INVALID_TO = _define(14101, "Invalid 'To' attribute")
REPLY_INVALID_FROM = _define(14102, "Invalid 'From' attribute")
REPLY_INVALID_BODY = _define(14103, "Invalid Body")
REPLY_INVALID_METHOD = _define(14104, "Invalid Method attribute")
REPLY_INVALID_STATUS_CALLBACK = _define(14105, "Invalid statusCallback attribute")
DOCUMENT_LIMIT_REACHED = _define(14106, "Document retrieval limit reached")
"""More than twiml.MAX_DOCUMENTS documents fetched for one inbound message."""
REPLY_FROM_NOT_SMS_CAPABLE = _define(14108, "From phone number not SMS capable")
REPLY_LIMIT_EXCEEDED = _define(14109, "SMS Reply message limit exceeded")
REPLY_INVALID_VERB = _define(14110, "Invalid Verb for SMS Reply")

# --- delivery (asynchronous; messaging-and-webhooks.md §11) ---------------------------------

QUEUE_OVERFLOW = _define(30001, "Queue overflow")
ACCOUNT_SUSPENDED = _define(30002, "Account suspended")
UNREACHABLE_HANDSET = _define(30003, "Unreachable destination handset")
MESSAGE_BLOCKED = _define(30004, "Message blocked")
UNKNOWN_HANDSET = _define(30005, "Unknown destination handset")
LANDLINE = _define(30006, "Landline or unreachable carrier")
MESSAGE_FILTERED = _define(30007, "Message filtered")
UNKNOWN_ERROR = _define(30008, "Unknown error")
"""Also the outcome of a failure that names no code (a simulator rule, a step command)."""
MISSING_INBOUND_SEGMENT = _define(30009, "Missing inbound segment")
PRICE_EXCEEDS_MAX = _define(30010, "Message price exceeds max price")
MMS_NOT_SUPPORTED = _define(30011, "MMS not supported by the receiving phone number in this region")
CONTENT_TOO_LARGE = _define(30019, "Content size exceeds carrier limit")
A2P_RATE_LIMIT = _define(30022, "US A2P 10DLC - Rate Limits Exceeded")
TOLL_FREE_UNVERIFIED = _define(30032, "Toll-Free Number Has Not Been Verified")
A2P_UNREGISTERED_NUMBER = _define(30034, "US A2P 10DLC - Message from an Unregistered Number")
VALIDITY_EXPIRED = _define(30036, "Validity Period Expired")

DELIVERY_ERRORS: Mapping[int, TwilioCode] = MappingProxyType(
    {
        entry.code: entry
        for entry in (
            QUEUE_OVERFLOW,
            ACCOUNT_SUSPENDED,
            UNREACHABLE_HANDSET,
            MESSAGE_BLOCKED,
            UNKNOWN_HANDSET,
            LANDLINE,
            MESSAGE_FILTERED,
            UNKNOWN_ERROR,
            MISSING_INBOUND_SEGMENT,
            PRICE_EXCEEDS_MAX,
            MMS_NOT_SUPPORTED,
            CONTENT_TOO_LARGE,
            A2P_RATE_LIMIT,
            TOLL_FREE_UNVERIFIED,
            A2P_UNREGISTERED_NUMBER,
            VALIDITY_EXPIRED,
        )
    }
)
"""The delivery family: what a carrier reports for an `undelivered` or `failed` message, and
what the simulator's built-in failing numbers (+1555013XXXX, +1555023XXXX) may name."""

# --- channels (messaging-and-webhooks.md §9) -------------------------------------------------

SESSION_WINDOW_CLOSED = _define(
    63016,
    "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
)
"""A WhatsApp or Messenger message sent more than 24 hours after the user last wrote."""

CATALOGUE: Mapping[int, TwilioCode] = MappingProxyType(_BY_CODE)
"""Every entry above, by code."""
