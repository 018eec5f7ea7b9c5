"""Resources to Twilio's JSON: exact field names, types and order (api-core.md §2).

Counts are strings, `error_code` an integer, dates RFC 2822 ending `+0000`, and `uri` and
`subresource_uris` relative to api.twilio.com. tests/acceptance/test_openapi_schemas.py holds
each serializer to Twilio's OpenAPI schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textrelay.domain.accounts import Account, ApiKey
from textrelay.domain.dates import rfc2822
from textrelay.domain.messages import API_VERSION, Message
from textrelay.domain.phone_numbers import IncomingPhoneNumber

API_ROOT = "/2010-04-01"

# Subresources Twilio lists on an Account (api-core.md §2.1); textrelay serves the messaging
# ones and lists the rest for fidelity (docs/compatibility.md says which are served).
_ACCOUNT_SUBRESOURCES = {
    "addresses": "Addresses",
    "conferences": "Conferences",
    "signing_keys": "SigningKeys",
    "transcriptions": "Transcriptions",
    "connect_apps": "ConnectApps",
    "sip": "SIP",
    "authorized_connect_apps": "AuthorizedConnectApps",
    "usage": "Usage",
    "keys": "Keys",
    "applications": "Applications",
    "recordings": "Recordings",
    "short_codes": "SMS/ShortCodes",
    "calls": "Calls",
    "notifications": "Notifications",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "queues": "Queues",
    "messages": "Messages",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "available_phone_numbers": "AvailablePhoneNumbers",
    "balance": "Balance",
}


def date_2822(moment: datetime | None) -> str | None:
    """A 2010-04-01 date field: RFC 2822 in GMT, or null."""
    return None if moment is None else rfc2822(moment)


def account_path(account_sid: str) -> str:
    return f"{API_ROOT}/Accounts/{account_sid}"


def account_json(account: Account) -> dict[str, Any]:
    base = account_path(account.sid)
    return {
        "auth_token": account.auth_token,
        "date_created": date_2822(account.date_created),
        "date_updated": date_2822(account.date_updated),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.owner_account_sid,
        "sid": account.sid,
        "status": account.status.value,
        "subresource_uris": {
            name: f"{base}/{path}.json" for name, path in _ACCOUNT_SUBRESOURCES.items()
        },
        "type": account.type.value,
        "uri": f"{base}.json",
    }


def key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": date_2822(key.date_created),
        "date_updated": date_2822(key.date_updated),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def number_json(number: IncomingPhoneNumber) -> dict[str, Any]:
    c = number.config
    uri = f"{account_path(number.account_sid)}/IncomingPhoneNumbers/{number.sid}"
    caps = number.capabilities
    return {
        "account_sid": number.account_sid,
        "address_sid": c.address_sid,
        "address_requirements": "none",
        "api_version": c.api_version,
        "beta": number.beta,
        "capabilities": {"voice": caps.voice, "sms": caps.sms, "mms": caps.mms, "fax": caps.fax},
        "date_created": date_2822(number.date_created),
        "date_updated": date_2822(number.date_updated),
        "friendly_name": c.friendly_name,
        "identity_sid": c.identity_sid,
        "phone_number": number.phone_number,
        "origin": number.origin,
        "sid": number.sid,
        "sms_application_sid": c.sms_application_sid,
        "sms_fallback_method": c.sms_fallback_method,
        "sms_fallback_url": c.sms_fallback_url,
        "sms_method": c.sms_method,
        "sms_url": c.sms_url,
        "status_callback": c.status_callback,
        "status_callback_method": c.status_callback_method,
        "trunk_sid": c.trunk_sid,
        "uri": f"{uri}.json",
        "voice_receive_mode": c.voice_receive_mode,
        "voice_application_sid": c.voice_application_sid,
        "voice_caller_id_lookup": c.voice_caller_id_lookup,
        "voice_fallback_method": c.voice_fallback_method,
        "voice_fallback_url": c.voice_fallback_url,
        "voice_method": c.voice_method,
        "voice_url": c.voice_url,
        "emergency_status": c.emergency_status,
        "emergency_address_sid": c.emergency_address_sid,
        "emergency_address_status": "unregistered",
        "bundle_sid": c.bundle_sid,
        "status": "in-use",
        "type": number.number_type.value,
        "subresource_uris": {"assigned_add_ons": f"{uri}/AssignedAddOns.json"},
    }


def message_json(message: Message) -> dict[str, Any]:
    base = f"{account_path(message.account_sid)}/Messages/{message.sid}"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": date_2822(message.date_created),
        "date_sent": date_2822(message.date_sent),
        "date_updated": date_2822(message.date_updated),
        "direction": message.direction.value,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": str(message.num_media),
        "num_segments": str(message.num_segments),
        "price": message.price,
        "price_unit": message.price_unit,
        "sid": message.sid,
        "status": message.status.value,
        "subresource_uris": {"media": f"{base}/Media.json"},
        "tags": message.tags,
        "to": message.to,
        "uri": f"{base}.json",
    }
