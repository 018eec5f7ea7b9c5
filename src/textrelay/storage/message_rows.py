"""Messages as rows: the one mapping between the Message resource and the messages table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from textrelay.domain.messages import Message, SendOptions
from textrelay.domain.statuses import Direction, MessageStatus
from textrelay.storage.connection import Row
from textrelay.storage.timestamps import from_us, opt_from_us, to_us

_DEFAULT_OPTIONS = SendOptions()
_OPTION_FIELDS = tuple(SendOptions.__dataclass_fields__)
_TUPLE_OPTIONS = ("persistent_action", "media_urls")


def _options_json(options: SendOptions) -> str:
    """Only the options that differ from the defaults: most messages set one or two, and a
    smaller row is fewer pages written per insert."""
    if options == _DEFAULT_OPTIONS:
        return "{}"
    data = {
        name: value
        for name in _OPTION_FIELDS
        if (value := getattr(options, name)) != getattr(_DEFAULT_OPTIONS, name)
    }
    if options.send_at is not None:
        data["send_at"] = to_us(options.send_at)
    return orjson.dumps(data).decode()


def _options(text: str) -> SendOptions:
    data: dict[str, Any] = orjson.loads(text)
    if data.get("send_at") is not None:
        data["send_at"] = from_us(data["send_at"])
    for name in _TUPLE_OPTIONS:
        if name in data:
            data[name] = tuple(data[name])
    known = SendOptions.__dataclass_fields__
    return SendOptions(**{k: v for k, v in data.items() if k in known})


def message_params(message: Message) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "direction": message.direction.value,
        "status": message.status.value,
        "from_addr": message.from_,
        "to_addr": message.to,
        "body": message.body,
        "num_segments": message.num_segments,
        "num_media": message.num_media,
        "messaging_service_sid": message.messaging_service_sid,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "price": message.price,
        "price_unit": message.price_unit,
        "tags": orjson.dumps(message.tags).decode(),
        "options": _options_json(message.options),
        "date_created": to_us(message.date_created),
        "date_updated": to_us(message.date_updated),
        "date_sent": None if message.date_sent is None else to_us(message.date_sent),
    }


def message_from_row(row: Row) -> Message:
    tags: Mapping[str, str] = orjson.loads(row["tags"])
    return Message(
        sid=row["sid"],
        account_sid=row["account_sid"],
        direction=Direction(row["direction"]),
        status=MessageStatus(row["status"]),
        from_=row["from_addr"],
        to=row["to_addr"],
        body=row["body"],
        num_segments=int(row["num_segments"]),
        num_media=int(row["num_media"]),
        date_created=from_us(row["date_created"]),
        date_updated=from_us(row["date_updated"]),
        date_sent=opt_from_us(row["date_sent"]),
        messaging_service_sid=row["messaging_service_sid"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        price=row["price"],
        price_unit=row["price_unit"],
        tags=dict(tags),
        options=_options(row["options"]),
    )
