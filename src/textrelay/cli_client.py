"""The client commands of `textrelay`: send, text, messages and simulate.

Each is a plain client of a running server, through the same API any app uses: the Twilio
paths (/2010-04-01/…) and textrelay's control API (/textrelay/v1, api/control.py), both
reached through `textrelay.control.Control`. This module only turns options into its calls and
its answers into lines; docs/cli.md describes the commands. ~415 lines: the four commands'
options, each beside the lines it prints, read best in one file.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

import click
from click.core import ParameterSource

from textrelay.control import Control, ControlError, ControlUnavailable
from textrelay.domain.codes import UNKNOWN_ERROR
from textrelay.settings import SettingsError, read_simulator_file

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

_BODY_WIDTH = 40
_FOLLOW_WINDOW = 100
"""--follow watches at least this many of the newest messages on every poll."""


class Failure(click.ClickException):
    """One line on stderr and exit status 1: `error <code>: <message>` for the server's own
    errors, `error: …` for everything else (no server, no answer, not JSON)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=file is None, file=file)


def _failure(exc: ControlError | ControlUnavailable) -> Failure:
    if isinstance(exc, ControlUnavailable):
        return Failure(f"error: {exc}")
    if exc.code is None:
        return Failure(f"error: {exc.message}")  # an answer that is not Twilio's error
    return Failure(f"error {exc.code}: {exc.message}")


