"""IncomingPhoneNumbers: the numbers an account owns (shared/twilio/api-core.md §2.5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class NumberType(StrEnum):
    LOCAL = "local"
    MOBILE = "mobile"
    TOLL_FREE = "toll-free"


@dataclass(frozen=True, slots=True)
class NumberConfig:
    """Everything an IncomingPhoneNumber's owner may set with create or update."""

    friendly_name: str | None = None
    api_version: str = "2010-04-01"
    sms_url: str | None = None
    sms_method: str = "POST"
    sms_fallback_url: str | None = None
    sms_fallback_method: str = "POST"
    sms_application_sid: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    voice_url: str | None = None
    voice_method: str = "POST"
    voice_fallback_url: str | None = None
    voice_fallback_method: str = "POST"
    voice_caller_id_lookup: bool = False
    voice_application_sid: str | None = None
    voice_receive_mode: str = "voice"
    trunk_sid: str | None = None
    emergency_status: str = "Inactive"
    emergency_address_sid: str | None = None
    identity_sid: str | None = None
    address_sid: str | None = None
    bundle_sid: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    voice: bool = True
    sms: bool = True
    mms: bool = True
    fax: bool = False


@dataclass(frozen=True, slots=True)
class IncomingPhoneNumber:
    sid: str
    account_sid: str
    phone_number: str
    number_type: NumberType
    config: NumberConfig
    date_created: datetime
    date_updated: datetime
    capabilities: Capabilities = field(default_factory=Capabilities)
    origin: str = "twilio"
    beta: bool = False
