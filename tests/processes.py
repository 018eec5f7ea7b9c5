"""`textrelay serve` as a real child process, for tests that kill it or run several."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests.waiting import eventually

ACCOUNT_SID = "AC" + "c0" * 16
AUTH_TOKEN = "7e" * 16
_START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now (for a server to take, or a carrier to
    find closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def carriers_without_smsc(directory: Path, name: str = "smsc1") -> Path:
    """A carriers file routing every message to an SMPP carrier on a port where nothing
    listens: its bind never comes up, as in a carrier outage."""
    path = directory / "carriers.toml"
    path.write_text(
        f'[[carrier]]\nname = "{name}"\ntype = "smpp"\nhost = "127.0.0.1"\n'
        f'port = {free_port()}\nsystem_id = "textrelay"\npassword = "secret"\n'
        f'reconnect_min_s = 0.2\nreconnect_max_s = 1\n\n[[route]]\ncarrier = "{name}"\n'
    )
    return path


_STARTED = " listening on "
_WORKING = "textrelay worker: processing jobs"


class ServerProcess:
    """`textrelay serve` (or `command`, e.g. `worker`) in a process of its own, started once
    its banner says it serves."""

    def __init__(
        self, database_url: str, *, log_path: Path, command: str = "serve", **settings: str
    ) -> None:
        self.env = {
            **os.environ,
            "TEXTRELAY_DATABASE_URL": database_url,
            "TEXTRELAY_ACCOUNT_SID": ACCOUNT_SID,
            "TEXTRELAY_AUTH_TOKEN": AUTH_TOKEN,
            "TEXTRELAY_PORT": "0",
            "TEXTRELAY_LOG_LEVEL": "warning",
            **{f"TEXTRELAY_{name.upper()}": value for name, value in settings.items()},
        }
        self._log_path = log_path
        self._command = command
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.base_url = ""

    def start(self) -> ServerProcess:
        self._log = self._log_path.open("a")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "textrelay", self._command],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self._process.stdout is not None
        try:
            # Until the banner line, or the end of the output (the process died).
            line = eventually(
                self._process.stdout.readline,
                until=lambda line: not line or _STARTED in line or _WORKING in line,
                timeout_s=_START_TIMEOUT_S,
                interval_s=0,
                what="the 'listening on' line",
            )
        except AssertionError:
            line = ""
        if _STARTED in line:
            self.base_url = line.rsplit(" ", 1)[-1].strip()
            return self
        if _WORKING in line:
            return self
        self.kill()
        raise RuntimeError(f"textrelay did not start; see {self._log_path}")

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, as in a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._close_pipes()

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; the exit status
        (negative: the signal that ended it), None if it never started."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_pipes()
        return None if self._process is None else self._process.returncode

    def _close_pipes(self) -> None:
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        if self._log is not None:
            self._log.close()
