"""Request parameters: form bodies and query strings, decoded the way Twilio reads them.

Names are decoded as well as values (`DateSent%3C` is the parameter `DateSent<`); a repeated
name is an array (`MediaUrl`); for a single-valued parameter the first value counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import unquote_to_bytes

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from textrelay.domain import errors
from textrelay.services.messages import is_web_url

FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


class Params(Mapping[str, str]):
    """Read-only multi-valued parameters; `params["X"]` is the first value of X."""

    __slots__ = ("_values",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        self._values = values

    def __getitem__(self, name: str) -> str:
        return self._values[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in self._values.items() for value in values]

    def all(self, name: str) -> list[str]:
        return list(self._values.get(name, ()))

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        # Mapping.get goes through __getitem__ and an exception; this is on every request.
        values = self._values.get(name)
        return values[0] if values else default

    def text(self, name: str) -> str | None:
        return self._values[name][0] if name in self._values else None

    def boolean(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None or raw == "":
            return None
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise errors.InvalidParameter(f"Invalid value for {name}: '{raw}' is not true or false")

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not -(2**31) <= value < 2**31:
            raise errors.InvalidParameter(
                f"Invalid value for {name}: '{raw}' is not a 32-bit integer"
            )
        return value

    def web_url(self, name: str) -> str | None:
        """A webhook URL parameter: None when absent, "" when given empty (it clears the
        setting), else an http(s) URL with a host. Every resource's URL parameters go
        through this one check, with IncomingPhoneNumbers' SmsUrl wording (400/20001)."""
        url = self.text(name)
        if url and not is_web_url(url):
            raise errors.InvalidParameter(f"{name} '{url}' is not a valid URL")
        return url

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if raw not in allowed:
            raise errors.InvalidParameter(
                f"Invalid value for {name}: '{raw}' must be one of {', '.join(allowed)}"
            )
        return raw


def _decode(raw: bytes, what: str, max_params: int | None = None) -> list[tuple[str, str]]:
    """`name=value&…` as `parse_qsl` reads it (`+` is a space, a name without `=` has an empty
    value), working on bytes and decoding only what needs decoding: most fields of a create
    need none, and this runs for every field of every request."""
    parts = raw.replace(b"+", b" ").split(b"&")
    if max_params is not None and len(parts) > max_params:
        _refuse_count(sum(1 for part in parts if part), max_params)
    pairs = []
    try:
        for part in parts:
            if not part:
                continue
            name, _, value = part.partition(b"=")
            if b"%" in name:
                name = unquote_to_bytes(name)
            if b"%" in value:
                value = unquote_to_bytes(value)
            pairs.append((name.decode("utf-8"), value.decode("utf-8")))
    except UnicodeDecodeError:
        raise errors.InvalidParameter(f"Malformed {what}: it is not valid UTF-8") from None
    _refuse_nul(pairs)
    return pairs


def _refuse_count(count: int, max_params: int) -> None:
    if count > max_params:
        raise errors.InvalidParameter(
            f"The request has {count} parameters; at most {max_params} are accepted"
        )


def _refuse_nul(pairs: list[tuple[str, str]]) -> None:
    # No text column of PostgreSQL can hold U+0000, and no SMS carries it: refuse it here
    # rather than fail deep in storage.
    if not any("\x00" in name or "\x00" in value for name, value in pairs):
        return
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise errors.InvalidParameter(f"Parameter {name!r} contains a NUL character")


def query_params(request: Request) -> Params:
    return Params(_decode(request.scope.get("query_string", b""), "query string"))


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 once it passes `max_bytes`."""
    return await receive_body(request.receive, request.headers.get("content-length"), max_bytes)


async def receive_body(receive: Receive, declared_length: str | None, max_bytes: int) -> bytes:
    """The body from an ASGI channel, refused with 413 once it passes `max_bytes` (at once if
    the declared Content-Length does). Read from the channel directly: Request.body() goes
    through an async generator that costs more than the rest of decoding a create's form."""
    declared = int(declared_length) if declared_length and declared_length.isdigit() else 0
    if declared > max_bytes:
        raise errors.RequestTooLarge(f"Request body exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise errors.RequestTooLarge(f"Request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def form_params(request: Request, max_bytes: int, max_params: int) -> Params:
    """The POST parameters: urlencoded (what the helper libraries send) or multipart."""
    body = await read_body(request, max_bytes)
    return await decode_form(request.headers.get("content-type"), body, request.scope, max_params)


async def decode_form(
    content_type_header: str | None, body: bytes, scope: Scope, max_params: int
) -> Params:
    """A POST body as parameters, by its Content-Type (none or empty: urlencoded), refused
    with 400 beyond `max_params` of them."""
    content_type = (content_type_header or FORM_TYPE).split(";")[0].strip().lower()
    if content_type == MULTIPART_TYPE:
        return await _multipart(scope, body, max_params)
    if content_type in (FORM_TYPE, "") or not body:
        return Params(_decode(body, "form body", max_params))
    raise errors.InvalidParameter(
        f"Unsupported Content-Type {content_type}: send {FORM_TYPE} or {MULTIPART_TYPE}"
    )


async def _multipart(scope: Scope, body: bytes, max_params: int) -> Params:
    async def replay() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    replayed = Request(scope, replay)
    try:
        form = await replayed.form(max_files=0, max_fields=max_params)
    except HTTPException as exc:  # Starlette's refusal past max_fields (or of a file)
        raise errors.InvalidParameter(f"Multipart form body refused: {exc.detail}") from None
    except Exception as exc:  # python-multipart raises several unrelated types
        raise errors.InvalidParameter(f"Malformed multipart form body: {exc}") from None
    pairs = [(k, str(v)) for k, v in form.multi_items() if not isinstance(v, UploadFile)]
    _refuse_nul(pairs)
    return Params(pairs)
