"""A real HTTP webhook receiver on 127.0.0.1 for tests: records every request it gets.

Behaviour per path: `/ok` (and anything unlisted) answers 200; `/status/NNN` answers NNN;
`/slow/MS` waits MS milliseconds first; `/flaky/N` answers 500 to the first N requests, then
200; `/flaky-delivered/N` the same, counting only `delivered` callbacks (others get 200). The
server runs in a thread (one thread a request), so a slow path never blocks others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

from tests.waiting import eventually

_WAIT_STEP_S = 0.02


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float

    def valid_for(self, auth_token: str) -> bool:
        """True if Twilio's own RequestValidator accepts the request's signature."""
        signature = self.headers.get("X-Twilio-Signature", "")
        return bool(RequestValidator(auth_token).validate(self.url, self.params, signature))


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._flaky_counts: dict[str, int] = {}
        self._scripted: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/ok") -> str:
        return self.base_url + path

    def answer(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/xml",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Answer requests to `path` with this body; the full URL of `path`."""
        data = body.encode() if isinstance(body, str) else body
        self._scripted[path] = (status, content_type, data, headers or {})
        return self.url(path)

    def to_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    def for_message(self, sid: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.params.get("MessageSid") == sid]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 10.0
    ) -> list[Received]:
        """Wait until `predicate(requests)` holds; the requests then (AssertionError on timeout)."""

        def snapshot() -> list[Received]:
            with self._lock:
                return list(self.requests)

        return eventually(
            snapshot,
            until=predicate,
            timeout_s=timeout_s,
            interval_s=_WAIT_STEP_S,
            what="receiver: condition not met",
        )

    def statuses(self, sid: str, timeout_s: float = 10.0, *, count: int) -> list[str]:
        """The MessageStatus of the first `count` callbacks for `sid`, in arrival order."""
        self.wait_for(
            lambda rs: sum(r.params.get("MessageSid") == sid for r in rs) >= count, timeout_s
        )
        return [r.params["MessageStatus"] for r in self.for_message(sid)][:count]

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        host = handler.headers.get("Host", "")
        received = Received(
            method=handler.command,
            path=handler.path,
            url=f"http://{host}{handler.path}",
            params=dict(parse_qsl(body.decode(), keep_blank_values=True)),
            headers={k: v for k, v in handler.headers.items()},
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(received)

    def _answer(self, path: str, body: bytes) -> tuple[int, float]:
        """(status, delay_s) for a request to `path` with `body`."""
        parts = urlsplit(path).path.strip("/").split("/")
        if len(parts) == 2 and parts[1].isdigit():
            kind, number = parts[0], int(parts[1])
            if kind == "status":
                return number, 0.0
            if kind == "slow":
                return 200, number / 1000
            if kind == "flaky-delivered" and b"MessageStatus=delivered" not in body:
                return 200, 0.0
            if kind in ("flaky", "flaky-delivered"):
                with self._lock:
                    seen = self._flaky_counts.get(path, 0)
                    self._flaky_counts[path] = seen + 1
                return (500 if seen < number else 200), 0.0
        return 200, 0.0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(length))

            def do_GET(self) -> None:
                self._serve(b"")

            def _serve(self, body: bytes) -> None:
                status, delay_s = receiver._answer(self.path, body)
                content_type, payload = "text/xml", b"<Response/>"
                extra: dict[str, str] = {}
                scripted = receiver._scripted.get(urlsplit(self.path).path)
                if scripted is not None:
                    status, content_type, payload, extra = scripted
                if delay_s:
                    time.sleep(delay_s)
                receiver._record(self, body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (a timeout under test)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
