"""The carriers file (`textrelay serve --carriers FILE`): the real carriers textrelay connects
to, the routes that send messages through them, and the routing mode (docs/carriers-file.md).

A TOML file read once at start. Every problem stops the start with `CarriersFileError`, whose
text is `<path>, line <n>: <what is wrong>`; tomllib gives positions for syntax errors only, so
the line of anything else is found by scanning the source text (`SourceMap`).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from textrelay.domain.addresses import AddressError, parse_e164, parse_sender
from textrelay.domain.carriers import SIMULATOR
from textrelay.domain.routing import Route, RouteTable, RoutingMode, known_country
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.domain.smpp.encoding import LongMessages
from textrelay.settings import SettingsError

__all__ = [
    "BindType",
    "CarrierConfig",
    "CarrierType",
    "CarriersConfig",
    "CarriersFileError",
    "LongMessages",
    "SmppCarrierConfig",
    "SourceMap",
    "UpstreamCarrierConfig",
    "parse_carriers",
    "read_carriers_file",
]

_CARRIER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_E164_PREFIX = re.compile(r"^\+[0-9]{1,15}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# SMPP 3.4 §5.2.5-6: Type of Number 0-6 (_TON below); the Numbering Plan Indicators defined.
_NPIS = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
# SMPP 3.4 §4.1 and §4.4: C-octet strings' sizes, NUL excluded. The SMPP library panics on a
# longer one instead of raising, so the file is held to them.
_SYSTEM_ID_MAX = 15
_PASSWORD_MAX = 8
_SYSTEM_TYPE_MAX = 12
_SERVICE_TYPE_MAX = 5


class CarriersFileError(SettingsError):
    """A carriers file textrelay cannot use. Its text is `<path>, line <n>: <message>`, or
    `<path>: <message>` when the file could not be read at all."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = path if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


class CarrierType(StrEnum):
    SMPP = "smpp"
    UPSTREAM = "upstream"


class BindType(StrEnum):
    TRANSCEIVER = "transceiver"
    """One connection each way: submits out, receipts and handsets' messages in."""
    TRANSMITTER_RECEIVER = "transmitter+receiver"
    """A pair of connections: a transmitter for submits, a receiver for what comes back."""


@dataclass(frozen=True, slots=True)
class SmppCarrierConfig:
    """An SMSC textrelay binds to over SMPP 3.4 (a `[[carrier]]` with `type = "smpp"`)."""

    kind: ClassVar[CarrierType] = CarrierType.SMPP
    name: str
    host: str
    system_id: str
    port: int = 2775
    password: str = field(default="", repr=False)
    system_type: str = ""
    tls: bool = False
    binds: int = 1
    """Connections (or transmitter+receiver pairs) kept bound, by all serving processes
    together."""
    first_bind: int = 1
    """The number of this process's first bind (`smsc1#3`): under `serve --processes` each
    process holds some of the binds (CarriersConfig.dealt_out), numbered as one series."""
    bind_type: BindType = BindType.TRANSCEIVER
    window: int = 10
    """Submits awaiting their response, per bind."""
    rate_per_s: float = 0.0
    """Submits per second, per bind; 0 is unlimited."""
    response_timeout_s: float = 10.0
    enquire_link_s: float = 30.0
    """Seconds between keep-alives (enquire_link) on each bind."""
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    registered_delivery: bool = True
    long_messages: LongMessages = LongMessages.UDH
    short_code_ton: int = 3
    source_ton: int | None = None
    """Overrides the source TON textrelay derives from the From address."""
    source_npi: int | None = None
    service_type: str = ""
    submit_retries: int = 5
    """Temporary refusals of one message before it fails with 30008."""
    numbers: tuple[str, ...] = ()
    """E.164 numbers and short codes bound to this carrier."""
    mo_reassembly_timeout_s: float = 60.0
    """Seconds for all parts of a concatenated handset message to arrive; then what did
    arrive becomes a message with error 30009."""


