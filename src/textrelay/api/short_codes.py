"""SMS/ShortCodes (api-core.md §2.7): list, fetch and update. Twilio provisions short codes out
of band; textrelay's control API does it here (docs/control-api.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, form, path_account
from textrelay.api.forms import query_params
from textrelay.api.paging import envelope
from textrelay.api.responses import json_response
from textrelay.api.serializers import account_path, date_2822
from textrelay.domain import errors
from textrelay.domain.messaging_services import WEBHOOK_METHODS, ShortCode
from textrelay.domain.paging import parse_page_query
from textrelay.services.phone_numbers import like_pattern

_API_VERSIONS = ("2010-04-01", "2008-08-01")


async def collection(request: Request) -> Response:
    account = await path_account(request)
    query = query_params(request)
    page = parse_page_query(query)
    pattern = query.text("ShortCode")
    result = await api(request).messaging_services.list_short_codes(
        account,
        page,
        friendly_name=query.text("FriendlyName") or None,
        short_code_like=like_pattern(pattern) if pattern else None,
    )
    return json_response(
        envelope(
            path=f"{account_path(account.sid)}/SMS/ShortCodes.json",
            key="short_codes",
            query=page,
            filters=query.pairs(),
            result=result,
            render=short_code_json,
        )
    )


async def instance(request: Request) -> Response:
    account = await path_account(request)
    services = api(request).messaging_services
    sid = request.path_params["sid"]
    if request.method == "POST":
        params = await form(request)
        changes: dict[str, Any] = {}
        if (name := params.text("FriendlyName")) is not None:
            changes["friendly_name"] = name
        if (version := params.choice("ApiVersion", _API_VERSIONS)) is not None:
            changes["api_version"] = version
        for form_name, field in (("SmsUrl", "sms_url"), ("SmsFallbackUrl", "sms_fallback_url")):
            if (url := params.web_url(form_name)) is not None:
                changes[field] = url or None
        for form_name, field in (
            ("SmsMethod", "sms_method"),
            ("SmsFallbackMethod", "sms_fallback_method"),
        ):
            if method := params.text(form_name):
                if method.upper() not in WEBHOOK_METHODS:
                    raise errors.InvalidParameter(f"Invalid value for {form_name}: '{method}'")
                changes[field] = method.upper()
        code = await services.update_short_code(account, sid, changes)
    else:
        code = await services.get_short_code(account, sid)
    return json_response(short_code_json(code))


def short_code_json(code: ShortCode) -> dict[str, Any]:
    return {
        "account_sid": code.account_sid,
        "api_version": code.api_version,
        "date_created": date_2822(code.date_created),
        "date_updated": date_2822(code.date_updated),
        "friendly_name": code.friendly_name,
        "short_code": code.short_code,
        "sid": code.sid,
        "sms_fallback_method": code.sms_fallback_method,
        "sms_fallback_url": code.sms_fallback_url,
        "sms_method": code.sms_method,
        "sms_url": code.sms_url,
        "uri": f"{account_path(code.account_sid)}/SMS/ShortCodes/{code.sid}.json",
    }
