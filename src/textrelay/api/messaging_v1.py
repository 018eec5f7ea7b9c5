"""messaging.twilio.com/v1: Services and their sender pools (messaging-and-webhooks.md §1).

The v1 API names no account in its paths: the caller's credentials choose it. Dates are
ISO 8601 (`2015-07-30T20:12:31Z`); lists use the v1 envelope, whose URLs are absolute and
carry this server's own scheme, host and port so the SDK follows them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, caller, form
from textrelay.api.forms import Params, query_params
from textrelay.api.paging import ListedT, page_links
from textrelay.api.responses import json_response, no_content
from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.dates import iso8601
from textrelay.domain.messaging_services import (
    SCAN_MESSAGE_CONTENT,
    USECASES,
    WEBHOOK_METHODS,
    MessagingServiceResource,
    PoolSender,
    SenderKind,
    ServiceSettings,
)
from textrelay.domain.paging import PageQuery, PageResult
from textrelay.domain.paging import parse_page_query as parse_page
from textrelay.services.accounts import AccountService

V1_DEFAULT_PAGE_SIZE = 50

# Form name → (setting, parser). Booleans arrive as "true"/"false" (twilio-python).
_URL_SETTINGS = {
    "InboundRequestUrl": "inbound_request_url",
    "FallbackUrl": "fallback_url",
    "StatusCallback": "status_callback",
}
_BOOL_SETTINGS = {
    "StickySender": "sticky_sender",
    "MmsConverter": "mms_converter",
    "SmartEncoding": "smart_encoding",
    "FallbackToLongCode": "fallback_to_long_code",
    "AreaCodeGeomatch": "area_code_geomatch",
    "SynchronousValidation": "synchronous_validation",
    "UseInboundWebhookOnNumber": "use_inbound_webhook_on_number",
}
_METHOD_SETTINGS = {"InboundMethod": "inbound_method", "FallbackMethod": "fallback_method"}
_MAX_VALIDITY_PERIOD_S = 36000


async def _account(request: Request) -> Account:
    principal = await caller(request)
    return AccountService.require_active(principal.account)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


# --- Services ------------------------------------------------------------------------------


async def services_collection(request: Request) -> Response:
    account = await _account(request)
    services = api(request).messaging_services
    if request.method == "POST":
        params = await form(request)
        created = await services.create(
            account, params.text("FriendlyName"), ServiceSettings(**settings_changes(params))
        )
        return json_response(service_json(created, _base_url(request)), 201)
    query = query_params(request)
    page = _page_query(query)
    result = await services.list(account, page)
    return json_response(v1_envelope(request, "services", page, result, service_json))


async def service_instance(request: Request) -> Response:
    account = await _account(request)
    services = api(request).messaging_services
    sid = request.path_params["sid"]
    if request.method == "DELETE":
        await services.delete(account, sid)
        return no_content()
    if request.method == "POST":
        params = await form(request)
        service = await services.update(
            account, sid, params.text("FriendlyName"), settings_changes(params)
        )
    else:
        service = await services.get(account, sid)
    return json_response(service_json(service, _base_url(request)))


def settings_changes(params: Params) -> dict[str, Any]:
    """The ServiceSettings fields a create or update form sets."""
    changes: dict[str, Any] = {}
    for name, field in _URL_SETTINGS.items():
        value = params.web_url(name)
        if value is not None:
            changes[field] = value or None
    for name, field in _BOOL_SETTINGS.items():
        flag = params.boolean(name)
        if flag is not None:
            changes[field] = flag
    for name, field in _METHOD_SETTINGS.items():
        method = params.text(name)
        if method:
            if method.upper() not in WEBHOOK_METHODS:
                raise errors.InvalidParameter(f"Invalid value for {name}: '{method}'")
            changes[field] = method.upper()
    scan = params.text("ScanMessageContent")
    if scan:
        if scan not in SCAN_MESSAGE_CONTENT:
            raise errors.InvalidParameter(f"Invalid value for ScanMessageContent: '{scan}'")
        changes["scan_message_content"] = scan
    validity = params.integer("ValidityPeriod")
    if validity is not None:
        if not 1 <= validity <= _MAX_VALIDITY_PERIOD_S:
            raise errors.InvalidValidityPeriod()
        changes["validity_period"] = validity
    usecase = params.text("Usecase")
    if usecase:
        if usecase not in USECASES:
            raise errors.InvalidUsecase(usecase)
        changes["usecase"] = usecase
    return changes


def service_json(service: MessagingServiceResource, base_url: str) -> dict[str, Any]:
    s = service.settings
    url = f"{base_url}/v1/Services/{service.sid}"
    return {
        "account_sid": service.account_sid,
        "area_code_geomatch": s.area_code_geomatch,
        "date_created": iso8601(service.date_created),
        "date_updated": iso8601(service.date_updated),
        "fallback_method": s.fallback_method,
        "fallback_to_long_code": s.fallback_to_long_code,
        "fallback_url": s.fallback_url,
        "friendly_name": service.friendly_name,
        "inbound_method": s.inbound_method,
        "inbound_request_url": s.inbound_request_url,
        "links": {
            "phone_numbers": f"{url}/PhoneNumbers",
            "short_codes": f"{url}/ShortCodes",
            "alpha_senders": f"{url}/AlphaSenders",
            "messages": f"{url}/Messages",
            "us_app_to_person": f"{url}/Compliance/Usa2p",
            "us_app_to_person_usecases": f"{url}/Compliance/Usa2p/Usecases",
            "channel_senders": f"{url}/ChannelSenders",
            "destination_alpha_senders": f"{url}/DestinationAlphaSenders",
        },
        "mms_converter": s.mms_converter,
        "scan_message_content": s.scan_message_content,
        "smart_encoding": s.smart_encoding,
        "status_callback": s.status_callback,
        "sticky_sender": s.sticky_sender,
        "synchronous_validation": s.synchronous_validation,
        "sid": service.sid,
        "url": url,
        "usecase": s.usecase,
        "us_app_to_person_registered": False,
        "use_inbound_webhook_on_number": s.use_inbound_webhook_on_number,
        "validity_period": s.validity_period,
    }


# --- sender pools ----------------------------------------------------------------------------

_POOLS = {
    "PhoneNumbers": (SenderKind.PHONE_NUMBER, "phone_numbers"),
    "ShortCodes": (SenderKind.SHORT_CODE, "short_codes"),
    "AlphaSenders": (SenderKind.ALPHA_SENDER, "alpha_senders"),
}


def pool_collection(pool: str) -> Callable[[Request], Any]:
    kind, key = _POOLS[pool]

    async def endpoint(request: Request) -> Response:
        account = await _account(request)
        services = api(request).messaging_services
        service_sid = request.path_params["service_sid"]
        base = _base_url(request)
        if request.method == "POST":
            params = await form(request)
            if kind is SenderKind.PHONE_NUMBER:
                sender = await services.add_phone_number(
                    account, service_sid, params.text("PhoneNumberSid")
                )
            elif kind is SenderKind.SHORT_CODE:
                sender = await services.add_short_code(
                    account, service_sid, params.text("ShortCodeSid")
                )
            else:
                sender = await services.add_alpha_sender(
                    account, service_sid, params.text("AlphaSender")
                )
            return json_response(pool_sender_json(sender, base), 201)
        page = _page_query(query_params(request))
        result = await services.list_pool(account, service_sid, kind, page)
        return json_response(v1_envelope(request, key, page, result, pool_sender_json))

    return endpoint


def pool_instance(pool: str) -> Callable[[Request], Any]:
    kind, _key = _POOLS[pool]

    async def endpoint(request: Request) -> Response:
        account = await _account(request)
        services = api(request).messaging_services
        service_sid, sid = request.path_params["service_sid"], request.path_params["sid"]
        if request.method == "DELETE":
            await services.remove_pool_sender(account, service_sid, kind, sid)
            return no_content()
        sender = await services.get_pool_sender(account, service_sid, kind, sid)
        return json_response(pool_sender_json(sender, _base_url(request)))

    return endpoint


_POOL_PATHS = {
    SenderKind.PHONE_NUMBER: "PhoneNumbers",
    SenderKind.SHORT_CODE: "ShortCodes",
    SenderKind.ALPHA_SENDER: "AlphaSenders",
}


def pool_sender_json(sender: PoolSender, base_url: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "account_sid": sender.account_sid,
        "capabilities": list(sender.capabilities),
        "date_created": iso8601(sender.date_created),
        "date_updated": iso8601(sender.date_updated),
        "service_sid": sender.service_sid,
        "sid": sender.sid,
        "url": f"{base_url}/v1/Services/{sender.service_sid}/"
        f"{_POOL_PATHS[sender.kind]}/{sender.sid}",
    }
    if sender.kind is SenderKind.PHONE_NUMBER:
        data["phone_number"] = sender.address
        data["country_code"] = sender.country_code
    elif sender.kind is SenderKind.SHORT_CODE:
        data["short_code"] = sender.address
        data["country_code"] = sender.country_code
    else:
        data["alpha_sender"] = sender.address
    return data


# --- the v1 envelope -----------------------------------------------------------------------


def _page_query(query: Params) -> PageQuery:
    return parse_page(query)


def v1_envelope(
    request: Request,
    key: str,
    query: PageQuery,
    result: PageResult[ListedT],
    render: Callable[[ListedT, str], dict[str, Any]],
) -> dict[str, Any]:
    """`{"meta": {...}, key: [...]}` with absolute URLs (messaging-and-webhooks.md §1.4)."""
    base = _base_url(request)
    links = page_links(
        path=f"{base}{request.url.path}",
        filters=request.query_params.multi_items(),
        query=query,
        result=result,
    )
    return {
        "meta": {
            "page": query.page,
            "page_size": query.page_size,
            "first_page_url": links.first,
            "previous_page_url": links.previous,
            "url": links.current,
            "next_page_url": links.next,
            "key": key,
        },
        key: [render(item, base) for item in result.items],
    }
