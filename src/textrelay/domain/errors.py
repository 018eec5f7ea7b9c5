"""The error catalogue: each Twilio error textrelay can raise, with its code and HTTP status.

Raised anywhere, rendered once (api/errors.py) as {"code", "message", "more_info", "status"}.
Codes and messages: shared/twilio/api-core.md §4 and messaging-and-webhooks.md §11.
"""

from __future__ import annotations

MORE_INFO_BASE = "https://www.twilio.com/docs/errors/"


class TwilioError(Exception):
    """An error with Twilio's contract: a numeric code, an HTTP status and a message."""

    code: int = 20500
    status: int = 500
    default_message: str = "Internal Server Error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    @property
    def more_info(self) -> str:
        return f"{MORE_INFO_BASE}{self.code}"


# --- request-level -----------------------------------------------------------------------


class InvalidParameter(TwilioError):
    code, status = 20001, 400
    default_message = "Invalid parameter"


class MissingParameter(TwilioError):
    # Twilio's wording for a missing required parameter (messaging-and-webhooks.md §0).
    code, status = 20001, 400

    def __init__(self, name: str) -> None:
        super().__init__(f"Missing required parameter {name} in the post body")


class Unauthenticated(TwilioError):
    code, status = 20003, 401
    default_message = "Authenticate"


class MethodNotAllowed(TwilioError):
    code, status = 20004, 405
    default_message = "Method not allowed"


class PageSizeTooLarge(TwilioError):
    code, status = 20007, 400
    default_message = "Page size too large"


class DeleteBeforeComplete(TwilioError):
    code, status = 20009, 400
    default_message = "Cannot delete this resource before it is complete"


class NotFound(TwilioError):
    code, status = 20404, 404
    default_message = "The requested resource was not found"

    @classmethod
    def for_path(cls, path: str) -> NotFound:
        return cls(f"The requested resource {path} was not found")


class RequestTooLarge(TwilioError):
    # Twilio documents no code for an oversized request body; 20413 mirrors its habit of
    # prefixing the HTTP status with 20 (20404, 20429, 20500). Recorded in docs/compatibility.md.
    code, status = 20413, 413
    default_message = "Request body too large"


class TooManyRequests(TwilioError):
    code, status = 20429, 429
    default_message = "Too Many Requests"


class ServiceUnavailable(TwilioError):
    code, status = 20503, 503
    default_message = "Service Unavailable"


# --- phone numbers -----------------------------------------------------------------------


class PhoneNumberInvalid(TwilioError):
    code, status = 21421, 400
    default_message = "PhoneNumber is invalid."


class PhoneNumberUnavailable(TwilioError):
    code, status = 21422, 400
    default_message = "PhoneNumber is unavailable."


class NoNumbersInAreaCode(TwilioError):
    code, status = 21452, 400
    default_message = "No phone numbers found in area code."


# --- message create ----------------------------------------------------------------------


class InvalidToNumber(TwilioError):
    code, status = 21211, 400

    def __init__(self, to: str) -> None:
        super().__init__(f"The 'To' number {to} is not a valid phone number.")


class InvalidFromNumber(TwilioError):
    code, status = 21212, 400

    def __init__(self, from_: str) -> None:
        super().__init__(
            f"The 'From' number {from_} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID."
        )


class NoGeoPermission(TwilioError):
    code, status = 21408, 400

    def __init__(self, to: str) -> None:
        super().__init__(
            "Permission to send an SMS has not been enabled for the region indicated by "
            f"the 'To' number: {to}."
        )


class MessageBodyRequired(TwilioError):
    code, status = 21602, 400
    default_message = "Message body is required."


class FromRequired(TwilioError):
    code, status = 21603, 400
    default_message = "A 'From' phone number is required."


class ToRequired(TwilioError):
    code, status = 21604, 400
    default_message = "A 'To' phone number is required."


class FromNotOwned(TwilioError):
    code, status = 21606, 400

    def __init__(self, from_: str) -> None:
        super().__init__(
            f"The From phone number {from_} is not a valid, SMS-capable inbound phone "
            "number or short code for your account."
        )


class FromAccountMismatch(TwilioError):
    code, status = 21660, 400

    def __init__(self, from_: str) -> None:
        super().__init__(f"Mismatch between the 'From' number {from_} and the account")


class InvalidStatusCallback(TwilioError):
    code, status = 21609, 400

    def __init__(self, url: str) -> None:
        super().__init__(f"The StatusCallback URL {url} is not a valid URL.")


class RecipientUnsubscribed(TwilioError):
    code, status = 21610, 400
    default_message = "Attempt to send to unsubscribed recipient"


class SenderQueueFull(TwilioError):
    code, status = 21611, 400
    default_message = "This 'From' number has exceeded the maximum number of queued messages"


class ToUnreachable(TwilioError):
    code, status = 21612, 400

    def __init__(self, to: str) -> None:
        super().__init__(
            f"The 'To' phone number: {to}, is not currently reachable using the 'From' "
            "phone number via SMS."
        )


