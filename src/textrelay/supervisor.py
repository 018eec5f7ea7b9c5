"""`serve` on several cores: one supervising process and N serving processes it forks.

Each serving process is a whole textrelay (API on the shared listening sockets, its own job
runner) on the one database; the kernel hands each new connection to one of them. The
supervisor only forks, watches and stops them:

- a serving process that dies is forked again after RESTART_DELAY_S, unless it died within
  STARTUP_S of its start (a failed start: a second one would fail the same way), which stops
  the others and ends `serve` with an error;
- SIGTERM or SIGINT to the supervisor is passed on to every serving process as SIGTERM
  (each stops gracefully, as a lone `serve` does), and `serve` ends when all have;
- a serving process is killed by the kernel when the supervisor dies (PR_SET_PDEATHSIG,
  Linux), so killing `serve` with SIGKILL kills all of it, as it would one process: no
  orphan keeps serving on the port.

Forking happens before any event loop or database connection exists in the supervisor
(the caller prepares the database in a loop it has closed), so a serving process starts clean.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

STARTUP_S = 10.0
RESTART_DELAY_S = 1.0
_PR_SET_PDEATHSIG = 1


class FailedStart(Exception):
    """A serving process ended within STARTUP_S of its start."""


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the supervisor died before the line above: go too
        os._exit(1)


def _fork(index: int, serve_one: Callable[[int], None]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        _die_with_parent()
        serve_one(index)
        code = 0
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        log.exception("serving process %d failed", index)
    finally:
        os._exit(code)


def supervise(count: int, serve_one: Callable[[int], None]) -> None:
    """Run `serve_one(index)` in `count` forked processes until a stop signal, restarting one
    that dies after its start; FailedStart when one dies during it."""
    running: dict[int, tuple[int, float]] = {}  # pid: (index, started at)
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    failed: int | None = None
    try:
        for index in range(count):
            running[_fork(index, serve_one)] = (index, time.monotonic())
        while running:
            pid, status = os.wait()  # retried across the signal handler (PEP 475)
            if pid not in running:
                continue
            index, started = running.pop(pid)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if time.monotonic() - started < STARTUP_S:
                failed = index
                stop(signal.SIGTERM, None)
                continue
            log.error("serving process %d (pid %d) ended (%d): starting another", index, pid, code)
            time.sleep(RESTART_DELAY_S)
            if not stopping:
                running[_fork(index, serve_one)] = (index, time.monotonic())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failed is not None:
        raise FailedStart(f"serving process {failed} ended as it started (its log says why)")
