"""The parameters of a status callback, exactly as Twilio posts them.

Facts: shared/twilio/messaging-and-webhooks.md §4.3 and its real captures: `MessageSid` and
`SmsSid`, `MessageStatus` and `SmsStatus` (same values), `AccountSid`, `From`, `To`,
`ApiVersion`; `MessagingServiceSid` when a service is associated; `ErrorCode` on `failed` and
`undelivered`; `RawDlrDoneDate` on delivery reports; the channel fields for WhatsApp/Messenger.
"""

from __future__ import annotations

from datetime import datetime

from textrelay.domain.addresses import split_channel
from textrelay.domain.lifecycle import raw_dlr_done_date
from textrelay.domain.messages import API_VERSION, Message
from textrelay.domain.statuses import MessageStatus

_DELIVERY_REPORTS = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED})
_WITH_ERROR = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


def status_callback_params(
    message: Message, *, reported_at: datetime
) -> tuple[tuple[str, str], ...]:
    """The form parameters announcing `message`'s current status."""
    status = message.status.value
    params: list[tuple[str, str]] = []
    if message.status in _DELIVERY_REPORTS:
        params.append(("RawDlrDoneDate", raw_dlr_done_date(reported_at)))
    params += [
        ("SmsSid", message.sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", message.to),
    ]
    if message.messaging_service_sid:
        params.append(("MessagingServiceSid", message.messaging_service_sid))
    params += [
        ("MessageSid", message.sid),
        ("AccountSid", message.account_sid),
        ("From", message.from_ or ""),
        ("ApiVersion", API_VERSION),
    ]
    if message.status in _WITH_ERROR and message.error_code is not None:
        params.append(("ErrorCode", str(message.error_code)))
    channel, address = split_channel(message.to)
    if channel.is_prefixed:
        params += [("ChannelPrefix", channel.value), ("ChannelToAddress", address)]
        if message.status in _DELIVERY_REPORTS or message.status is MessageStatus.READ:
            params.append(("EventType", message.status.value.upper()))
    return tuple(params)