@dataclass(frozen=True, slots=True)
class UpstreamCarrierConfig:
    """A Twilio-compatible API textrelay sends through (a `[[carrier]]` with
    `type = "upstream"`): Twilio itself, or another textrelay."""

    kind: ClassVar[CarrierType] = CarrierType.UPSTREAM
    name: str
    account_sid: str
    auth_token: str = field(repr=False)
    callback_base_url: str
    """Where the upstream reaches this textrelay, without a trailing slash."""
    base_url: str = "https://api.twilio.com"
    timeout_s: float = 10.0
    numbers: tuple[str, ...] = ()
    submit_retries: int = 5

    @property
    def status_callback_url(self) -> str:
        """The StatusCallback given to the upstream with each message."""
        return f"{self.callback_base_url}/textrelay/v1/Carriers/{self.name}/StatusCallback"

    @property
    def incoming_message_url(self) -> str:
        """Where the upstream's numbers send handsets' messages: the operator sets it as each
        number's incoming message webhook (SmsUrl) at the upstream."""
        return f"{self.callback_base_url}/textrelay/v1/Carriers/{self.name}/IncomingMessage"


CarrierConfig = SmppCarrierConfig | UpstreamCarrierConfig


@dataclass(frozen=True, slots=True)
class CarriersConfig:
    carriers: tuple[CarrierConfig, ...] = ()
    routes: RouteTable = field(default_factory=RouteTable.simulator_only)
    pdu_log: bool = True
    """Record the PDUs (or HTTP exchanges) of each message for the console."""

    @classmethod
    def simulator_only(cls) -> CarriersConfig:
        """The configuration without a carriers file."""
        return cls()

    def carrier(self, name: str) -> CarrierConfig:
        """The carrier of that name; KeyError if none."""
        for carrier in self.carriers:
            if carrier.name == name:
                return carrier
        raise KeyError(name)

    @property
    def fewest_binds(self) -> SmppCarrierConfig | None:
        """The SMPP carrier with the fewest binds: as many serving processes as its binds at
        most can each hold one of them (None: no SMPP carrier)."""
        smpp = [c for c in self.carriers if isinstance(c, SmppCarrierConfig)]
        return min(smpp, key=lambda c: c.binds, default=None)

    def dealt_out(self, index: int, count: int) -> CarriersConfig:
        """The configuration of serving process `index` of `count`: each SMPP carrier's binds
        dealt out among the processes, so that together they hold `binds`, not `count` times
        as many (an SMSC limits the binds of a system_id). Each process gets at least one
        when `count` is within `fewest_binds` (app.serving_processes sees to it)."""
        if count <= 1:
            return self
        carriers: list[CarrierConfig] = []
        for carrier in self.carriers:
            if isinstance(carrier, SmppCarrierConfig):
                share, extra = divmod(carrier.binds, count)
                carrier = replace(
                    carrier,
                    binds=share + (1 if index < extra else 0),
                    first_bind=1 + index * share + min(index, extra),
                )
            carriers.append(carrier)
        return replace(self, carriers=tuple(carriers))


def read_carriers_file(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> CarriersConfig:
    """The carriers file at `path`. `environ` (default: the process's environment) holds the
    variables `auth_token_env` names. Any problem: CarriersFileError."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise CarriersFileError(name, None, exc.strerror or str(exc)) from None
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CarriersFileError(name, line, "not UTF-8 text") from None
    return parse_carriers(text, name, environ=os.environ if environ is None else environ)


def parse_carriers(
    text: str, path: str = "<carriers>", *, environ: Mapping[str, str]
) -> CarriersConfig:
    """The carriers file's text; `path` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _syntax_error(str(exc), text)
        raise CarriersFileError(path, line, message) from None
    try:
        return _Parser(SourceMap(text), environ).config(document)
    except _Problem as problem:
        raise CarriersFileError(path, problem.line, problem.message) from None


_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)$")


def _syntax_error(message: str, text: str) -> tuple[str, int]:
    """tomllib's message without its position, and the line it names."""
    match = _TOML_POSITION.search(message)
    if match is None:
        return f"invalid TOML: {message}", 1
    line = int(match.group(1)) if match.group(1) else max(len(text.splitlines()), 1)
    return f"invalid TOML: {message[: match.start()]}", line


# -- finding lines -------------------------------------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_KEY_PATH = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_KEY_PATH})\s*\]\]\s*(?:#.*)?$")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_KEY_PATH})\s*\]\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_KEY_PART})\s*(?:=|\.)")


def _unquote(key: str) -> str:
    key = key.strip()
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'" else key


