"""Messages (api-core.md §2.2): PascalCase form names in, Message JSON out."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from textrelay.api.context import api, form, path_account
from textrelay.api.forms import Params, query_params
from textrelay.api.paging import envelope
from textrelay.api.responses import json_response, no_content
from textrelay.api.serializers import account_path, message_json
from textrelay.domain import errors
from textrelay.domain.dates import TimeSpan, parse_filter_date, parse_timestamp
from textrelay.domain.messages import SendOptions
from textrelay.domain.paging import parse_page_query
from textrelay.services.messages import MessageListFilter, MessageRequest


async def messages_collection(request: Request) -> Response:
    account = await path_account(request)
    messaging = api(request).messages
    if request.method == "POST":
        params = await form(request)
        message = await messaging.create(account, message_request(params))
        return json_response(message_json(message), 201)
    query = query_params(request)
    page = parse_page_query(query)
    filters = MessageListFilter(
        to=query.text("To") or None,
        from_=query.text("From") or None,
        date_sent=_date_filter(query, "DateSent"),
        date_sent_before=_date_filter(query, "DateSent<"),
        date_sent_after=_date_filter(query, "DateSent>"),
    )
    result = await messaging.list(account, page, filters)
    return json_response(
        envelope(
            path=f"{account_path(account.sid)}/Messages.json",
            key="messages",
            query=page,
            filters=query.pairs(),
            result=result,
            render=message_json,
        )
    )


async def message_instance(request: Request) -> Response:
    account = await path_account(request)
    messaging = api(request).messages
    sid = request.path_params["sid"]
    if request.method == "DELETE":
        await messaging.delete(account, sid)
        return no_content()
    if request.method == "POST":
        params = await form(request)
        message = await messaging.update(
            account, sid, body=params.text("Body"), status=params.text("Status")
        )
    else:
        message = await messaging.get(account, sid)
    return json_response(message_json(message))


_ADDRESSING_ONLY = frozenset({"To", "From", "Body", "MessagingServiceSid"})
_NO_OPTIONS = SendOptions()


def message_request(params: Params) -> MessageRequest:
    """The create parameters of api-core.md §2.2, by their PascalCase names."""
    if _ADDRESSING_ONLY.issuperset(params):
        # Most creates carry nothing but addresses and a body: skip mapping 21 options.
        return MessageRequest(
            to=params.text("To"),
            from_=params.text("From") or None,
            messaging_service_sid=params.text("MessagingServiceSid") or None,
            body=params.text("Body"),
            options=_NO_OPTIONS,
        )
    send_at_text = params.text("SendAt")
    send_at = None
    if send_at_text:
        send_at = parse_timestamp(send_at_text)
        if send_at is None:
            raise errors.InvalidParameter(f"SendAt '{send_at_text}' is not a valid date-time")
    return MessageRequest(
        to=params.text("To"),
        from_=params.text("From") or None,
        messaging_service_sid=params.text("MessagingServiceSid") or None,
        body=params.text("Body"),
        tags=_tags(params.text("Tags")),
        options=SendOptions(
            media_urls=tuple(url for url in params.all("MediaUrl") if url),
            content_sid=params.text("ContentSid") or None,
            content_variables=params.text("ContentVariables") or None,
            status_callback=params.text("StatusCallback") or None,
            application_sid=params.text("ApplicationSid") or None,
            validity_period_s=params.integer("ValidityPeriod"),
            provide_feedback=bool(params.boolean("ProvideFeedback")),
            smart_encoded=bool(params.boolean("SmartEncoded")),
            schedule_type=params.text("ScheduleType") or None,
            send_at=send_at,
            send_as_mms=bool(params.boolean("SendAsMms")),
            shorten_urls=bool(params.boolean("ShortenUrls")),
            force_delivery=bool(params.boolean("ForceDelivery")),
            content_retention=params.choice("ContentRetention", ("retain", "discard")),
            address_retention=params.choice("AddressRetention", ("retain", "obfuscate")),
            persistent_action=tuple(params.all("PersistentAction")),
            traffic_type=params.choice("TrafficType", ("free",)),
            risk_check=params.choice("RiskCheck", ("enable", "disable")),
            attempt=params.integer("Attempt"),
            max_price=params.text("MaxPrice") or None,
            fallback_from=params.text("FallbackFrom") or None,
        ),
    )


def _tags(raw: str | None) -> dict[str, str]:
    """`Tags`: a JSON object of string values, echoed back as the `tags` field."""
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise errors.InvalidParameter("Tags must be a JSON object whose values are strings")
    return value


def _date_filter(query: Params, name: str) -> TimeSpan | None:
    raw = query.text(name)
    if not raw:
        return None
    span = parse_filter_date(raw)
    if span is None:
        raise errors.InvalidParameter(
            f"Invalid {name} '{raw}': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
        )
    return span
