"""What carriers call back: an upstream Twilio-compatible API's status callbacks and its
numbers' incoming messages (docs/carriers-upstream.md).

    POST /textrelay/v1/Carriers/{name}/StatusCallback
    POST /textrelay/v1/Carriers/{name}/IncomingMessage

No account credentials: the upstream cannot authenticate as one of this server's accounts,
so its X-Twilio-Signature, made with the upstream account's auth token from the carriers
file, is the authentication. The answers:

* 204, empty: the callback was signed by the upstream and its receipt is applied (or kept
  until the message it names is known, or ignored when its status settles nothing).
* 200, an empty TwiML `<Response/>`: the incoming message is stored, and the app's webhook
  promised (or it was refused: no account here owns its `To`). The app's reply goes out as a
  message of its own, routed like any other, not as TwiML to the upstream.
* 403, code 20403 (Forbidden): the signature is missing or wrong. Not 401/20003: that answer
  asks for account credentials (and carries a WWW-Authenticate challenge), which would not
  help; the caller is refused, not unauthenticated.
* 404, code 20404: no carrier of that name takes status callbacks (none is declared, or it
  is the simulator or an SMPP carrier).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, form
from textrelay.api.responses import no_content
from textrelay.domain import errors
from textrelay.services.carriers import BadCallbackSignature

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def status_callback(request: Request) -> Response:
    await _signed_by_carrier(request, "status callback", api(request).carriers.status_callback)
    return no_content()


async def incoming_message(request: Request) -> Response:
    await _signed_by_carrier(request, "incoming message", api(request).carriers.incoming_message)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _signed_by_carrier(
    request: Request,
    what: str,
    take: Callable[[str, str, Mapping[str, str], str | None], Awaitable[bool]],
) -> None:
    """Hand the request's form to the carrier named in the path; 403 when the carrier did
    not sign it, 404 when no carrier of that name takes such requests."""
    params = await form(request)
    try:
        taken = await take(
            request.path_params["name"],
            str(request.url),
            params,
            request.headers.get(SIGNATURE_HEADER),
        )
    except BadCallbackSignature as exc:
        # The details (the URL and account expected) are for the operator, not the caller.
        log.warning("%s refused: %s", what, exc)
        raise errors.Forbidden(
            f"The {SIGNATURE_HEADER} is missing or not valid for this carrier"
        ) from None
    if not taken:
        raise errors.NotFound()
