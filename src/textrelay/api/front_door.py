"""The API's front door: message creates are answered straight from ASGI; every other request
goes on to the Starlette application.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` is the request textrelay serves most:
every message every app sends. Starlette's layers around it (two middlewares, the router, the
Request, Headers and Response objects and the exception handlers' wrappers) cost about a
quarter of a create (docs/benchmarks.md). This path does for that one route what those layers
do — match the path, read the three headers it needs, read the body, render errors — and
calls the very functions the Starlette route (api/messages.messages_collection) calls for the
rest. The Starlette route stays the reference: tests/acceptance/test_front_door.py holds the
two to the same answers.
"""

from __future__ import annotations

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from textrelay.api.context import ApiContext, authorized_account
from textrelay.api.errors import error_response
from textrelay.api.forms import decode_form, receive_body
from textrelay.api.messages import message_request
from textrelay.api.responses import JSON_TYPE
from textrelay.api.serializers import message_json

_ACCOUNTS = "/2010-04-01/Accounts/"
_MESSAGES = "/Messages.json"
_JSON_TYPE = JSON_TYPE.encode("latin-1")


def messages_collection_account(path: str) -> str | None:
    """The `{AccountSid}` of a Messages collection path, as Starlette's `{account_sid}`
    segment matches it (anything but a slash); None for any other path."""
    if not path.startswith(_ACCOUNTS) or not path.endswith(_MESSAGES):
        return None
    account_sid = path[len(_ACCOUNTS) : -len(_MESSAGES)]
    return account_sid if account_sid and "/" not in account_sid else None


class ApiFrontDoor:
    __slots__ = ("_api", "behind")

    def __init__(self, behind: ASGIApp, api: ApiContext) -> None:
        self.behind = behind
        """The Starlette application, which serves every request but a message create."""
        self._api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            account_sid = messages_collection_account(scope["path"])
            if account_sid is not None:
                await self._create_message(scope, receive, send, account_sid)
                return
        await self.behind(scope, receive, send)

    async def _create_message(
        self, scope: Scope, receive: Receive, send: Send, account_sid: str
    ) -> None:
        try:
            body = await self._created_json(scope, receive, account_sid)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:
            await error_response(exc, "POST", scope["path"])(scope, receive, send)
            return
        # The headers, in their order, that Starlette's Response gives the same answer.
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON_TYPE)]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _created_json(self, scope: Scope, receive: Receive, account_sid: str) -> bytes:
        authorization = content_type = content_length = None
        for name, value in scope["headers"]:  # names are lowercase (ASGI); the first counts
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"content-length" and content_length is None:
                content_length = value.decode("latin-1")
        api = self._api
        account = await authorized_account(api.accounts, authorization or "", account_sid)
        raw = await receive_body(receive, content_length, api.max_body_bytes)
        params = await decode_form(content_type, raw, scope, api.max_params)
        message = await api.messages.create(account, message_request(params))
        return orjson.dumps(message_json(message))