def _warn_if_flag(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Warn that a secret given as a flag shows in `ps` to every user of the machine."""
    if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        click.echo(
            f"warning: {param.opts[0]} shows a secret to every user of this machine (ps); "
            f"set {_first(param.envvar)} instead",
            err=True,
        )
    return value


def _first(envvar: str | Sequence[str] | None) -> str:
    return envvar if isinstance(envvar, str) else (envvar or ["the variable"])[0]


def _connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --account-sid and --auth-token; the command gets a `Control` as first argument,
    and its failures become one line and exit status 1."""

    @functools.wraps(command)
    def run(url: str, account_sid: str, auth_token: str, **kwargs: Any) -> Any:
        with Control(url, account_sid, auth_token, timeout_s=TIMEOUT_S) as control:
            try:
                return command(control, **kwargs)
            except (ControlError, ControlUnavailable) as exc:
                raise _failure(exc) from None

    options = (
        click.option(
            "--url",
            envvar="TEXTRELAY_URL",
            default=DEFAULT_URL,
            show_default=True,
            show_envvar=True,
            help="The textrelay server's base URL.",
        ),
        click.option(
            "--account-sid",
            # The twilio helper libraries' own variables, when textrelay's are not set.
            envvar=["TEXTRELAY_ACCOUNT_SID", "TWILIO_ACCOUNT_SID"],
            required=True,
            show_envvar=True,
            help="The account to act as (AC…).",
        ),
        click.option(
            "--auth-token",
            envvar=["TEXTRELAY_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"],
            required=True,
            show_envvar=True,
            callback=_warn_if_flag,
            help="That account's auth token (better as the variable: a flag shows in `ps`).",
        ),
    )
    for option in reversed(options):
        run = option(run)
    return run


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# --- send ----------------------------------------------------------------------------------


@click.command()
@click.option("--to", required=True, help="The recipient: +14155550100, whatsapp:+1…, …")
@click.option("--from", "from_", help="The sender: a number the account owns.")
@click.option("--messaging-service-sid", help="Send through this Messaging Service (MG…).")
@click.option("--body", help="The text of the message.")
@click.option("--status-callback", help="URL that receives each status change.")
@click.option("--media-url", multiple=True, help="Media to attach (MMS); repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="Print the created Message as JSON.")
@_connection_options
def send(
    control: Control,
    to: str,
    from_: str | None,
    messaging_service_sid: str | None,
    body: str | None,
    status_callback: str | None,
    media_url: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a message (POST …/Messages.json) and print its SID and status.

    The server checks the parameters as Twilio does: give --from or --messaging-service-sid,
    and --body or --media-url.
    """
    message = control.send(
        to,
        from_=from_,
        messaging_service_sid=messaging_service_sid,
        body=body,
        status_callback=status_callback,
        media_urls=media_url,
    )
    if as_json:
        _print_json(message)
    else:
        click.echo(f"{message['sid']} {message['status']}")


@click.command()
@click.option("--from", "from_", required=True, help="The handset: +14155550100, whatsapp:+1…")
@click.option("--to", required=True, help="One of the account's numbers or short codes.")
@click.option(
    "--media",
    "media_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A file to attach (MMS); repeat for several. Its type comes from its name.",
)
@click.option("--wait", "wait_s", type=float, default=0.0, help="Wait this long for a reply.")
@click.option("--json", "as_json", is_flag=True, help="Print the inbound Message as JSON.")
@click.argument("body")
@_connection_options
def text(
    control: Control,
    from_: str,
    to: str,
    media_files: tuple[str, ...],
    wait_s: float,
    as_json: bool,
    body: str,
) -> None:
    """Text one of the account's numbers as a handset would: the app's webhook is called and
    its TwiML replies are sent (POST /textrelay/v1/Accounts/{AC}/Inbound)."""
    media = [_attachment(path) for path in media_files]
    sent = control.text(from_, to, body, media=media)
    if as_json:
        _print_json(sent)
    else:
        click.echo(f"{sent['sid']} {sent['status']}")
    if wait_s > 0:
        # One long poll, as long as the client's timeout allows (Control caps the wait).
        found = control.received(from_, after=sent["sid"], wait_s=wait_s)
        for reply in reversed(found):
            click.echo(f"reply {reply['sid']} from {reply['from']}: {reply['body']}")
        if not found:
            raise Failure(f"error: no reply within {wait_s:g} s")


def _attachment(path: str) -> tuple[str, bytes]:
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return content_type, Path(path).read_bytes()


# --- messages ------------------------------------------------------------------------------


@click.command()
@click.option("--to", help="Only messages to this address.")
@click.option("--from", "from_", help="Only messages from this address.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many."
)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep polling; print new messages and status changes."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="With --follow: seconds between polls.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    help="With --follow: stop after this many seconds (default 0: until Ctrl-C).",
)
@_connection_options
def messages(
    control: Control,
    to: str | None,
    from_: str | None,
    limit: int,
    follow: bool,
    interval: float,
    timeout: float,
) -> None:
    """List the account's recent messages, newest first.

    With --follow, the list is printed oldest first, like a log, and then one more line
    each time a message appears or changes status, until Ctrl-C or --timeout.
    """

    def newest(count: int) -> list[dict[str, Any]]:
        return control.messages(to=to, from_=from_, page_size=count)

    click.echo(_row("SID", "STATUS", "TO", "FROM", "DATE_CREATED", "ERROR", "BODY"))
    if not follow:
        for message in newest(limit):
            click.echo(_message_row(message))
        return
    seen: dict[str, tuple[str, object]] = {}

    def show_changes(found: list[dict[str, Any]]) -> None:
        for message in reversed(found):
            state = (message["status"], message.get("error_code"))
            if seen.get(message["sid"]) != state:
                seen[message["sid"]] = state
                click.echo(_message_row(message))

    show_changes(newest(limit))
    deadline = time.monotonic() + timeout if timeout else None
    try:
        while True:
            pause = interval
            if deadline is not None:
                pause = min(pause, deadline - time.monotonic())
                if pause <= 0:
                    return
            time.sleep(pause)
            show_changes(newest(max(limit, _FOLLOW_WINDOW)))
    except KeyboardInterrupt:
        return


def _message_row(message: dict[str, Any]) -> str:
    body = " ".join(str(message.get("body") or "").split())
    if len(body) > _BODY_WIDTH:
        body = body[: _BODY_WIDTH - 1] + "…"
    error = message.get("error_code")
    return _row(
        message["sid"],
        message["status"],
        message.get("to") or "",
        message.get("from") or "",
        _iso_date(message.get("date_created")),
        "-" if error is None else str(error),
        body,
    )


def _row(*cells: str) -> str:
    sid, status, to, from_, date, error, body = cells
    return f"{sid:<34}  {status:<11}  {to:<16}  {from_:<16}  {date:<20}  {error:<5}  {body}"


def _iso_date(rfc2822: str | None) -> str:
    """Twilio's `date_created` (RFC 2822) as a sortable UTC timestamp."""
    if not rfc2822:
        return "-"
    try:
        return parsedate_to_datetime(rfc2822).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return rfc2822


# --- carriers ------------------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@_connection_options
def carriers(control: Control, as_json: bool) -> None:
    """Show each carrier and bind of the running server: bound or not, submits in flight,
    throughput and the last error (the server's main account's credentials)."""
    found = control.carriers()
    if as_json:
        _print_json(found)
        return
    click.echo(f"{'CARRIER / BIND':<24}  {'STATE':<8}  {'IN FLIGHT':>9}  {'MSG/S':>6}  LAST ERROR")
    for carrier in found:
        counters = ", ".join(f"{k} {v}" for k, v in sorted(carrier["counters"].items()))
        state = "up" if carrier["up"] else "DOWN"
        click.echo(f"{carrier['name']:<24}  {state:<8}  {'':>9}  {'':>6}  {counters}")
        for bind in carrier["binds"]:
            bound = "bound" if bind["bound"] else "unbound"
            process = bind.get("process")
            name = bind["name"] if process is None else f"{bind['name']} (p{process})"
            click.echo(
                f"  {name:<22}  {bound:<8}  {bind['in_flight']:>9}  "
                f"{bind['throughput_per_s']:>6}  {bind['last_error'] or '-'}"
            )


# --- simulate ------------------------------------------------------------------------------


@click.group()
def simulate() -> None:
    """Drive the simulated carrier of a running server (control API, /textrelay/v1).

    The settings and rules are the server's, shared by every account: changing them changes
    what happens to everyone's messages.
    """


@simulate.command("show")
@_connection_options
def simulate_show(control: Control) -> None:
    """Print the simulator's settings and rules as JSON."""
    _print_json(control.simulator())


@simulate.command("mode")
@click.argument("mode", type=click.Choice(["immediate", "timed", "manual"]))
@_connection_options
def simulate_mode(control: Control, mode: str) -> None:
    """Set how messages progress: at once, after delays, or only by `simulate step`."""
    _print_json(control.configure_simulator(mode=mode))


@simulate.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@_connection_options
def simulate_set(control: Control, assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. `send_delay_ms=500 delivery_delay_ms=2000 jitter=0.1`.

    A VALUE that reads as JSON (a number, an object) is sent as that; any other as a string.
    """
    data = dict(_assignment(text) for text in assignments)
    _print_json(control.configure_simulator(**data))


def _assignment(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="KEY=VALUE")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


@simulate.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_connection_options
def simulate_load(control: Control, file: Path) -> None:
    """Replace every setting and rule with a TOML (.toml) or JSON file's (docs/simulator.md)."""
    try:
        data = read_simulator_file(file)
    except SettingsError as exc:
        raise Failure(f"error: {exc}") from None
    _print_json(control.replace_simulator(data))


@simulate.group("rule")
def simulate_rule() -> None:
    """Rules: messages matching To/From/Body conditions end with a chosen outcome."""


@simulate_rule.command("add")
@click.option("--outcome", required=True, type=click.Choice(["delivered", "undelivered", "failed"]))
@click.option(
    "--error-code",
    type=int,
    help=f"The error code of the outcome (default {UNKNOWN_ERROR.code}).",
)
@click.option("--to-prefix", help="To starts with this.")
@click.option("--to-regex", help="To matches this regular expression.")
@click.option("--from-prefix", help="From starts with this.")
@click.option("--from-regex", help="From matches this regular expression.")
@click.option("--body-prefix", help="Body starts with this.")
@click.option("--body-regex", help="Body matches this regular expression.")
@click.option("--delay-ms", type=int, help="Timed mode: the delivery delay of matches.")
@click.option("--probability", type=float, help="Chance in [0, 1] that a match applies.")
@click.option("--name", help="A name to recognise the rule by.")
@_connection_options
def simulate_rule_add(control: Control, **fields: Any) -> None:
    """Add a rule after the others (the first matching rule decides)."""
    rule = {name: value for name, value in fields.items() if value is not None}
    _print_json(control.add_rule(**rule))


@simulate_rule.command("clear")
@_connection_options
def simulate_rule_clear(control: Control) -> None:
    """Remove every rule."""
    _print_json(control.clear_rules())


@simulate.command("step")
@click.argument("sid")
@click.option(
    "--status",
    type=click.Choice(["sent", "delivered", "undelivered", "failed"]),
    help="Go straight to this status instead of the next planned one.",
)
@click.option("--error-code", type=click.IntRange(min=1), help="With --status: its error code.")
@_connection_options
def simulate_step(control: Control, sid: str, status: str | None, error_code: int | None) -> None:
    """Apply a message's next status now (manual mode), or the one given; print the result."""
    message = control.step(sid, status, error_code)
    error = message.get("error_code")
    click.echo(f"{message['sid']} {message['status']}" + (f" error {error}" if error else ""))


@simulate.command("reset")
@_connection_options
def simulate_reset(control: Control) -> None:
    """Delete every message of the account (and their jobs and records)."""
    deleted = control.reset()
    click.echo(f"deleted {deleted} message(s) of {control.account_sid}")
