"""A client of a running textrelay server, as one account: textrelay's control API
(/textrelay/v1) — read back what a phone received, text as a handset, step messages, read
their history and callbacks, change the simulator, reset the account — and the two Twilio
calls the `textrelay` command needs (send a message, list messages).

    control = Control("http://127.0.0.1:8080", account_sid, auth_token)
    otp = control.wait_for_message("+14155550100", match=r"\\d{6}")["body"]

It uses httpx, a runtime dependency, rather than the optional `twilio` package, so it works on
a bare `pip install textrelay`; apps use the official client for the Twilio API. Every
failure is one of two exceptions: ControlError (the server answered with an error, or with
something that is not its JSON) and ControlUnavailable (no answer). docs/control-api.md
describes the HTTP calls underneath.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

_PREFIX = "/textrelay/v1"
_TWILIO = "/2010-04-01"
_MAGIC_SENDER = "+15005550006"
"""Twilio's magic sender (test credentials): accepted everywhere, never past `queued`."""
_FINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled", "received"})
_POLL_S = 0.05
_MAX_WAIT_S = 30.0
"""The longest `Wait` the read-back call accepts (docs/control-api.md)."""
_WAIT_MARGIN_S = 1.0
"""A long poll asks the server to wait this much less than the client's timeout, so that the
server's empty answer arrives before the client gives up."""


