"""A client of textrelay's control API (/textrelay/v1): read back what a phone received, step
messages, read their history and callbacks, change the simulator, reset an account.

    control = Control("http://127.0.0.1:8080", account_sid, auth_token)
    otp = control.wait_for_message("+14155550100", match=r"\\d{6}")["body"]

docs/control-api.md describes the HTTP calls underneath.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote

import httpx

_PREFIX = "/textrelay/v1"
_FINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled", "received"})
_POLL_S = 0.05


class ControlError(Exception):
    """The control API refused a call; `code` and `status` are Twilio-shaped."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Control:
    def __init__(
        self, base_url: str, account_sid: str, auth_token: str, *, timeout_s: float = 40.0
    ) -> None:
        self.account_sid = account_sid
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), auth=(account_sid, auth_token), timeout=timeout_s
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
        """Messages sent to `phone_number` that match, newest first (Message JSON)."""
        params: dict[str, str] = {}
        if contains is not None:
            params["Contains"] = contains
        if match is not None:
            params["Match"] = match
        if after is not None:
            params["After"] = after
        if wait_s:
            params["Wait"] = f"{min(wait_s, 30.0):g}"
        data = self._call("GET", f"{self._account}/Phones/{quote(phone_number)}/Messages", params)
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
                wait_s=max(min(remaining, 30.0), 0.0),
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
            "GET", f"{self._account}/Conversations/{quote(one)}/{quote(other)}"
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

    # --- messages ----------------------------------------------------------------------

    def step(
        self, message_sid: str, status: str | None = None, error_code: int | None = None
    ) -> dict[str, Any]:
        """Advance a message to its next planned status, or to `status` (manual mode)."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if error_code is not None:
            body["error_code"] = error_code
        data: dict[str, Any] = self._call(
            "POST", f"{self._account}/Messages/{message_sid}/Step", json=body
        )
        message: dict[str, Any] = data["message"]
        return message

    def read(self, message_sid: str) -> dict[str, Any]:
        """The handset reads a delivered WhatsApp message (`read`, with its callback)."""
        data: dict[str, Any] = self._call("POST", f"{self._account}/Messages/{message_sid}/Read")
        message: dict[str, Any] = data["message"]
        return message

    def events(self, message_sid: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._call(
            "GET", f"{self._account}/Messages/{message_sid}/Events"
        )["events"]
        return events

    def callbacks(self, message_sid: str) -> list[dict[str, Any]]:
        callbacks: list[dict[str, Any]] = self._call(
            "GET", f"{self._account}/Messages/{message_sid}/Callbacks"
        )["callbacks"]
        return callbacks

    def wait_until_final(self, message_sid: str, timeout_s: float = 10.0) -> str:
        """The message's final status, once it has one."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = str(
                self._call("GET", f"{self._account}/Messages/{message_sid}/Events")["status"]
            )
            if status in _FINAL:
                return status
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{message_sid} still {status} after {timeout_s} s")
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
        """Move the server's "now" forward (server-wide): scheduled messages come due."""
        now: str = self._call("POST", f"{_PREFIX}/Clock", json={"advance_s": seconds})["now"]
        return now

    # --- simulator (server-wide) ---------------------------------------------------------

    def simulator(self) -> dict[str, Any]:
        config: dict[str, Any] = self._call("GET", f"{_PREFIX}/Simulator")
        return config

    def configure_simulator(self, **settings: Any) -> dict[str, Any]:
        """Change the named settings: mode, send_delay_ms, delivery_delay_ms, jitter, rules…"""
        config: dict[str, Any] = self._call("POST", f"{_PREFIX}/Simulator", json=settings)
        return config

    def add_rule(self, **rule: Any) -> dict[str, Any]:
        config: dict[str, Any] = self._call("POST", f"{_PREFIX}/Simulator/Rules", json=rule)
        return config

    def clear_rules(self) -> None:
        self._call("DELETE", f"{_PREFIX}/Simulator/Rules")

    # --- plumbing --------------------------------------------------------------------------

    @property
    def _account(self) -> str:
        return f"{_PREFIX}/Accounts/{self.account_sid}"

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        json: dict[str, Any] | None = None,
    ) -> Any:
        response = self._http.request(method, path, params=params, json=json)
        data = response.json() if response.content else {}
        if response.status_code >= 400:
            raise ControlError(
                response.status_code, data.get("code"), str(data.get("message", response.text))
            )
        return data
