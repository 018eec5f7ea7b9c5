"""Settings: one frozen object, built once from CLI flags and TEXTRELAY_* variables.

Each setting has a flag (`--database-url`) and a variable (`TEXTRELAY_DATABASE_URL`) of the
same name; a flag wins over the variable, the variable over the default. This is the only
module that reads the environment. The names are a public contract (docs/configuration.md).
One module on purpose (~420 lines): the table of settings, with each one's parser, is that
contract, read top to bottom.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from textrelay.domain.deployment import check_admin_token
from textrelay.domain.sids import SidType, is_sid

ENV_PREFIX = "TEXTRELAY_"
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


class SettingsError(ValueError):
    """A setting has a value textrelay cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any
    secret: bool = False
    """A flag would show it to every user of the machine (`ps`): give it as the variable."""


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port")
    return port


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} must be at least 1")
    return value


def _account_sid(text: str) -> str:
    if not is_sid(text, SidType.ACCOUNT):
        raise ValueError("an account SID is AC followed by 32 hexadecimal digits")
    return text[:2] + text[2:].lower()


def _auth_token(text: str) -> str:
    if not _HEX32.match(text):
        raise ValueError("an auth token is 32 hexadecimal digits")
    return text.lower()


def _synchronous(text: str) -> str:
    value = text.strip().upper()
    if value not in ("NORMAL", "FULL"):
        raise ValueError("choose normal or full")
    return value


def _log_level(text: str) -> str:
    value = text.strip().lower()
    if value not in ("critical", "error", "warning", "info", "debug"):
        raise ValueError("choose critical, error, warning, info or debug")
    return value


def _database_url(text: str) -> str:
    if not text.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("use sqlite:///path/to/file.db or postgresql://user@host:port/db")
    return text


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 86_400:
        raise ValueError(f"{text} is not a number of seconds in (0, 86400]")
    return value


