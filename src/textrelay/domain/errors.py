"""The exceptions textrelay raises at the API, each carrying an entry of the code catalogue.

Raised anywhere, rendered once (api/errors.py) as {"code", "message", "more_info", "status"}.
Codes, statuses and messages live in domain/codes.py; a class names its entry with
`class X(TwilioError, entry=codes.SOME_CODE)` and takes its code, status and default message
from it.
"""

from __future__ import annotations

from typing import ClassVar

from textrelay.domain import codes
from textrelay.domain.codes import TwilioCode


class TwilioError(Exception):
    """An error with Twilio's contract: a catalogue entry's code and HTTP status, and a message
    (the entry's, or a more precise one the raiser gives)."""

    entry: ClassVar[TwilioCode]
    code: int
    status: int
    default_message: str

    def __init_subclass__(cls, entry: TwilioCode | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if entry is not None:
            _adopt(cls, entry)

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)

    @property
    def more_info(self) -> str:
        return f"{codes.MORE_INFO_BASE}{self.code}"


def _adopt(cls: type[TwilioError], entry: TwilioCode) -> None:
    if entry.status is None:
        raise TypeError(f"{cls.__name__}: error {entry.code} is never an HTTP answer")
    cls.entry = entry
    cls.code, cls.status, cls.default_message = entry.code, entry.status, entry.message


_adopt(TwilioError, codes.INTERNAL_SERVER_ERROR)


# --- request-level -----------------------------------------------------------------------


class InvalidParameter(TwilioError, entry=codes.INVALID_PARAMETER):
    pass


class MissingParameter(TwilioError, entry=codes.INVALID_PARAMETER):
    # Twilio's wording for a missing required parameter (messaging-and-webhooks.md §0).
    def __init__(self, name: str) -> None:
        super().__init__(f"Missing required parameter {name} in the post body")


class Unauthenticated(TwilioError, entry=codes.UNAUTHENTICATED):
    pass


class AccountNotActive(TwilioError, entry=codes.ACCOUNT_NOT_ACTIVE):
    pass


class NotAProxy(TwilioError, entry=codes.NOT_IMPLEMENTED):
    """A proxy request (CONNECT) sent to the API's base URL."""


class Forbidden(TwilioError, entry=codes.FORBIDDEN):
    """The caller is known but may not do this (a subaccount moving the server's clock)."""


class MethodNotAllowed(TwilioError, entry=codes.METHOD_NOT_ALLOWED):
    pass


class PageSizeTooLarge(TwilioError, entry=codes.PAGE_SIZE_TOO_LARGE):
    pass


class DeleteBeforeComplete(TwilioError, entry=codes.DELETE_BEFORE_COMPLETE):
    pass


class NotFound(TwilioError, entry=codes.NOT_FOUND):
    @classmethod
    def for_path(cls, path: str) -> NotFound:
        return cls(f"The requested resource {path} was not found")


class UnknownAccount(NotFound):
    """An operator named an account that does not exist (`textrelay accounts …`)."""


class NoSecondaryAuthToken(NotFound):
    """Promote or delete with no secondary auth token: 20404 on the path asked for, as for any
    missing resource (docs/compatibility.md: UNCONFIRMED)."""


class RequestTooLarge(TwilioError, entry=codes.REQUEST_TOO_LARGE):
    pass


class TooManyRequests(TwilioError, entry=codes.TOO_MANY_REQUESTS):
    pass


class ServiceUnavailable(TwilioError, entry=codes.SERVICE_UNAVAILABLE):
    pass


# --- phone numbers -----------------------------------------------------------------------


class PhoneNumberInvalid(TwilioError, entry=codes.PHONE_NUMBER_INVALID):
    pass


class PhoneNumberUnavailable(TwilioError, entry=codes.PHONE_NUMBER_UNAVAILABLE):
    pass


class NoNumbersInAreaCode(TwilioError, entry=codes.NO_NUMBERS_IN_AREA_CODE):
    pass


# --- message create ----------------------------------------------------------------------


class InvalidToNumber(TwilioError, entry=codes.INVALID_TO_NUMBER):
    def __init__(self, to: str) -> None:
        super().__init__(self.entry.format(to=to))


class InvalidFromNumber(TwilioError, entry=codes.INVALID_FROM_NUMBER):
    def __init__(self, from_: str) -> None:
        super().__init__(self.entry.format(from_=from_))


class NoGeoPermission(TwilioError, entry=codes.NO_GEO_PERMISSION):
    def __init__(self, to: str) -> None:
        super().__init__(self.entry.format(to=to))


class MessageBodyRequired(TwilioError, entry=codes.MESSAGE_BODY_REQUIRED):
    pass


class FromRequired(TwilioError, entry=codes.FROM_REQUIRED):
    pass


class ToRequired(TwilioError, entry=codes.TO_REQUIRED):
    pass


class FromNotOwned(TwilioError, entry=codes.FROM_NOT_OWNED):
    def __init__(self, from_: str) -> None:
        super().__init__(self.entry.format(from_=from_))


