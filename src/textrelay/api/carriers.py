"""What carriers call back: an upstream Twilio-compatible API's status callbacks
(docs/carriers-upstream.md).

    POST /textrelay/v1/Carriers/{name}/StatusCallback

No account credentials: the upstream cannot authenticate as one of this server's accounts,
so its X-Twilio-Signature, made with the upstream account's auth token from the carriers
file, is the authentication. The answers:

* 204, empty: the callback was signed by the upstream and its receipt is applied (or kept
  until the message it names is known, or ignored when its status settles nothing).
* 403, code 20403 (Forbidden): the signature is missing or wrong. Not 401/20003: that answer
  asks for account credentials (and carries a WWW-Authenticate challenge), which would not
  help; the caller is refused, not unauthenticated.
* 404, code 20404: no carrier of that name takes status callbacks (none is declared, or it
  is the simulator or an SMPP carrier).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, form
from textrelay.api.responses import no_content
from textrelay.domain import errors
from textrelay.services.carriers import BadCallbackSignature

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


async def status_callback(request: Request) -> Response:
    params = await form(request)
    try:
        taken = await api(request).carriers.status_callback(
            request.path_params["name"],
            str(request.url),
            params,
            request.headers.get(SIGNATURE_HEADER),
        )
    except BadCallbackSignature as exc:
        # The details (the URL and account expected) are for the operator, not the caller.
        log.warning("status callback refused: %s", exc)
        raise errors.Forbidden(
            f"The {SIGNATURE_HEADER} is missing or not valid for this carrier"
        ) from None
    if not taken:
        raise errors.NotFound()
    return no_content()