class ToNotMobile(TwilioError):
    code, status = 21614, 400

    def __init__(self, to: str) -> None:
        super().__init__(f"'To' number {to} is not a valid mobile number")


class BodyTooLong(TwilioError):
    code, status = 21617, 400
    default_message = "The concatenated message body exceeds the 1600 character limit."


class InvalidMediaUrl(TwilioError):
    code, status = 21620, 400

    def __init__(self, urls: list[str]) -> None:
        joined = ", ".join(urls)
        super().__init__(
            f"Media urls: {joined} are invalid. Please use only valid http and https urls"
        )


class TooManyMedia(TwilioError):
    code, status = 21623, 400
    default_message = "Number of media files exceeds allowed limit of 10."


class InvalidValidityPeriod(TwilioError):
    code, status = 21624, 400
    default_message = "Validity Period must be an integer between 1 and 36000 seconds."


class ContentSidRequired(TwilioError):
    code, status = 21654, 400
    default_message = "ContentSid Required"


class InvalidContentSid(TwilioError):
    code, status = 21655, 400
    default_message = "The ContentSid is Invalid"


class MessagingServiceNotFound(TwilioError):
    code, status = 21701, 404

    def __init__(self, sid: str) -> None:
        super().__init__(f"The Messaging Service Sid {sid} is invalid.")


class MessagingServiceInvalid(TwilioError):
    code, status = 21705, 400

    def __init__(self, sid: str) -> None:
        super().__init__(f"The Messaging Service Sid {sid} is invalid.")


class MessageUpdateInvalid(TwilioError):
    code, status = 30400, 400
    default_message = "Parameters are not valid"


class MessageNotCancelable(TwilioError):
    code, status = 30409, 400
    default_message = (
        "Message cannot be canceled. Only messages that are scheduled or have not yet "
        "been sent by a Messaging Service can be canceled."
    )


class SchedulingRequiresService(TwilioError):
    code, status = 35118, 400
    default_message = "MessagingServiceSid is required to schedule a message"


class ScheduleTypeUnsupported(TwilioError):
    code, status = 35126, 400
    default_message = "ScheduleType is not supported for this channel"


class SendAtMissing(TwilioError):
    code, status = 35111, 400
    default_message = "SendAt cannot be empty for ScheduleType 'fixed'"


# --- textrelay's own control API (not Twilio's; shaped like Twilio's errors) ------------------


class NothingToStep(TwilioError):
    code, status = 20001, 400

    def __init__(self, sid: str, status: str) -> None:
        super().__init__(f"Message {sid} is {status}: it has no next status to step to")


class StepUnreachable(TwilioError):
    code, status = 20001, 400

    def __init__(self, current: str, outcome: str) -> None:
        super().__init__(f"A {current} message cannot become {outcome}")


class InvalidSimulatorConfig(TwilioError):
    code, status = 20001, 400


# --- Messaging Services and sender pools (messaging-and-webhooks.md §1.6, §2) --------------


class SenderNotFound(TwilioError):
    code, status = 20404, 404

    def __init__(self, name: str, sid: str) -> None:
        super().__init__(f"The requested resource {name} {sid} was not found")


class SenderAlreadyInService(TwilioError):
    code, status = 21710, 409
    default_message = "Phone Number or Short Code is already in the Messaging Service."


class SenderInAnotherService(TwilioError):
    code, status = 21712, 409
    default_message = "Phone Number or Short Code is associated with another Messaging Service."


class AlphaSenderMissing(TwilioError):
    code, status = 21708, 400
    default_message = "Missing required parameter AlphaSender in the post body"


class AlphaSenderInvalid(TwilioError):
    code, status = 21709, 400

    def __init__(self, alpha: str) -> None:
        super().__init__(
            f"Invalid AlphaSender '{alpha}': up to 11 letters, digits, spaces and + - _ &, "
            "not only digits"
        )


class InvalidUsecase(TwilioError):
    code, status = 21713, 400

    def __init__(self, usecase: str) -> None:
        super().__init__(f"Invalid Usecase '{usecase}'")


class MessagingServicePoolEmpty(TwilioError):
    code, status = 21704, 400
    default_message = "The Messaging Service contains no phone numbers"


class FromNotInServicePool(TwilioError):
    code, status = 21606, 400

    def __init__(self, sender: str) -> None:
        super().__init__(f"The From phone number {sender} is not in the Messaging Service's pool")


NO_ELIGIBLE_SENDER = 21703
"""A service send whose pool has no sender that can reach the recipient fails with this."""


class SendAtTooSoon(TwilioError):
    code, status = 35114, 400

    def __init__(self, minimum_s: int) -> None:
        super().__init__(
            f"Scheduling does not support this timestamp: SendAt must be at least "
            f"{minimum_s} seconds in the future"
        )


class SendAtTooLate(TwilioError):
    code, status = 35115, 400

    def __init__(self, maximum_s: int) -> None:
        super().__init__(
            f"Scheduling does not support this timestamp: SendAt must be at most "
            f"{maximum_s} seconds in the future"
        )