class ControlError(Exception):
    """The server refused a call: `status`, and Twilio's `code` and `message`. `code` is None
    when the answer was not Twilio's JSON (then `message` says what came back)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ControlUnavailable(Exception):
    """The server gave no answer: nothing listens at the URL, it did not answer in time, or
    the exchange broke off. The message says which; the httpx exception is the cause."""


class Control:
    def __init__(
        self, base_url: str, account_sid: str, auth_token: str, *, timeout_s: float = 40.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=self.base_url, auth=(account_sid, auth_token), timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Control:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- read-back -------------------------------------------------------------------------

    def received(
        self,
        phone_number: str,
        *,
        contains: str | None = None,
        match: str | None = None,
        after: str | None = None,
        wait_s: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Messages sent to `phone_number` that match, newest first (Message JSON). With
        `wait_s`, the server waits that long (at most 30 s, and less than this client's
        timeout) for at least one."""
        params: dict[str, str] = {}
        if contains is not None:
            params["Contains"] = contains
        if match is not None:
            params["Match"] = match
        if after is not None:
            params["After"] = after
        if wait_s:
            params["Wait"] = f"{min(wait_s, self._longest_wait_s):g}"
        data = self._call(
            "GET", f"{self._account}/Phones/{_segment(phone_number)}/Messages", params
        )
        messages: list[dict[str, Any]] = data["messages"]
        return messages

    def wait_for_message(
        self,
        phone_number: str,
        *,
        contains: str | None = None,
        match: str | None = None,
        after: str | None = None,
        timeout_s: float = 10.0,
    ) -> dict[str, Any]:
        """The newest matching message sent to `phone_number`, waiting up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            found = self.received(
                phone_number,
                contains=contains,
                match=match,
                after=after,
                wait_s=max(min(remaining, self._longest_wait_s), 0.0),
            )
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no matching message to {phone_number} in {timeout_s} s")

    # --- a handset texts back --------------------------------------------------------------

    def text(
        self,
        from_: str,
        to: str,
        body: str,
        *,
        media: list[tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        """A handset (`from_`) sends `body` (and `media`: content type and bytes of each
        attachment) to one of the account's numbers (`to`): the inbound Message JSON. The
        app's webhook is called, and its TwiML replies sent."""
        payload: dict[str, Any] = {"from": from_, "to": to, "body": body}
        if media:
            payload["media"] = [
                {"content_type": ct, "content_base64": base64.b64encode(content).decode()}
                for ct, content in media
            ]
        data: dict[str, Any] = self._call("POST", f"{self._account}/Inbound", json=payload)
        message: dict[str, Any] = data["message"]
        return message

    def conversation(self, one: str, other: str) -> list[dict[str, Any]]:
        """Every message between two addresses, either way, oldest first."""
        messages: list[dict[str, Any]] = self._call(
            "GET", f"{self._account}/Conversations/{_segment(one)}/{_segment(other)}"
        )["messages"]
        return messages

    def text_and_wait_for_reply(
        self, from_: str, to: str, body: str, *, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        """Text `to` as the handset `from_` and wait for the app's first reply to it."""
        sent = self.text(from_, to, body)
        return self.wait_for_message(from_, after=sent["sid"], timeout_s=timeout_s)

    def opt_outs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", f"{self._account}/OptOuts")["opt_outs"]
        return found

    # --- messages (Twilio's API) -------------------------------------------------------------

    def send(
        self,
        to: str,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        body: str | None = None,
        status_callback: str | None = None,
        media_urls: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Create a message as an app does (POST …/Messages.json): the Message JSON. The
        server checks the parameters as Twilio does (a sender, and a body or media)."""
        given = {
            "From": from_,
            "MessagingServiceSid": messaging_service_sid,
            "Body": body,
            "StatusCallback": status_callback,
        }
        form: dict[str, str | list[str]] = {"To": to}
        form.update({name: value for name, value in given.items() if value is not None})
        if media_urls:
            form["MediaUrl"] = list(media_urls)
        message: dict[str, Any] = self._call("POST", self._twilio("Messages.json"), data=form)
        return message

    def messages(
        self, *, to: str | None = None, from_: str | None = None, page_size: int = 50
    ) -> list[dict[str, Any]]:
        """The account's newest `page_size` messages, newest first, to and from the addresses
        given (Twilio's Messages list, its first page)."""
        params = {name: value for name, value in (("To", to), ("From", from_)) if value}
        params["PageSize"] = str(page_size)
        found: list[dict[str, Any]] = self._call("GET", self._twilio("Messages.json"), params)[
            "messages"
        ]
        return found

    # --- messages (control) ----------------------------------------------------------------

    def step(
        self, message_sid: str, status: str | None = None, error_code: int | None = None
    ) -> dict[str, Any]:
        """Advance a message to its next planned status, or to `status` (manual mode)."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if error_code is not None:
            body["error_code"] = error_code
        data: dict[str, Any] = self._call("POST", f"{self._message(message_sid)}/Step", json=body)
        message: dict[str, Any] = data["message"]
        return message

    def read(self, message_sid: str) -> dict[str, Any]:
        """The handset reads a delivered WhatsApp message (`read`, with its callback)."""
        data: dict[str, Any] = self._call("POST", f"{self._message(message_sid)}/Read")
        message: dict[str, Any] = data["message"]
        return message

    def events(self, message_sid: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._call("GET", f"{self._message(message_sid)}/Events")[
            "events"
        ]
        return events

    def callbacks(self, message_sid: str) -> list[dict[str, Any]]:
        callbacks: list[dict[str, Any]] = self._call(
            "GET", f"{self._message(message_sid)}/Callbacks"
        )["callbacks"]
        return callbacks

    def wait_until_final(self, message_sid: str, timeout_s: float = 10.0) -> str:
        """The message's final status, once it has one."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = str(self._call("GET", f"{self._message(message_sid)}/Events")["status"])
            if status in _FINAL:
                return status
            if time.monotonic() >= deadline:
                why = self._why_not_final(message_sid, status)
                raise TimeoutError(f"{message_sid} still {status} after {timeout_s} s{why}")
            time.sleep(_POLL_S)

    def _why_not_final(self, message_sid: str, status: str) -> str:
        """What keeps a message from its final status, when textrelay can tell: ``: reason``,
        or nothing."""
        if status == "queued":
            sender = self._call("GET", self._twilio(f"Messages/{_segment(message_sid)}.json"))
            if sender.get("from") == _MAGIC_SENDER:
                return (
                    f": {_MAGIC_SENDER} is Twilio's magic sender, whose messages stay queued (as"
                    " with Twilio's test credentials); send from a number of the account to see"
                    " one delivered"
                )
        if any(job["parked"] for job in self.pending_jobs(message_sid)):
            return ": its next status waits for a step (the simulator is in manual mode)"
        return ""

    def pending_jobs(self, message_sid: str | None = None) -> list[dict[str, Any]]:
        """Jobs not yet done for the message, or for every message of the account: each
        `{"message_sid", "kind", "parked"}` (kind: dispatch, carrier, callback, inbound,
        auto_reply), oldest first. `parked`: a carrier report waiting for a step (manual
        mode), which does not run by itself."""
        path = f"{self._message(message_sid)}/Jobs" if message_sid else f"{self._account}/Jobs"
        jobs: list[dict[str, Any]] = self._call("GET", path)["jobs"]
        return jobs

    def wait_idle(self, message_sid: str | None = None, *, timeout_s: float = 10.0) -> None:
        """Wait until nothing more will happen by itself for the message (or the account): no
        job pending but those parked for a step, so every status change, callback and webhook
        it was promised has run. TimeoutError naming the jobs left."""
        deadline = time.monotonic() + timeout_s
        while True:
            jobs = [job for job in self.pending_jobs(message_sid) if not job["parked"]]
            if not jobs:
                return
            if time.monotonic() >= deadline:
                left = ", ".join(f"{job['kind']} of {job['message_sid']}" for job in jobs)
                raise TimeoutError(f"still pending after {timeout_s} s: {left}")
            time.sleep(_POLL_S)

    def reset(self) -> int:
        """Delete every message of the account; how many there were."""
        return int(self._call("POST", f"{self._account}/Reset")["deleted_messages"])

    def provision_short_code(
        self, short_code: str, *, friendly_name: str | None = None, country_code: str = "US"
    ) -> dict[str, Any]:
        """Give the account a short code (Twilio does it out of band): the ShortCode JSON."""
        body: dict[str, Any] = {"short_code": short_code, "country_code": country_code}
        if friendly_name is not None:
            body["friendly_name"] = friendly_name
        code: dict[str, Any] = self._call("POST", f"{self._account}/ShortCodes", json=body)
        return code

    def advance_clock(self, seconds: float) -> str:
        """Move the server's "now" forward (server-wide): scheduled messages come due. Only
        the server's main account may (ControlError 403/20403 for any other)."""
        now: str = self._call("POST", f"{_PREFIX}/Clock", json={"advance_s": seconds})["now"]
        return now

    def carriers(self) -> list[dict[str, Any]]:
        """Every carrier and bind of the server (server-wide: the main account only)."""
        found: list[dict[str, Any]] = self._call("GET", f"{_PREFIX}/Carriers")["carriers"]
        return found

    def carrier_record(self, message_sid: str) -> dict[str, Any]:
        """Which carrier took the message, its references and receipts, and the PDUs (or
        HTTP exchanges) behind them."""
        record: dict[str, Any] = self._call("GET", f"{self._message(message_sid)}/Carrier")
        return record

    # --- simulator: this account's settings (its own, else those it inherits; the main
    # account's are the server-wide default); each call answers with the settings it leaves

    def simulator(self) -> dict[str, Any]:
        config: dict[str, Any] = self._call("GET", f"{_PREFIX}/Simulator")
        return config

    def configure_simulator(self, /, **settings: Any) -> dict[str, Any]:
        """Change the named settings: mode, send_delay_ms, delivery_delay_ms, jitter, rules…"""
        config: dict[str, Any] = self._call("POST", f"{_PREFIX}/Simulator", json=settings)
        return config

    def replace_simulator(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Replace every setting and rule with `settings` (what it leaves out takes its
        default), e.g. a file's (textrelay.settings.read_simulator_file)."""
        config: dict[str, Any] = self._call("PUT", f"{_PREFIX}/Simulator", json=dict(settings))
        return config

    def add_rule(self, /, **rule: Any) -> dict[str, Any]:
        config: dict[str, Any] = self._call("POST", f"{_PREFIX}/Simulator/Rules", json=rule)
        return config

    def clear_rules(self) -> dict[str, Any]:
        config: dict[str, Any] = self._call("DELETE", f"{_PREFIX}/Simulator/Rules")
        return config

    # --- plumbing --------------------------------------------------------------------------

    @property
    def _account(self) -> str:
        return f"{_PREFIX}/Accounts/{_segment(self.account_sid)}"

    def _message(self, message_sid: str) -> str:
        return f"{self._account}/Messages/{_segment(message_sid)}"

    def _twilio(self, rest: str) -> str:
        return f"{_TWILIO}/Accounts/{_segment(self.account_sid)}/{rest}"

    @property
    def _longest_wait_s(self) -> float:
        return max(min(_MAX_WAIT_S, self.timeout_s - _WAIT_MARGIN_S), 0.0)

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
    ) -> Any:
        """The decoded JSON answer ({} when empty); ControlError or ControlUnavailable."""
        try:
            response = self._http.request(method, path, params=params, json=json, data=data)
        except httpx.ConnectError as exc:
            raise ControlUnavailable(
                f"cannot connect to textrelay at {self.base_url}: {exc}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ControlUnavailable(
                f"textrelay at {self.base_url} did not answer within {self.timeout_s:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ControlUnavailable(f"{method} {self.base_url}{path}: {exc}") from exc
        return _answer(response)


def _answer(response: httpx.Response) -> Any:
    """The JSON of a success; ControlError with Twilio's code for the server's own errors,
    and without one for anything else (not JSON, not Twilio's error shape)."""
    if not response.content:
        if response.is_success:
            return {}
        body: Any = None
    else:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
    if isinstance(body, dict) and "code" in body and "message" in body:
        raise ControlError(response.status_code, body["code"], str(body["message"]))
    raise ControlError(
        response.status_code,
        None,
        f"{response.request.method} {response.request.url} answered "
        f"HTTP {response.status_code} without Twilio's JSON error",
    )


def _segment(text: str) -> str:
    """`text` as one path segment: every reserved character escaped, '/' and ':' too."""
    return quote(text, safe="")
