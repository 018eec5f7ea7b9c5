"""The error catalogue (api-core.md §4; messaging-and-webhooks.md §0, §8, §11)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

# Imported for InvalidPageToken, a catalogue member defined next to the paging rules.
import textrelay.domain.paging
from textrelay.domain import codes, errors

# Constructor arguments that are not a single string.
_SPECIAL_ARGUMENTS: dict[type[errors.TwilioError], tuple[object, ...]] = {
    errors.InvalidMediaUrl: (["ftp://example.com/cat.gif"],),
}
_ARGUMENT = "ARG-7f3a"


def _domain_errors() -> list[type[errors.TwilioError]]:
    """TwilioError and every subclass defined in the domain, found by walking the tree."""
    found: list[type[errors.TwilioError]] = []
    todo: list[type[errors.TwilioError]] = [errors.TwilioError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("textrelay.domain."):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


DOMAIN_ERRORS = _domain_errors()


def _required_parameters(cls: type[errors.TwilioError]) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.default is inspect.Parameter.empty
    ]


def _instance(cls: type[errors.TwilioError]) -> errors.TwilioError:
    if cls in _SPECIAL_ARGUMENTS:
        return cls(*_SPECIAL_ARGUMENTS[cls])  # type: ignore[arg-type]
    return cls(*[_ARGUMENT] * len(_required_parameters(cls)))


def test_the_catalogue_is_found() -> None:
    assert len(DOMAIN_ERRORS) >= 40
    assert textrelay.domain.paging.InvalidPageToken in DOMAIN_ERRORS


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__qualname__)
def test_every_error_has_twilios_contract(cls: type[errors.TwilioError]) -> None:
    error = _instance(cls)

    assert 10000 <= error.code <= 99999
    assert 400 <= error.status <= 599
    assert error.more_info == f"https://www.twilio.com/docs/errors/{error.code}"
    assert error.message
    assert str(error) == error.message


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__qualname__)
def test_constructor_arguments_appear_in_the_message(cls: type[errors.TwilioError]) -> None:
    message = _instance(cls).message

    if cls in _SPECIAL_ARGUMENTS:
        assert "ftp://example.com/cat.gif" in message
    elif _required_parameters(cls):
        assert _ARGUMENT in message
    else:
        assert message == cls.default_message


def test_an_explicit_message_replaces_the_default() -> None:
    assert errors.NotFound("gone").message == "gone"
    assert errors.NotFound().message == "The requested resource was not found"


@pytest.mark.parametrize(
    ("error", "code", "status", "message"),
    [
        (errors.Unauthenticated(), 20003, 401, "Authenticate"),
        (
            errors.NotFound.for_path("/2010-04-01/Accounts/AC1.json"),
            20404,
            404,
            "The requested resource /2010-04-01/Accounts/AC1.json was not found",
        ),
        (
            errors.MissingParameter("To"),
            20001,
            400,
            "Missing required parameter To in the post body",
        ),
        (errors.MethodNotAllowed(), 20004, 405, "Method not allowed"),
        (errors.PageSizeTooLarge(), 20007, 400, "Page size too large"),
        (errors.TooManyRequests(), 20429, 429, "Too Many Requests"),
        (errors.TwilioError(), 20500, 500, "Internal Server Error"),
        (errors.ServiceUnavailable(), 20503, 503, "Service Unavailable"),
        (errors.ToRequired(), 21604, 400, "A 'To' phone number is required."),
        (errors.FromRequired(), 21603, 400, "A 'From' phone number is required."),
        (errors.MessageBodyRequired(), 21602, 400, "Message body is required."),
        (
            errors.InvalidToNumber("+1asd"),
            21211,
            400,
            "The 'To' number +1asd is not a valid phone number.",
        ),
        (
            errors.InvalidFromNumber("+1asd"),
            21212,
            400,
            "The 'From' number +1asd is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
        ),
        (
            errors.FromNotOwned("+14155550100"),
            21606,
            400,
            "The From phone number +14155550100 is not a valid, SMS-capable inbound phone "
            "number or short code for your account.",
        ),
        (
            errors.BodyTooLong(),
            21617,
            400,
            "The concatenated message body exceeds the 1600 character limit.",
        ),
        (
            errors.RecipientUnsubscribed(),
            21610,
            400,
            "Attempt to send to unsubscribed recipient",
        ),
        (
            errors.SenderQueueFull(),
            21611,
            400,
            "This 'From' number has exceeded the maximum number of queued messages",
        ),
        (
            errors.InvalidMediaUrl(["ftp://a", "b"]),
            21620,
            400,
            "Media urls: ftp://a, b are invalid. Please use only valid http and https urls",
        ),
        (errors.PhoneNumberUnavailable(), 21422, 400, "PhoneNumber is unavailable."),
        (errors.PhoneNumberInvalid(), 21421, 400, "PhoneNumber is invalid."),
        (errors.NoNumbersInAreaCode(), 21452, 400, "No phone numbers found in area code."),
    ],
)
def test_documented_codes_statuses_and_messages(
    error: errors.TwilioError, code: int, status: int, message: str
) -> None:
    assert (error.code, error.status, error.message) == (code, status, message)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (errors.InvalidParameter, 20001, 400),
        (errors.DeleteBeforeComplete, 20009, 400),
        (errors.NoGeoPermission, 21408, 400),
        (errors.InvalidStatusCallback, 21609, 400),
        (errors.FromAccountMismatch, 21660, 400),
        (errors.ToUnreachable, 21612, 400),
        (errors.ToNotMobile, 21614, 400),
        (errors.TooManyMedia, 21623, 400),
        (errors.InvalidValidityPeriod, 21624, 400),
        (errors.ContentSidRequired, 21654, 400),
        (errors.InvalidContentSid, 21655, 400),
        (errors.MessagingServiceNotFound, 21701, 404),
        (errors.MessagingServiceInvalid, 21705, 400),
        (errors.MessageUpdateInvalid, 30400, 400),
        (errors.MessageNotCancelable, 30409, 400),
        (errors.SendAtMissing, 35111, 400),
        (errors.SchedulingRequiresService, 35118, 400),
        (errors.ScheduleTypeUnsupported, 35126, 400),
    ],
)
def test_catalogue_codes(cls: type[errors.TwilioError], code: int, status: int) -> None:
    assert (cls.code, cls.status) == (code, status)


# --- the one catalogue of codes (domain/codes.py) ------------------------------------------

SRC = Path(textrelay.domain.paging.__file__).resolve().parents[1]


def _catalogued() -> list[codes.TwilioCode]:
    """Every entry the catalogue module defines, in definition order, aliases included."""
    return [value for value in vars(codes).values() if isinstance(value, codes.TwilioCode)]


def _all_errors() -> list[type[errors.TwilioError]]:
    """TwilioError and every subclass anywhere in textrelay, once the whole app is imported."""
    import textrelay.app  # noqa: F401  (the composition root imports every module)

    found: list[type[errors.TwilioError]] = []
    todo: list[type[errors.TwilioError]] = [errors.TwilioError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("textrelay."):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_each_code_is_in_the_catalogue_once() -> None:
    entries = _catalogued()
    numbers = [entry.code for entry in entries]

    assert sorted(n for n in set(numbers) if numbers.count(n) > 1) == []
    assert dict(codes.CATALOGUE) == {entry.code: entry for entry in entries}
    assert all(10000 <= n <= 99999 for n in numbers)


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda cls: cls.__qualname__)
def test_every_error_takes_its_contract_from_the_catalogue(cls: type[errors.TwilioError]) -> None:
    entry = codes.CATALOGUE[cls.code]

    assert cls.entry is entry
    assert (cls.code, cls.status, cls.default_message) == (entry.code, entry.status, entry.message)


def test_delivery_errors_have_no_http_status() -> None:
    assert codes.DELIVERY_ERRORS[30008] is codes.UNKNOWN_ERROR
    assert all(entry.status is None for entry in codes.DELIVERY_ERRORS.values())


def test_no_code_is_written_as_a_number_outside_the_catalogue() -> None:
    catalogue_module = Path(codes.__file__).resolve()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.resolve() == catalogue_module:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and node.value in codes.CATALOGUE
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value}")
    assert found == []