@dataclass(frozen=True, slots=True)
class _Section:
    path: tuple[str, ...]
    """The header's dotted name, `()` for the keys before the first header."""
    array: bool
    line: int
    keys: Mapping[str, int]
    """Each key set in it → the first line it is set on."""
    body: tuple[tuple[int, str], ...]
    """Its lines after the header: (line number, text)."""


class SourceMap:
    """Where things are in a TOML text, by a line scan: the N-th `[[carrier]]`, the line a key
    of that table is set on, the line an array element is on. It understands what the carriers
    file uses (headers, `key = value`, comments, multi-line arrays and strings); anything it
    cannot place is reported at the nearest enclosing line it can."""

    def __init__(self, text: str) -> None:
        self._sections = tuple(_sections(text))

    def table(self, name: str | None, index: int | None = None) -> int:
        """The line of the `[[name]]` header number `index` (0-based), or of `[name]` when
        `index` is None, or of `name = …` when the table is written inline; `name` None is
        the top of the file (line 1)."""
        section = self._find(name, index)
        if section is not None:
            return section.line
        return self._root.keys.get(name, 1) if name is not None else 1

    def key(self, name: str | None, index: int | None, key: str) -> int:
        """The line `key` is set on in that table (table() when it is not found)."""
        section = self._find(name, index)
        if section is None:
            section = self._root if name is None else None
        if section is None:
            return self.table(name, index)
        if key in section.keys:
            return section.keys[key]
        sub = self._subtable(section, key)
        return sub.line if sub is not None else section.line

    def element(self, name: str | None, index: int | None, key: str, value: object) -> int:
        """The line an element of the array `key` is on (key() when it is not found)."""
        start = self.key(name, index, key)
        section = self._find(name, index) or (self._root if name is None else None)
        if section is None:
            return start
        needles = (f'"{value}"', f"'{value}'") if isinstance(value, str) else (str(value),)
        for number, line in section.body:
            if number < start:
                continue
            if number > start and _KEY.match(line):
                break
            if any(needle in line.split("#", 1)[0] for needle in needles):
                return number
        return start

    @property
    def _root(self) -> _Section:
        return self._sections[0]

    def _find(self, name: str | None, index: int | None) -> _Section | None:
        if name is None:
            return self._root
        matching = [s for s in self._sections if s.path == (name,)]
        arrays = [s for s in matching if s.array]
        if index is not None and index < len(arrays):
            return arrays[index]
        tables = [s for s in matching if not s.array]
        return tables[0] if tables and index in (None, 0) else None

    def _subtable(self, section: _Section, key: str) -> _Section | None:
        after = self._sections[self._sections.index(section) + 1 :]
        for other in after:
            if other.path[: len(section.path)] != section.path or other.path == section.path:
                return None
            if other.path[len(section.path)] == key:
                return other
        return None


def _sections(text: str) -> Iterator[_Section]:
    path: tuple[str, ...] = ()
    array = False
    start = 1
    keys: dict[str, int] = {}
    body: list[tuple[int, str]] = []
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            body.append((number, line))
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        array_header = _ARRAY_HEADER.match(line)
        header = array_header or _TABLE_HEADER.match(line)
        if header is not None:
            yield _Section(path, array, start, MappingProxyType(keys), tuple(body))
            path = tuple(_unquote(part) for part in re.findall(_KEY_PART, header.group(1)))
            array, start, keys, body = array_header is not None, number, {}, []
            continue
        body.append((number, line))
        key = _KEY.match(line)
        if key is not None:
            keys.setdefault(_unquote(key.group(1)), number)
        for quotes in ('"""', "'''"):
            if line.split("#", 1)[0].count(quotes) % 2 == 1:
                in_string = quotes
    yield _Section(path, array, start, MappingProxyType(keys), tuple(body))


# -- reading tables ------------------------------------------------------------------------


