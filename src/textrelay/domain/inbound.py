"""The parameters of an incoming-message webhook, exactly as Twilio sends them.

Facts: shared/twilio/messaging-and-webhooks.md §5.1: the parameter set, in the order of a
real capture, with the geographic fields libphonenumber can fill (FromCity, FromState,
FromCountry; the ZIP fields stay empty, as they often are on Twilio), and the WhatsApp ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder

from textrelay.domain.addresses import Channel, split_channel
from textrelay.domain.messages import API_VERSION, Message


@lru_cache(maxsize=4096)
def _geography(address: str) -> tuple[str, str, str]:
    """(city, state, country) of a phone number; empty strings where unknown."""
    channel, number_text = split_channel(address)
    if not channel.carries_phone_numbers or not number_text.startswith("+"):
        return "", "", ""
    try:
        number = phonenumbers.parse(number_text)
    except phonenumbers.NumberParseException:
        return "", "", ""
    country = phonenumbers.region_code_for_number(number) or ""
    if country in ("ZZ", "001"):
        country = ""
    place = geocoder.description_for_number(number, "en")
    city, state = "", ""
    if country in ("US", "CA") and ", " in place:
        city, _, state = place.rpartition(", ")
    return city.upper(), state, country


def inbound_params(
    message: Message, media: Sequence[tuple[str, str]] = ()
) -> tuple[tuple[str, str], ...]:
    """The webhook parameters announcing inbound `message`; `media` is (URL, content type)."""
    to_city, to_state, to_country = _geography(message.to)
    from_city, from_state, from_country = _geography(message.from_ or "")
    params: list[tuple[str, str]] = [
        ("ToCountry", to_country),
        ("ToState", to_state),
        ("SmsMessageSid", message.sid),
        ("NumMedia", str(len(media))),
        ("ToCity", to_city),
        ("FromZip", ""),
        ("SmsSid", message.sid),
        ("FromState", from_state),
        ("SmsStatus", message.status.value),
        ("FromCity", from_city),
        ("Body", message.body),
        ("FromCountry", from_country),
        ("To", message.to),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    params += [
        ("ToZip", ""),
        ("NumSegments", str(message.num_segments)),
        ("ReferralNumMedia", "0"),
        ("MessageSid", message.sid),
        ("AccountSid", message.account_sid),
        ("From", message.from_ or ""),
        ("ApiVersion", API_VERSION),
    ]
    for index, (url, content_type) in enumerate(media):
        params += [(f"MediaUrl{index}", url), (f"MediaContentType{index}", content_type)]
    channel, handset = split_channel(message.from_ or "")
    if channel is Channel.WHATSAPP:
        params += [
            ("WaId", handset.removeprefix("+")),
            ("ProfileName", ""),
            ("MessageType", "text"),
        ]
    return tuple(params)