class FromAccountMismatch(TwilioError, entry=codes.FROM_ACCOUNT_MISMATCH):
    def __init__(self, from_: str) -> None:
        super().__init__(self.entry.format(from_=from_))


class InvalidStatusCallback(TwilioError, entry=codes.INVALID_STATUS_CALLBACK):
    def __init__(self, url: str) -> None:
        super().__init__(self.entry.format(url=url))


class RecipientUnsubscribed(TwilioError, entry=codes.RECIPIENT_UNSUBSCRIBED):
    pass


class SenderQueueFull(TwilioError, entry=codes.SENDER_QUEUE_FULL):
    pass


class ToUnreachable(TwilioError, entry=codes.TO_UNREACHABLE):
    def __init__(self, to: str) -> None:
        super().__init__(self.entry.format(to=to))


class ToNotMobile(TwilioError, entry=codes.TO_NOT_MOBILE):
    def __init__(self, to: str) -> None:
        super().__init__(self.entry.format(to=to))


class BodyTooLong(TwilioError, entry=codes.BODY_TOO_LONG):
    pass


class InvalidMediaUrl(TwilioError, entry=codes.INVALID_MEDIA_URL):
    def __init__(self, urls: list[str]) -> None:
        super().__init__(self.entry.format(urls=", ".join(urls)))


class TooManyMedia(TwilioError, entry=codes.TOO_MANY_MEDIA):
    pass


class InvalidValidityPeriod(TwilioError, entry=codes.INVALID_VALIDITY_PERIOD):
    pass


class ContentSidRequired(TwilioError, entry=codes.CONTENT_SID_REQUIRED):
    pass


class InvalidContentSid(TwilioError, entry=codes.INVALID_CONTENT_SID):
    pass


class MessagingServiceNotFound(TwilioError, entry=codes.MESSAGING_SERVICE_NOT_FOUND):
    def __init__(self, sid: str) -> None:
        super().__init__(self.entry.format(sid=sid))


class MessagingServiceInvalid(TwilioError, entry=codes.MESSAGING_SERVICE_INVALID):
    def __init__(self, sid: str) -> None:
        super().__init__(self.entry.format(sid=sid))


class MessageUpdateInvalid(TwilioError, entry=codes.MESSAGE_UPDATE_INVALID):
    pass


class MessageNotCancelable(TwilioError, entry=codes.MESSAGE_NOT_CANCELABLE):
    pass


class SchedulingRequiresService(TwilioError, entry=codes.SCHEDULING_REQUIRES_SERVICE):
    pass


class ScheduleTypeUnsupported(TwilioError, entry=codes.SCHEDULE_TYPE_UNSUPPORTED):
    pass


class SendAtMissing(TwilioError, entry=codes.SEND_AT_MISSING):
    pass


class SendAtTooSoon(TwilioError, entry=codes.SEND_AT_TOO_SOON):
    def __init__(self, minimum_s: int) -> None:
        super().__init__(self.entry.format(minimum_s=minimum_s))


class SendAtTooLate(TwilioError, entry=codes.SEND_AT_TOO_LATE):
    def __init__(self, maximum_s: int) -> None:
        super().__init__(self.entry.format(maximum_s=maximum_s))


# --- textrelay's own control API (not Twilio's; shaped like Twilio's errors) ------------------


class NothingToStep(TwilioError, entry=codes.INVALID_PARAMETER):
    def __init__(self, sid: str, status: str) -> None:
        super().__init__(f"Message {sid} is {status}: it has no next status to step to")


class StepUnreachable(TwilioError, entry=codes.INVALID_PARAMETER):
    def __init__(self, current: str, outcome: str) -> None:
        super().__init__(f"A {current} message cannot become {outcome}")


class InvalidSimulatorConfig(TwilioError, entry=codes.INVALID_PARAMETER):
    pass


# --- Messaging Services and sender pools (messaging-and-webhooks.md §1.6, §2) --------------


class SenderNotFound(TwilioError, entry=codes.NOT_FOUND):
    def __init__(self, name: str, sid: str) -> None:
        super().__init__(f"The requested resource {name} {sid} was not found")


class SenderAlreadyInService(TwilioError, entry=codes.SENDER_ALREADY_IN_SERVICE):
    pass


class SenderInAnotherService(TwilioError, entry=codes.SENDER_IN_ANOTHER_SERVICE):
    pass


class AlphaSenderMissing(TwilioError, entry=codes.ALPHA_SENDER_MISSING):
    pass


class AlphaSenderInvalid(TwilioError, entry=codes.ALPHA_SENDER_INVALID):
    def __init__(self, alpha: str) -> None:
        super().__init__(self.entry.format(alpha=alpha))


class InvalidUsecase(TwilioError, entry=codes.INVALID_USECASE):
    def __init__(self, usecase: str) -> None:
        super().__init__(self.entry.format(usecase=usecase))


class MessagingServicePoolEmpty(TwilioError, entry=codes.MESSAGING_SERVICE_POOL_EMPTY):
    pass


class FromNotInServicePool(TwilioError, entry=codes.FROM_NOT_OWNED):
    def __init__(self, sender: str) -> None:
        super().__init__(f"The From phone number {sender} is not in the Messaging Service's pool")