def _whole_seconds(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 400 * 86_400:
        raise ValueError(f"{text} is not a number of seconds in [0, 34560000]")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"choose {' or '.join(choices)}")
        return value

    return parse


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in text.split(",") if name.strip())


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: None if text == "" else parse(text)


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "Address to listen on.", str, "127.0.0.1"),
    Setting("port", "TCP port to listen on (0 picks a free one).", _port, 8080),
    Setting(
        "database_url",
        "sqlite:///path (the default, embedded) or postgresql://user@host:port/db.",
        _database_url,
        "sqlite:///textrelay.db",
    ),
    Setting(
        "account_sid",
        "The main account's SID (AC + 32 hex). Generated once and kept when unset.",
        _optional(_account_sid),
        None,
    ),
    Setting(
        "auth_token",
        "The main account's auth token (32 hex). Generated once and kept when unset.",
        _optional(_auth_token),
        None,
        secret=True,
    ),
    Setting(
        "seed",
        "Seed for SIDs and tokens, for deterministic runs. Random when unset.",
        _optional(int),
        None,
    ),
    Setting(
        "auto_provision_senders",
        "Development aid: a From number the account does not own is provisioned on first "
        "use instead of failing with 21606.",
        _bool,
        False,
    ),
    Setting("max_body_bytes", "Largest request body accepted (413 above).", _positive, 1_048_576),
    Setting(
        "max_params",
        "Most parameters in one request body (400, code 20001, above).",
        _positive,
        1000,
    ),
    Setting(
        "account_concurrency",
        "Requests of one account (by its credentials, keys included) one process answers at "
        "once; one more is answered 429 with code 20429 at once (Twilio's API concurrency "
        "limit).",
        _positive,
        100,
    ),
    Setting(
        "account_queue_limit",
        "Messages of one account waiting to be sent; one more is accepted and then fails "
        "with 30001 Queue overflow, as on Twilio. Unset: no limit.",
        _optional(_positive),
        None,
    ),
    Setting(
        "account_backlog_limit",
        "Jobs one account may have owed at once (callbacks, dispatches, carrier reports due "
        "or running); its next API creates are answered 429 with code 20429 until they "
        "drain. Unset: no limit.",
        _optional(_positive),
        None,
    ),
    Setting(
        "header_timeout_s",
        "Seconds a client has to send a request's line and headers (from connecting, or from "
        "the request's first byte on a kept-alive connection); then the connection is closed.",
        _seconds,
        10.0,
    ),
    Setting(
        "body_timeout_s",
        "Seconds a client has to send a request's body once its headers are in; then the "
        "connection is closed.",
        _seconds,
        30.0,
    ),
    Setting(
        "max_connections",
        "Open HTTP connections at most; one more is answered 429 (20429) and closed.",
        _positive,
        500,
    ),
    Setting(
        "sqlite_synchronous",
        "SQLite durability: normal survives a process crash, full also a power loss.",
        _synchronous,
        "NORMAL",
    ),
    Setting("db_pool_size", "PostgreSQL connections per process.", _positive, 10),
    Setting("log_level", "critical, error, warning, info or debug.", _log_level, "info"),
    Setting(
        "log_format",
        "text (one line per event, for people) or json (one JSON object per line, with the "
        "request id, account, message and job it concerns; docs/operations.md).",
        _choice("text", "json"),
        "text",
    ),
    Setting(
        "access_log",
        "Log one line per HTTP request at info level: method, path (never the query), status, "
        "duration, bytes, request id. Off by default.",
        _bool,
        False,
    ),
    Setting(
        "log_bodies",
        "Let log lines about a message show its body (debug level). Credentials are never "
        "logged either way.",
        _bool,
        False,
    ),
    Setting(
        "workers",
        "Run the delivery workers inside `serve` (off: run `textrelay worker` beside it).",
        _bool,
        True,
    ),
    Setting(
        "processes",
        "Serving processes of `serve` (each the API and, with workers, a job runner) on the "
        "one database. Unset: one a core in gateway mode, one in emulator mode (its test "
        "bench moves one process's clock) or with a seed or sqlite:///:memory:.",
        _optional(_positive),
        None,
    ),
    Setting(
        "worker_concurrency",
        "Delivery jobs (dispatch, carrier reports, auto-replies) one worker runs at once.",
        _positive,
        64,
    ),
    Setting(
        "webhook_concurrency",
        "Webhook jobs (status callbacks, inbound webhooks) one worker runs at once (keep it "
        "below the webhook transport's 100 connections).",
        _positive,
        96,
    ),
    Setting(
        "webhook_host_concurrency",
        "Webhook jobs to one host:port one worker runs at once (a slow receiver's share).",
        _positive,
        48,
    ),
    Setting(
        "job_lease_s",
        "Seconds a claimed job stays with a worker that stopped renewing it (renewed every "
        "third of that while it runs): how soon a dead worker's jobs run again.",
        _seconds,
        15.0,
    ),
    Setting(
        "callback_retry",
        "twilio: Twilio's policy (one retry on connection failure, then give up); reliable: "
        "also deliver again later with exponential backoff, up to callback_max_attempts.",
        _choice("twilio", "reliable"),
        "twilio",
    ),
    Setting(
        "callback_max_attempts",
        "With callback_retry=reliable: deliveries of one callback before giving up.",
        _positive,
        8,
    ),
    Setting(
        "callback_retry_base_s",
        "With callback_retry=reliable: the first backoff; each later one doubles (max 600 s).",
        _seconds,
        1.0,
    ),
    Setting(
        "schedule_min_ahead_s",
        "Scheduled messages: the least time SendAt may be ahead (Twilio: 900, 15 minutes).",
        _whole_seconds,
        900,
    ),
    Setting(
        "schedule_max_ahead_s",
        "Scheduled messages: the most time SendAt may be ahead (Twilio: 35 days).",
        _whole_seconds,
        3_024_000,
    ),
    Setting(
        "console_password",
        "An admin password for the web console (it asks for a login off loopback).",
        _optional(str),
        None,
        secret=True,
    ),
    Setting(
        "console_allowed_hosts",
        "Host names the web console answers to, comma-separated, besides loopback names and "
        "`host` (DNS rebinding: other Host headers get 403); * for any.",
        _names,
        (),
    ),
    Setting(
        "media_dir",
        "Directory for MMS media bytes (default: beside the SQLite file, or ./textrelay-media).",
        _optional(str),
        None,
    ),
    Setting(
        "retention_days",
        "Delete messages older than this many days, with their media, status history, "
        "webhook attempts and jobs (docs/operations.md, Retention). Off by default: kept "
        "indefinitely.",
        _optional(_positive),
        None,
    ),
    Setting(
        "simulator_config",
        "A TOML or JSON file of simulator settings and rules, applied at start "
        "(docs/simulator.md).",
        _optional(str),
        None,
    ),
    Setting(
        "carriers",
        "A TOML file of real carriers (SMPP, upstream Twilio-compatible APIs) and the routes "
        "that choose among them (docs/carriers.md). Without it every message goes to the "
        "simulator.",
        _optional(str),
        None,
    ),
    Setting(
        "intercept_port",
        "Also listen on this TCP port as an HTTP proxy that answers for api.twilio.com and "
        "every twilio.com host itself, so a Twilio client reaches textrelay through its proxy "
        "settings alone (docs/intercept.md). Off by default.",
        _optional(_port),
        None,
    ),
    Setting(
        "intercept_tunnel",
        "Let the intercepting proxy relay CONNECT to hosts outside twilio.com as a blind TCP "
        "tunnel (it answers those 403 otherwise): for an app whose every request must go "
        "through one proxy. Off by default: textrelay is then never an open proxy.",
        _bool,
        False,
    ),
    Setting(
        "simulator_mode",
        "Progression of simulated messages at start: immediate, timed or manual.",
        _optional(_choice("immediate", "timed", "manual")),
        None,
    ),
    Setting(
        "metrics_port",
        "Also serve /metrics and /healthz on this TCP port, without credentials (for a "
        "private network; `worker` too). The main port's /metrics asks for the operator's "
        "or the main account's credentials.",
        _optional(_port),
        None,
    ),
    Setting(
        "deployment_mode",
        "emulator: a test bench, every account may drive the simulator, the clock, inbound "
        "injection, step and reset; gateway: those and all server-wide state are the "
        "operator's, with admin_token (docs/operations.md, Modes).",
        _choice("emulator", "gateway"),
        "emulator",
    ),
    Setting(
        "admin_token",
        "The operator's credential (Authorization: Bearer <token>) for the test bench and "
        "server-wide state in any mode; at least 24 characters. Unset: no operator.",
        _optional(check_admin_token),
        None,
        secret=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///textrelay.db"
    account_sid: str | None = None
    auth_token: str | None = None
    seed: int | None = None
    auto_provision_senders: bool = False
    max_body_bytes: int = 1_048_576
    max_params: int = 1000
    account_concurrency: int = 100
    account_queue_limit: int | None = None
    account_backlog_limit: int | None = None
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 500
    sqlite_synchronous: str = "NORMAL"
    db_pool_size: int = 10
    log_level: str = "info"
    log_format: str = "text"
    access_log: bool = False
    log_bodies: bool = False
    workers: bool = True
    processes: int | None = None
    worker_concurrency: int = 64
    webhook_concurrency: int = 96
    webhook_host_concurrency: int = 48
    job_lease_s: float = 15.0
    callback_retry: str = "twilio"
    callback_max_attempts: int = 8
    callback_retry_base_s: float = 1.0
    schedule_min_ahead_s: int = 900
    schedule_max_ahead_s: int = 3_024_000
    console_password: str | None = None
    console_allowed_hosts: tuple[str, ...] = ()
    media_dir: str | None = None
    retention_days: int | None = None
    simulator_config: str | None = None
    carriers: str | None = None
    intercept_port: int | None = None
    intercept_tunnel: bool = False
    simulator_mode: str | None = None
    metrics_port: int | None = None
    deployment_mode: str = "emulator"
    admin_token: str | None = None

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from `overrides` (CLI flags; None means "not given"), then the
        environment, then the defaults."""
        env = os.environ if environ is None else environ
        given = overrides or {}
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if given.get(setting.name) is not None:
                values[setting.name] = _checked(setting, given[setting.name], "--")
                continue
            variable = env_name(setting.name)
            if variable in env:
                values[setting.name] = _checked(setting, env[variable], variable)
        return cls(**values)

    @property
    def main_account_credentials(self) -> tuple[str | None, str | None]:
        return self.account_sid, self.auth_token


OTHER_VARIABLES = frozenset({"TEXTRELAY_URL", "TEXTRELAY_TEST_POSTGRES_URL"})
"""TEXTRELAY_* variables that are not settings: the client commands' server URL and the test
suite's PostgreSQL."""


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """TEXTRELAY_* variables nothing reads (a misspelt setting is otherwise silently ignored),
    each with the setting's variable it most resembles, if any."""
    known = {setting.name.upper() for setting in SETTINGS}
    unknown = sorted(
        name
        for name in environ
        if name.startswith(ENV_PREFIX)
        and name.removeprefix(ENV_PREFIX) not in known
        and name not in OTHER_VARIABLES
    )
    return [(name, _likely(name.removeprefix(ENV_PREFIX), known)) for name in unknown]


def _likely(misspelt: str, known: set[str]) -> str | None:
    matches = get_close_matches(misspelt, sorted(known), n=1, cutoff=0.75)
    return ENV_PREFIX + matches[0] if matches else None


def secrets_in_flags(overrides: Mapping[str, Any]) -> list[str]:
    """The settings among `overrides` (None means "not given") that carry a secret: a secret
    setting, or a database URL with a password. Any user of the machine can read a process's
    command line (`ps`); its environment, only its owner and root."""
    return [
        setting.name
        for setting in SETTINGS
        if overrides.get(setting.name) is not None
        and (setting.secret or _url_with_password(setting, overrides[setting.name]))
    ]


def _url_with_password(setting: Setting, value: Any) -> bool:
    if setting.name != "database_url" or not str(value).startswith(("postgresql:", "postgres:")):
        return False
    credentials = str(value).split("://", 1)[-1].rpartition("@")[0]
    return ":" in credentials


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _checked(setting: Setting, raw: Any, source: str) -> Any:
    if not isinstance(raw, str):
        return raw
    where = flag_name(setting.name) if source == "--" else source
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def read_simulator_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The simulator settings and rules in a file (docs/simulator.md), as `simulator_config`
    and `textrelay simulate load` take them: TOML when the name ends in `.toml`, else JSON,
    with a table at the top. SettingsError says `<path>: <what is wrong>`."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text()
        data: Any = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{name}: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{name}: expected a table of settings")
    return data
