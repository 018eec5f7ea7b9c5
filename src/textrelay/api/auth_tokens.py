"""accounts.twilio.com/v1/AuthTokens: the secondary auth token and its promotion.

Like messaging v1, the paths name no account: the Basic username's account is the one acted
on, and only with its auth token (primary or secondary), never an API key. Dates are
ISO 8601. `SuppressEmailNotification`, which newer clients send, is accepted and has nothing
to suppress here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, caller
from textrelay.api.responses import json_response, no_content
from textrelay.domain.accounts import Account
from textrelay.domain.dates import iso8601
from textrelay.services.auth_tokens import AuthTokenService, PromotedToken

# Twilio's own URLs: the body names the resource, nothing follows it (unlike a v1 page).
SECONDARY_URL = "https://accounts.twilio.com/v1/AuthTokens/Secondary"
PROMOTE_URL = "https://accounts.twilio.com/v1/AuthTokens/Promote"


async def _owner(request: Request) -> Account:
    return AuthTokenService.token_owner(await caller(request))


async def secondary(request: Request) -> Response:
    account = await _owner(request)
    tokens = api(request).auth_tokens
    if request.method == "DELETE":
        await tokens.delete_secondary(account.sid)
        return no_content()
    return json_response(secondary_json(await tokens.create_secondary(account.sid)), 201)


async def promote(request: Request) -> Response:
    account = await _owner(request)
    return json_response(
        promotion_json(await api(request).auth_tokens.promote_secondary(account.sid))
    )


def secondary_json(account: Account) -> dict[str, Any]:
    secondary = account.secondary_auth_token
    assert secondary is not None, "serialized right after its creation"
    return {
        "account_sid": account.sid,
        "date_created": iso8601(secondary.date_created),
        "date_updated": iso8601(secondary.date_created),
        "secondary_auth_token": secondary.token,
        "url": SECONDARY_URL,
    }


def promotion_json(promotion: PromotedToken) -> dict[str, Any]:
    account = promotion.account
    return {
        "account_sid": account.sid,
        "auth_token": account.auth_token,
        "date_created": iso8601(promotion.token_created),
        "date_updated": iso8601(account.date_updated),
        "url": PROMOTE_URL,
    }
