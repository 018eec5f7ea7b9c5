"""IncomingPhoneNumbers (api-core.md §2.5), with the Local/Mobile/TollFree collections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, caller, form, path_account
from textrelay.api.forms import Params, query_params
from textrelay.api.paging import envelope
from textrelay.api.responses import json_response, no_content
from textrelay.api.serializers import account_path, number_json
from textrelay.domain import errors
from textrelay.domain.paging import parse_page_query
from textrelay.domain.phone_numbers import IncomingPhoneNumber, NumberConfig, NumberType
from textrelay.services.phone_numbers import NumberFilter

_TYPED_COLLECTIONS = {
    "Local": NumberType.LOCAL,
    "Mobile": NumberType.MOBILE,
    "TollFree": NumberType.TOLL_FREE,
}

_URLS = {
    "SmsUrl": "sms_url",
    "SmsFallbackUrl": "sms_fallback_url",
    "StatusCallback": "status_callback",
    "VoiceUrl": "voice_url",
    "VoiceFallbackUrl": "voice_fallback_url",
}
_METHODS = {
    "SmsMethod": "sms_method",
    "SmsFallbackMethod": "sms_fallback_method",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceMethod": "voice_method",
    "VoiceFallbackMethod": "voice_fallback_method",
}
_TEXTS = {
    "FriendlyName": "friendly_name",
    "SmsApplicationSid": "sms_application_sid",
    "VoiceApplicationSid": "voice_application_sid",
    "TrunkSid": "trunk_sid",
    "EmergencyAddressSid": "emergency_address_sid",
    "IdentitySid": "identity_sid",
    "AddressSid": "address_sid",
    "BundleSid": "bundle_sid",
}
_CHOICES = {
    "ApiVersion": ("api_version", ("2010-04-01", "2008-08-01")),
    "VoiceReceiveMode": ("voice_receive_mode", ("voice", "fax")),
    "EmergencyStatus": ("emergency_status", ("Active", "Inactive")),
}


def number_config(params: Params, base: NumberConfig) -> NumberConfig:
    """`base` with every configuration parameter present in the request applied."""
    changes: dict[str, Any] = {}
    for name, attr in _URLS.items():
        url = params.web_url(name)
        if url is not None:
            changes[attr] = url or None
    for name, attr in _METHODS.items():
        method = params.text(name)
        if method is None:
            continue
        if method.upper() not in ("GET", "POST"):
            raise errors.InvalidParameter(f"{name} must be GET or POST")
        changes[attr] = method.upper()
    for name, attr in _TEXTS.items():
        text = params.text(name)
        if text is not None:
            if name == "FriendlyName" and len(text) > 64:
                raise errors.InvalidParameter("FriendlyName must be at most 64 characters")
            changes[attr] = text or None
    for name, (attr, allowed) in _CHOICES.items():
        choice = params.choice(name, allowed)
        if choice is not None:
            changes[attr] = choice
    lookup = params.boolean("VoiceCallerIdLookup")
    if lookup is not None:
        changes["voice_caller_id_lookup"] = lookup
    return replace(base, **changes)


async def numbers_collection(request: Request) -> Response:
    return await _collection(request, None)


def typed_collection(type_name: str) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of `IncomingPhoneNumbers/{Local,Mobile,TollFree}.json`."""

    async def endpoint(request: Request) -> Response:
        return await _collection(request, type_name)

    return endpoint


TYPED_COLLECTIONS = tuple(_TYPED_COLLECTIONS)


async def _collection(request: Request, type_name: str | None) -> Response:
    account = await path_account(request)
    numbers = api(request).numbers
    number_type = _TYPED_COLLECTIONS[type_name] if type_name else None
    if request.method == "POST":
        params = await form(request)
        number = await numbers.provision(
            account,
            phone_number=params.text("PhoneNumber"),
            area_code=None if number_type else params.text("AreaCode"),
            number_type=number_type,
            config=number_config(params, NumberConfig()),
        )
        return json_response(_typed_json(number, type_name), 201)
    query = query_params(request)
    page = parse_page_query(query)
    origin = query.choice("Origin", ("twilio", "hosted"))
    filters = NumberFilter(
        friendly_name=query.text("FriendlyName") or None,
        phone_number=query.text("PhoneNumber") or None,
        number_type=number_type,
    )
    result = await numbers.list(account, page, filters)
    if origin == "hosted":  # textrelay provisions only "twilio" numbers
        result = replace(result, items=[], has_next=False)
    suffix = f"/{type_name}" if type_name else ""
    return json_response(
        envelope(
            path=f"{account_path(account.sid)}/IncomingPhoneNumbers{suffix}.json",
            key="incoming_phone_numbers",
            query=page,
            filters=query.pairs(),
            result=result,
            render=lambda n: _typed_json(n, type_name),
        )
    )


def _typed_json(number: IncomingPhoneNumber, type_name: str | None) -> dict[str, Any]:
    """The IncomingPhoneNumber JSON; the Local/Mobile/TollFree collections' schemas have no
    `type` (their path says it), so there it is left out, as Twilio's specs show."""
    data = number_json(number)
    if type_name:
        del data["type"]
    return data


async def number_instance(request: Request) -> Response:
    account = await path_account(request)
    numbers = api(request).numbers
    sid = request.path_params["sid"]
    if request.method == "DELETE":
        await numbers.release(account, sid)
        return no_content()
    number = await numbers.get(account, sid)
    if request.method == "POST":
        params = await form(request)
        move_to = None
        target_sid = params.text("AccountSid")
        if target_sid and target_sid != account.sid:
            accounts = api(request).accounts
            move_to = accounts.require_active(
                await accounts.resolve(await caller(request), target_sid)
            )
        number = await numbers.update(
            account, sid, number_config(params, number.config), move_to=move_to
        )
    return json_response(number_json(number))