class _Problem(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


T = TypeVar("T")
StrEnumT = TypeVar("StrEnumT", bound=StrEnum)


@dataclass(slots=True)
class _Table:
    """One table of the file, with what it needs to say where its problems are."""

    source: SourceMap
    values: Mapping[str, Any]
    name: str | None
    """`carrier`, `route`, `routing`; None for the top level."""
    index: int | None
    """Its position among the `[[name]]` tables; None for a plain table."""
    title: str
    """How messages name it: `[[carrier]] "smsc1"`, `[routing]`; empty for the top level."""

    @property
    def line(self) -> int:
        return self.source.table(self.name, self.index)

    def problem(self, key: str | None, message: str, element: object = None) -> _Problem:
        if key is None:
            line = self.line
        elif element is None:
            line = self.source.key(self.name, self.index, key)
        else:
            line = self.source.element(self.name, self.index, key, element)
        return _Problem(line, f"{self.title}: {message}" if self.title else message)

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.values:
            if key not in allowed:
                likely = get_close_matches(key, allowed, n=1)
                hint = f' (did you mean "{likely[0]}"?)' if likely else ""
                raise self.problem(
                    key, f'unknown key "{key}"{hint}; allowed: {", ".join(sorted(allowed))}'
                )

    def required(self, key: str, parse: Callable[[_Table, str, Any], T]) -> T:
        if key not in self.values:
            raise self.problem(None, f'"{key}" is required')
        return parse(self, key, self.values[key])

    def optional(self, key: str, parse: Callable[[_Table, str, Any], T], default: T) -> T:
        if key not in self.values:
            return default
        return parse(self, key, self.values[key])


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a decimal number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _wrong(table: _Table, key: str, value: object, wanted: str) -> _Problem:
    return table.problem(key, f"{key} must be {wanted}, not {_type_name(value)}")


def _string(table: _Table, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong(table, key, value, "a string")
    return value


def _nonempty(table: _Table, key: str, value: Any) -> str:
    text = _string(table, key, value).strip()
    if not text:
        raise table.problem(key, f"{key} must not be empty")
    return text


def _octets(limit: int) -> Callable[[_Table, str, Any], str]:
    def parse(table: _Table, key: str, value: Any) -> str:
        text = _string(table, key, value)
        if not text.isascii() or not text.isprintable():
            raise table.problem(key, f"{key} must be printable ASCII")
        if len(text) > limit:
            raise table.problem(key, f"{key} is at most {limit} characters in SMPP 3.4")
        return text

    return parse


def _boolean(table: _Table, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _wrong(table, key, value, "true or false")
    return value


def _integer(low: int, high: int | None = None) -> Callable[[_Table, str, Any], int]:
    def parse(table: _Table, key: str, value: Any) -> int:
        if type(value) is not int:
            raise _wrong(table, key, value, "a whole number")
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise table.problem(key, f"{key} must be {bounds}, not {value}")
        return value

    return parse


def _quantity(*, zero: bool = False) -> Callable[[_Table, str, Any], float]:
    def parse(table: _Table, key: str, value: Any) -> float:
        if type(value) not in (int, float):
            raise _wrong(table, key, value, "a number")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            bound = "at least 0" if zero else "more than 0"
            raise table.problem(key, f"{key} must be a finite number {bound}, not {value}")
        return float(value)

    return parse


def _enum(kind: type[StrEnumT]) -> Callable[[_Table, str, Any], StrEnumT]:
    def parse(table: _Table, key: str, value: Any) -> StrEnumT:
        text = _string(table, key, value)
        try:
            return kind(text)
        except ValueError:
            choices = " or ".join(f'"{member.value}"' for member in kind)
            raise table.problem(key, f'{key} must be {choices}, not "{text}"') from None

    return parse


def _choice_in(allowed: frozenset[int], label: str) -> Callable[[_Table, str, Any], int]:
    def parse(table: _Table, key: str, value: Any) -> int:
        number = _integer(0)(table, key, value)
        if number not in allowed:
            raise table.problem(key, f"{key} must be {label}, not {number}")
        return number

    return parse


def _strings(table: _Table, key: str, value: Any) -> tuple[str, ...]:
    """A string or an array of strings."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise _wrong(table, key, value, "an array of strings")
    for element in value:
        if not isinstance(element, str):
            raise table.problem(key, f"{key} must hold strings, not {_type_name(element)}", element)
    return tuple(value)


class _Hint(ValueError):
    """Not a value of the kind wanted, with a word on what is."""


def _each(
    parse: Callable[[str], str], wanted: str
) -> Callable[[_Table, str, Any], tuple[str, ...]]:
    """An array of strings, each parsed (ValueError: not `wanted`), duplicates dropped."""

    def parse_all(table: _Table, key: str, value: Any) -> tuple[str, ...]:
        parsed: dict[str, None] = {}
        for element in _strings(table, key, value):
            try:
                parsed[parse(element)] = None
            except ValueError as exc:
                hint = f" ({exc})" if isinstance(exc, _Hint) else ""
                message = f'{key}: "{element}" is not {wanted}{hint}'
                raise table.problem(key, message, element) from None
        return tuple(parsed)

    return parse_all


def _number(text: str) -> str:
    """A number a carrier may be bound to: E.164 (normalised) or a short code's digits."""
    cleaned = text.strip()
    if _SHORT_CODE.match(cleaned):
        return cleaned
    return parse_e164(cleaned)


def _sender(text: str) -> str:
    address = parse_sender(text)
    if address.is_channel:
        raise AddressError(text)
    return address.value


def _prefix(text: str) -> str:
    if not _E164_PREFIX.match(text):
        raise ValueError(text)
    return text


def _country(text: str) -> str:
    code = text.upper()
    if code == "UK":
        raise _Hint("the United Kingdom's code is GB")
    if not _COUNTRY.match(text) or not known_country(code):
        raise ValueError(text)
    return code


def _sid(kind: SidType) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not is_sid(text, kind):
            raise ValueError(text)
        return normalize(text)

    return parse


def _carrier_name(table: _Table, key: str, value: Any) -> str:
    name = _string(table, key, value)
    if not _CARRIER_NAME.match(name):
        raise table.problem(
            key,
            f'name "{name}" must be 1-32 lowercase letters, digits, "-" or "_", '
            "starting with a letter or digit",
        )
    return name


def _url(table: _Table, key: str, value: Any) -> str:
    text = _nonempty(table, key, value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise table.problem(key, f'{key} must be an http:// or https:// URL, not "{text}"')
    if parts.query or parts.fragment:
        raise table.problem(key, f"{key} must have no query or fragment")
    return text.rstrip("/")


def _account_sid(table: _Table, key: str, value: Any) -> str:
    text = _string(table, key, value)
    if not is_sid(text, SidType.ACCOUNT):
        raise table.problem(key, f"{key} must be AC followed by 32 hexadecimal digits")
    return normalize(text)


def _allowed(text: str) -> str:
    return _prefix(text) if text.startswith("+") else _country(text)


def _unknown_carrier(name: str, known: set[str]) -> str:
    return f'no carrier is named "{name}"; declared: {", ".join(sorted(known))}'


_TOP_KEYS = ("carrier", "route", "routing")
_SMPP_KEYS = (
    "name",
    "type",
    "host",
    "port",
    "system_id",
    "password",
    "system_type",
    "tls",
    "binds",
    "bind_type",
    "window",
    "rate_per_s",
    "response_timeout_s",
    "enquire_link_s",
    "reconnect_min_s",
    "reconnect_max_s",
    "registered_delivery",
    "long_messages",
    "short_code_ton",
    "source_ton",
    "source_npi",
    "service_type",
    "submit_retries",
    "numbers",
    "mo_reassembly_timeout_s",
)
_UPSTREAM_KEYS = (
    "name",
    "type",
    "base_url",
    "account_sid",
    "auth_token",
    "auth_token_env",
    "callback_base_url",
    "timeout_s",
    "numbers",
    "submit_retries",
)
_ROUTING_KEYS = ("mode", "allow", "pdu_log")
_ROUTE_KEYS = (
    "name",
    "carrier",
    "fallback",
    "from",
    "messaging_service",
    "to_prefix",
    "country",
    "account",
)
_NOTHING: tuple[str, ...] = ()
_NUMBERS = _each(_number, "an E.164 number or a short code (3-8 digits)")
_SENDERS = _each(_sender, "an E.164 number, short code or alphanumeric sender ID")
_SERVICES = _each(_sid(SidType.MESSAGING_SERVICE), "a Messaging Service SID (MG + 32 hex)")
_PREFIXES = _each(_prefix, 'an E.164 prefix ("+" and digits)')
_COUNTRIES = _each(_country, "a two-letter country code (ISO 3166)")
_ACCOUNTS = _each(_sid(SidType.ACCOUNT), "an account SID (AC + 32 hex)")
_ALLOW = _each(_allowed, 'an E.164 prefix ("+" and digits) or a two-letter country code')
_TON = _integer(0, 6)
_NPI = _choice_in(_NPIS, "an SMPP NPI (0, 1, 3, 4, 6, 8, 9, 10, 14 or 18)")


@dataclass(slots=True)
class _Parser:
    source: SourceMap
    environ: Mapping[str, str]

    def config(self, document: Mapping[str, Any]) -> CarriersConfig:
        top = _Table(self.source, document, None, None, "")
        top.check_keys(_TOP_KEYS)
        carriers = self._carriers(top)
        names = {carrier.name for carrier in carriers}
        routes = tuple(self._routes(top, names))
        mode, prefixes, countries, pdu_log = self._routing(top)
        bound: dict[str, str] = {}
        for index, carrier in enumerate(carriers):
            table = self._table(top, "carrier", index, f'[[carrier]] "{carrier.name}"')
            for number in carrier.numbers:
                other = bound.setdefault(number, carrier.name)
                if other != carrier.name:
                    raise table.problem(
                        "numbers", f"{number} is already bound to carrier {other}", number
                    )
        route_table = RouteTable(routes, mode, prefixes, countries, MappingProxyType(bound))
        return CarriersConfig(carriers, route_table, pdu_log)

    def _array(self, top: _Table, key: str) -> list[Any]:
        value = top.values.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise top.problem(key, f"{key} must be an array of tables: write [[{key}]]")
        return value

    def _table(self, top: _Table, name: str, index: int, title: str) -> _Table:
        values = self._array(top, name)[index]
        return _Table(self.source, values, name, index, title)

    def _carriers(self, top: _Table) -> tuple[CarrierConfig, ...]:
        carriers: list[CarrierConfig] = []
        for index in range(len(self._array(top, "carrier"))):
            table = self._table(top, "carrier", index, f"[[carrier]] number {index + 1}")
            name = table.required("name", _carrier_name)
            table.title = f'[[carrier]] "{name}"'
            if name == SIMULATOR:
                raise table.problem(
                    "name", f'"{SIMULATOR}" is built in: routes may name it, no file declares it'
                )
            if any(carrier.name == name for carrier in carriers):
                raise table.problem("name", f'a carrier named "{name}" is declared above')
            kind = table.required("type", _enum(CarrierType))
            carriers.append(
                self._smpp(table, name) if kind is CarrierType.SMPP else self._upstream(table, name)
            )
        return tuple(carriers)

    def _smpp(self, table: _Table, name: str) -> SmppCarrierConfig:
        table.check_keys(_SMPP_KEYS)
        opt = table.optional
        reconnect_min_s = opt("reconnect_min_s", _quantity(), 1.0)
        reconnect_max_s = opt("reconnect_max_s", _quantity(), 60.0)
        if reconnect_max_s < reconnect_min_s:
            raise table.problem(
                "reconnect_max_s",
                f"reconnect_max_s ({reconnect_max_s:g}) is less than reconnect_min_s "
                f"({reconnect_min_s:g})",
            )
        return SmppCarrierConfig(
            name=name,
            host=table.required("host", _nonempty),
            system_id=table.required("system_id", _octets(_SYSTEM_ID_MAX)),
            port=opt("port", _integer(1, 65535), 2775),
            password=opt("password", _octets(_PASSWORD_MAX), ""),
            system_type=opt("system_type", _octets(_SYSTEM_TYPE_MAX), ""),
            tls=opt("tls", _boolean, False),
            binds=opt("binds", _integer(1), 1),
            bind_type=opt("bind_type", _enum(BindType), BindType.TRANSCEIVER),
            window=opt("window", _integer(1), 10),
            rate_per_s=opt("rate_per_s", _quantity(zero=True), 0.0),
            response_timeout_s=opt("response_timeout_s", _quantity(), 10.0),
            enquire_link_s=opt("enquire_link_s", _quantity(), 30.0),
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
            registered_delivery=opt("registered_delivery", _boolean, True),
            long_messages=opt("long_messages", _enum(LongMessages), LongMessages.UDH),
            short_code_ton=opt("short_code_ton", _TON, 3),
            source_ton=opt("source_ton", _TON, None),
            source_npi=opt("source_npi", _NPI, None),
            service_type=opt("service_type", _octets(_SERVICE_TYPE_MAX), ""),
            submit_retries=opt("submit_retries", _integer(0), 5),
            numbers=opt("numbers", _NUMBERS, _NOTHING),
            mo_reassembly_timeout_s=opt("mo_reassembly_timeout_s", _quantity(), 60.0),
        )

    def _upstream(self, table: _Table, name: str) -> UpstreamCarrierConfig:
        table.check_keys(_UPSTREAM_KEYS)
        opt = table.optional
        account_sid = table.required("account_sid", _account_sid)
        return UpstreamCarrierConfig(
            name=name,
            account_sid=account_sid,
            auth_token=self._auth_token(table),
            callback_base_url=table.required("callback_base_url", _url),
            base_url=opt("base_url", _url, "https://api.twilio.com"),
            timeout_s=opt("timeout_s", _quantity(), 10.0),
            numbers=opt("numbers", _NUMBERS, _NOTHING),
            submit_retries=opt("submit_retries", _integer(0), 5),
        )

    def _auth_token(self, table: _Table) -> str:
        given = table.values.keys() & {"auth_token", "auth_token_env"}
        if len(given) == 2:
            raise table.problem("auth_token_env", "give auth_token or auth_token_env, not both")
        if "auth_token" in given:
            return table.required("auth_token", _nonempty)
        if not given:
            raise table.problem(None, '"auth_token" or "auth_token_env" is required')
        variable = table.required("auth_token_env", _nonempty)
        if not _VARIABLE.match(variable):
            raise table.problem(
                "auth_token_env", f'auth_token_env "{variable}" is not a variable name'
            )
        token = self.environ.get(variable, "").strip()
        if not token:
            raise table.problem(
                "auth_token_env", f"the variable {variable} (auth_token_env) is not set"
            )
        return token

    def _routes(self, top: _Table, carriers: set[str]) -> Iterator[Route]:
        known = carriers | {SIMULATOR}
        names: set[str] = set()
        for index in range(len(self._array(top, "route"))):
            table = self._table(top, "route", index, f"[[route]] number {index + 1}")
            table.check_keys(_ROUTE_KEYS)
            name = table.optional("name", _nonempty, None)
            if name is not None:
                table.title = f'[[route]] "{name}"'
                if name in names:
                    raise table.problem("name", f'a route named "{name}" is declared above')
                names.add(name)
            carrier = table.required("carrier", _string)
            if carrier not in known:
                raise table.problem("carrier", _unknown_carrier(carrier, known))
            fallback = table.optional("fallback", _strings, _NOTHING)
            for other in fallback:
                if other not in known:
                    raise table.problem("fallback", _unknown_carrier(other, known), other)
                if other == carrier:
                    raise table.problem(
                        "fallback", f'fallback names the route\'s own carrier "{other}"', other
                    )
                if fallback.count(other) > 1:
                    raise table.problem(
                        "fallback", f'fallback names carrier "{other}" twice', other
                    )
            yield Route(
                carrier=carrier,
                fallback=fallback,
                senders=frozenset(table.optional("from", _SENDERS, _NOTHING)),
                messaging_services=frozenset(
                    table.optional("messaging_service", _SERVICES, _NOTHING)
                ),
                to_prefixes=table.optional("to_prefix", _PREFIXES, _NOTHING),
                countries=frozenset(table.optional("country", _COUNTRIES, _NOTHING)),
                accounts=frozenset(table.optional("account", _ACCOUNTS, _NOTHING)),
                name=name,
                line=table.line,
            )

    def _routing(self, top: _Table) -> tuple[RoutingMode, tuple[str, ...], frozenset[str], bool]:
        values = top.values.get("routing", {})
        if not isinstance(values, dict):
            raise top.problem("routing", "routing must be a table: write [routing]")
        table = _Table(self.source, values, "routing", None, "[routing]")
        table.check_keys(_ROUTING_KEYS)
        mode = table.optional("mode", _enum(RoutingMode), RoutingMode.ALL)
        allow = table.optional("allow", _ALLOW, _NOTHING)
        if allow and mode is not RoutingMode.ALLOWLIST:
            raise table.problem(
                "allow", 'allow is read in allowlist mode only: add mode = "allowlist"'
            )
        prefixes = tuple(entry for entry in allow if entry.startswith("+"))
        countries = frozenset(entry for entry in allow if not entry.startswith("+"))
        return mode, prefixes, countries, table.optional("pdu_log", _boolean, True)
