"""`serve` on several cores: one supervising process and N serving processes it forks.

Each serving process is a whole textrelay (API on a listening socket of its own, one of a
SO_REUSEPORT group on the port, its own job runner) on the one database; the kernel hands
each new connection to one of them. The supervisor only forks, watches and stops them:

- a serving process that dies is forked again after RESTART_DELAY_S, unless it died before
  it said it had started (a failed start: a second one would fail the same way), which
  stops the others and ends `serve` with an error;
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
_PR_SET_PDEATHSIG = 1


class FailedStart(Exception):
    """A serving process ended before it said it had started."""


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The supervisor died before the line above: go too. (An orphan's new parent is init or
    # a subreaper, such as a container's: not always pid 1.)
    if os.getppid() != parent:
        os._exit(1)


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass
class _Child:
    index: int
    started_pipe: int
    """The read end of the pipe the child writes a byte to once it has started."""

    def has_started(self) -> bool:
        try:
            return os.read(self.started_pipe, 1) == b"s"
        except BlockingIOError:
            return False
        finally:
            os.close(self.started_pipe)


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Stop signals wait until the block ends: around a fork, so that the supervisor's
    handler never runs in a child (it would stop the child's siblings) and never runs before
    the new child is in the list of those it stops (that child would serve on, and `serve`
    would wait for it for ever)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _fork(index: int, serve_one: Callable[[int, Callable[[], None]], None]) -> tuple[int, _Child]:
    """Fork a serving process; called with the stop signals held (_stop_signals_held)."""
    read_end, write_end = os.pipe()
    supervisor = os.getpid()
    pid = os.fork()
    if pid:
        os.close(write_end)
        os.set_blocking(read_end, False)
        return pid, _Child(index, read_end)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until uvicorn's handlers take over
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    os.close(read_end)

    def started() -> None:
        os.write(write_end, b"s")
        os.close(write_end)

    code = 1
    try:
        _die_with_parent(supervisor)
        serve_one(index, started)
        code = 0
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        log.exception("serving process %d failed", index)
    finally:
        os._exit(code)


def supervise(count: int, serve_one: Callable[[int, Callable[[], None]], None]) -> None:
    """Run `serve_one(index, started)` in `count` forked processes until a stop signal; each
    calls `started()` once it serves. One that dies after that is replaced; FailedStart when
    one dies before."""
    running: dict[int, _Child] = {}  # by pid
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def start(index: int) -> None:
        # Forked and listed under one hold of the stop signals: a stop that comes meanwhile
        # is handled once the child is listed, so it reaches that child too.
        with _stop_signals_held():
            if not stopping:
                pid, child = _fork(index, serve_one)
                running[pid] = child

    previous = {s: signal.signal(s, stop) for s in _STOP_SIGNALS}
    failed: int | None = None
    try:
        for index in range(count):
            start(index)  # none once a stop signal came while the first ones were forked
        while running:
            pid, status = os.wait()  # retried across the signal handler (PEP 475)
            if pid not in running:
                continue
            child = running.pop(pid)
            started = child.has_started()
            if stopping:
                continue
            if not started:
                failed = child.index
                stop(signal.SIGTERM, None)
                continue
            code = os.waitstatus_to_exitcode(status)
            log.error(
                "serving process %d (pid %d) ended (%d): starting another", child.index, pid, code
            )
            time.sleep(RESTART_DELAY_S)
            start(child.index)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failed is not None:
        raise FailedStart(f"serving process {failed} ended as it started (its log says why)")
