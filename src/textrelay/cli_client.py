"""The client commands of `textrelay`: send, messages and simulate.

Each is a plain HTTP client of a running server, through the same API any app uses: the
Twilio paths (/2010-04-01/…) and textrelay's control API (/textrelay/v1, api/control.py). They
use httpx, a runtime dependency, rather than the optional `twilio` package, so they work on
a bare `pip install textrelay`. docs/cli.md describes them.
"""

from __future__ import annotations

import base64
import functools
import json
import mimetypes
import time
import tomllib
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import click
import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0
CONTROL = "/textrelay/v1"

_BODY_WIDTH = 40
_FOLLOW_WINDOW = 100
"""--follow watches at least this many of the newest messages on every poll."""


class Failure(click.ClickException):
    """One line on stderr and exit status 1: `error <code>: <message>` for the server's own
    errors, `error: …` for everything else (no server, no answer, not JSON)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=file is None, file=file)


class Api:
    """One textrelay server, as one account; every call returns the decoded JSON answer."""

    def __init__(self, url: str, account_sid: str, auth_token: str) -> None:
        self.url = url.rstrip("/")
        self.account_sid = account_sid
        self._http = httpx.Client(
            base_url=self.url, auth=(account_sid, auth_token), timeout=TIMEOUT_S
        )

    def close(self) -> None:
        self._http.close()

    def account_path(self, rest: str) -> str:
        return f"/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/{rest}"

    def control_account_path(self, rest: str) -> str:
        return f"{CONTROL}/Accounts/{quote(self.account_sid, safe='')}/{rest}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """`kwargs` go to httpx (data=, json=, params=)."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise Failure(f"error: cannot connect to textrelay at {self.url}: {exc}") from None
        except httpx.TimeoutException:
            raise Failure(
                f"error: textrelay at {self.url} did not answer within {TIMEOUT_S:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise Failure(f"error: {method} {self.url}{path}: {exc}") from None
        return _decoded(response)


def _decoded(response: httpx.Response) -> Any:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.is_success and (body is not None or not response.content):
        return body
    if isinstance(body, dict) and "code" in body and "message" in body:
        raise Failure(f"error {body['code']}: {body['message']}")
    raise Failure(
        f"error: {response.request.method} {response.request.url} answered "
        f"HTTP {response.status_code} without Twilio's JSON error"
    )


def _connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --account-sid and --auth-token; the command gets an `Api` as first argument."""

    @functools.wraps(command)
    def run(url: str, account_sid: str, auth_token: str, **kwargs: Any) -> Any:
        api = Api(url, account_sid, auth_token)
        try:
            return command(api, **kwargs)
        finally:
            api.close()

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
            envvar="TEXTRELAY_ACCOUNT_SID",
            required=True,
            show_envvar=True,
            help="The account to act as (AC…).",
        ),
        click.option(
            "--auth-token",
            envvar="TEXTRELAY_AUTH_TOKEN",
            required=True,
            show_envvar=True,
            help="That account's auth token.",
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
    api: Api,
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
    form: dict[str, str | list[str]] = {"To": to}
    optional = {
        "From": from_,
        "MessagingServiceSid": messaging_service_sid,
        "Body": body,
        "StatusCallback": status_callback,
    }
    form.update({name: value for name, value in optional.items() if value is not None})
    if media_url:
        form["MediaUrl"] = list(media_url)
    message = api.call("POST", api.account_path("Messages.json"), data=form)
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
    api: Api,
    from_: str,
    to: str,
    media_files: tuple[str, ...],
    wait_s: float,
    as_json: bool,
    body: str,
) -> None:
    """Text one of the account's numbers as a handset would: the app's webhook is called and
    its TwiML replies are sent (POST /textrelay/v1/Accounts/{AC}/Inbound)."""
    payload: dict[str, Any] = {"from": from_, "to": to, "body": body}
    if media_files:
        payload["media"] = [_attachment(path) for path in media_files]
    sent = api.call("POST", api.control_account_path("Inbound"), json=payload)["message"]
    if as_json:
        _print_json(sent)
    else:
        click.echo(f"{sent['sid']} {sent['status']}")
    if wait_s > 0:
        found = api.call(
            "GET",
            api.control_account_path(f"Phones/{quote(from_, safe='')}/Messages"),
            params={"After": sent["sid"], "Wait": f"{min(wait_s, TIMEOUT_S - 1):g}"},
        )["messages"]
        for reply in reversed(found):
            click.echo(f"reply {reply['sid']} from {reply['from']}: {reply['body']}")
        if not found:
            raise Failure(f"error: no reply within {wait_s:g} s")


def _attachment(path: str) -> dict[str, str]:
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    encoded = base64.b64encode(Path(path).read_bytes()).decode()
    return {"content_type": content_type, "content_base64": encoded}


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
    api: Api,
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
    filters = {name: value for name, value in (("To", to), ("From", from_)) if value}

    def newest(count: int) -> list[dict[str, Any]]:
        page = api.call(
            "GET", api.account_path("Messages.json"), params={**filters, "PageSize": count}
        )
        found: list[dict[str, Any]] = page["messages"]
        return found

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


# --- simulate ------------------------------------------------------------------------------


@click.group()
def simulate() -> None:
    """Drive the simulated carrier of a running server (control API, /textrelay/v1).

    The settings and rules are the server's, shared by every account: changing them changes
    what happens to everyone's messages.
    """


@simulate.command("show")
@_connection_options
def simulate_show(api: Api) -> None:
    """Print the simulator's settings and rules as JSON."""
    _print_json(api.call("GET", f"{CONTROL}/Simulator"))


@simulate.command("mode")
@click.argument("mode", type=click.Choice(["immediate", "timed", "manual"]))
@_connection_options
def simulate_mode(api: Api, mode: str) -> None:
    """Set how messages progress: at once, after delays, or only by `simulate step`."""
    _print_json(api.call("POST", f"{CONTROL}/Simulator", json={"mode": mode}))


@simulate.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@_connection_options
def simulate_set(api: Api, assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. `send_delay_ms=500 delivery_delay_ms=2000 jitter=0.1`.

    A VALUE that reads as JSON (a number, an object) is sent as that; any other as a string.
    """
    data = dict(_assignment(text) for text in assignments)
    _print_json(api.call("POST", f"{CONTROL}/Simulator", json=data))


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
def simulate_load(api: Api, file: Path) -> None:
    """Replace every setting and rule with a TOML (.toml) or JSON file's (docs/simulator.md)."""
    try:
        text = file.read_text()
        data: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise Failure(f"error: {file}: {exc}") from None
    if not isinstance(data, dict):
        raise Failure(f"error: {file}: expected a table of settings")
    _print_json(api.call("PUT", f"{CONTROL}/Simulator", json=data))


@simulate.group("rule")
def simulate_rule() -> None:
    """Rules: messages matching To/From/Body conditions end with a chosen outcome."""


@simulate_rule.command("add")
@click.option("--outcome", required=True, type=click.Choice(["delivered", "undelivered", "failed"]))
@click.option("--error-code", type=int, help="The error code of the outcome (default 30008).")
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
def simulate_rule_add(api: Api, **fields: Any) -> None:
    """Add a rule after the others (the first matching rule decides)."""
    rule = {name: value for name, value in fields.items() if value is not None}
    _print_json(api.call("POST", f"{CONTROL}/Simulator/Rules", json=rule))


@simulate_rule.command("clear")
@_connection_options
def simulate_rule_clear(api: Api) -> None:
    """Remove every rule."""
    _print_json(api.call("DELETE", f"{CONTROL}/Simulator/Rules"))


@simulate.command("step")
@click.argument("sid")
@click.option(
    "--status",
    type=click.Choice(["sent", "delivered", "undelivered", "failed"]),
    help="Go straight to this status instead of the next planned one.",
)
@click.option("--error-code", type=click.IntRange(min=1), help="With --status: its error code.")
@_connection_options
def simulate_step(api: Api, sid: str, status: str | None, error_code: int | None) -> None:
    """Apply a message's next status now (manual mode), or the one given; print the result."""
    given = {"status": status, "error_code": error_code}
    path = api.control_account_path(f"Messages/{quote(sid, safe='')}/Step")
    result = api.call("POST", path, json={k: v for k, v in given.items() if v is not None})
    message = result["message"]
    error = message.get("error_code")
    click.echo(f"{message['sid']} {message['status']}" + (f" error {error}" if error else ""))


@simulate.command("reset")
@_connection_options
def simulate_reset(api: Api) -> None:
    """Delete every message of the account (and their jobs and records)."""
    result = api.call("POST", api.control_account_path("Reset"))
    click.echo(f"deleted {result['deleted_messages']} message(s) of {result['account_sid']}")
