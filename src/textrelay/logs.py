"""Log setup for `serve` and `worker`: the level and the format of what goes to stderr.

`text` is for people (`INFO textrelay.workers.runner: …`, as before). `json` is for log
pipelines: one object per line, with the ids of the request or job the line was logged while
handling (services/log_context.py) and, on access lines, the request's fields. What textrelay
never logs (credentials; message bodies unless `log_bodies`) is kept out where the lines are
written, not here: this formatter shows what it is given. docs/operations.md, "Logs".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.config import LOGGING_CONFIG

from textrelay.services import log_context
from textrelay.settings import Settings

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

_HANDLING_FIELDS = log_context.Handling._fields

ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "bytes", "remote_addr")
"""The attributes an access line's record carries (api/request_log.py), in their JSON order."""


def configure_logging(settings: Settings) -> None:
    """The root logger writes to stderr at `log_level`, in `log_format`."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's logging setup: its own for text (as before), none for json, so that its lines
    reach the root logger's JSON handler instead of its handlers of plain text."""
    return None if settings.log_format == "json" else LOGGING_CONFIG


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: `time` (UTC, ISO 8601, milliseconds), `level`,
    `logger`, `message`, the ids being handled when known, the access fields when present and
    `exc` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso_ms(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        handling = log_context.current()
        if handling is not log_context.NOTHING:
            for name, value in zip(_HANDLING_FIELDS, handling, strict=True):
                if value is not None:
                    entry[name] = value
        fields = record.__dict__
        for name in ACCESS_FIELDS:
            if name in fields:
                entry[name] = fields[name]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def _utc_iso_ms(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.removesuffix("+00:00") + "Z"
