"""The one place errors become HTTP responses: Twilio's {"code", "message", "more_info",
"status"} (shared/twilio/api-core.md §4.1). Nothing else renders an error."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.responses import json_response
from textrelay.domain import errors
from textrelay.services.errors import StorageFailure

log = logging.getLogger("textrelay.api")

# The 401 challenge; twilio's clients never need it, but curl and browsers do.
WWW_AUTHENTICATE = 'Basic realm="Twilio API"'


def render_error(error: errors.TwilioError, path: str) -> Response:
    message = error.message
    if isinstance(error, errors.NotFound) and message == errors.NotFound.default_message:
        message = errors.NotFound.for_path(path).message
    body = _error_body(error, message)
    headers = None
    if error.status == 401:
        body["detail"] = "Your AccountSid or AuthToken was incorrect."
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
    return json_response(body, error.status, headers)


def error_document(error: errors.TwilioError) -> bytes:
    """`error`'s JSON body as render_error gives it, for the answers written below ASGI, to
    requests that never reach the application (api/connections.py)."""
    return orjson.dumps(_error_body(error, error.message))


def _error_body(error: errors.TwilioError, message: str) -> dict[str, object]:
    return {
        "code": error.code,
        "message": message,
        "more_info": error.more_info,
        "status": error.status,
    }


def error_response(exc: Exception, method: str, path: str) -> Response:
    """The answer to what a request's handling raised: a Twilio error as itself; a storage
    failure as 503 (the request may succeed later, so not 500); anything else as 500, logged
    with its traceback."""
    if isinstance(exc, errors.TwilioError):
        return render_error(exc, path)
    if isinstance(exc, StorageFailure):
        log.error("storage failure on %s %s: %s", method, path, exc)
        return render_error(errors.ServiceUnavailable(), path)
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return render_error(errors.TwilioError(), path)


async def raised_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's handler for Twilio errors, storage failures and anything unexpected."""
    return error_response(exc, request.method, request.url.path)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (route, wrong method), in Twilio's shape."""
    assert isinstance(exc, HTTPException)
    error: errors.TwilioError
    if exc.status_code == 405:
        error = errors.MethodNotAllowed()
    elif exc.status_code == 404:
        error = errors.NotFound()
    else:
        error = errors.InvalidParameter(exc.detail)
        error.status = exc.status_code
    response = render_error(error, request.url.path)
    if exc.status_code == 405 and exc.headers:
        response.headers["Allow"] = exc.headers.get("Allow", "")
    return response
