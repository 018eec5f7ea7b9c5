"""textrelay inside a test process: a real server on 127.0.0.1, on a free port, in a thread.

    with TextrelayServer(Settings(database_url="sqlite:///:memory:")) as server:
        client = server.client()
        client.messages.create(to="+14155550100", from_="+15005550006", body="hi")

`call` runs a coroutine on the server's own event loop, for setting up state the public API
cannot reach (another top-level account, a message in a given status).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import uvicorn

from textrelay.app import Runtime, listening_socket, serve_in_background, system_clock
from textrelay.client import client as make_client
from textrelay.control import Control
from textrelay.domain.accounts import Account
from textrelay.services.context import Clock
from textrelay.settings import Settings

if TYPE_CHECKING:
    from twilio.rest import Client

T = TypeVar("T")

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


class TextrelayServer:
    def __init__(self, settings: Settings | None = None, *, clock: Clock = system_clock) -> None:
        # Always served on 127.0.0.1; `host` stays as given, since it decides things such as
        # whether the console asks for a login (a test of that passes host="0.0.0.0").
        self.settings = replace(settings or Settings(), port=0)
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._error: BaseException | None = None
        self.runtime: Runtime | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> TextrelayServer:
        self._thread = threading.Thread(target=self._run, name="textrelay-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise TimeoutError("textrelay did not start in time")
        if self._error is not None:
            raise RuntimeError("textrelay failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)

    def __enter__(self) -> TextrelayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() instead of lost in the thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        runtime = await Runtime.start(self.settings, clock=self._clock)
        self.runtime = runtime
        try:
            sock = listening_socket("127.0.0.1", 0)
            self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            self._server = runtime.http_server("warning")
            # Bounded by start()'s timeout.
            serving = await serve_in_background(self._server, sock)
            self._ready.set()
            await serving
        finally:
            await runtime.close()

    # --- helpers ---------------------------------------------------------------------------

    @property
    def main_account(self) -> Account:
        assert self.runtime is not None, "server not started"
        return self.runtime.main_account

    @property
    def console_url(self) -> str:
        """The console's link as `serve` prints it: on loopback it carries this start's token,
        so opening it signs a browser (or an httpx client keeping cookies) in as the main
        account."""
        assert self.runtime is not None, "server not started"
        return self.runtime.console_url(self.base_url)

    def call(self, make: Callable[[Runtime], Awaitable[T]], timeout_s: float = 30.0) -> T:
        """Run `make(runtime)` on the server's loop and return its result."""
        assert self._loop is not None, "server not started"
        assert self.runtime is not None, "server not started"
        runtime = self.runtime

        async def run() -> T:
            return await make(runtime)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def new_account(self, friendly_name: str = "test account") -> Account:
        """A fresh top-level account: each test's data stays apart from the others'."""
        return self.call(lambda rt: rt.services.accounts.create_main_account(friendly_name))

    def client(
        self,
        account: Account | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Client:
        account = account or self.main_account
        return make_client(
            self.base_url,
            account.sid,
            password or account.auth_token,
            username=username,
            **kwargs,
        )

    def control(self, account: Account | None = None) -> Control:
        """A client of the control API (read-back, step, simulator) acting as `account`; the
        main account's is the one that changes the server-wide simulator settings and moves
        the clock."""
        account = account or self.main_account
        return Control(self.base_url, account.sid, account.auth_token)
