"""The supervisor of `serve --processes` (textrelay/supervisor.py): a serving process goes
with its supervisor (the kernel kills it when the supervisor dies, PR_SET_PDEATHSIG, and one
whose supervisor died before it could ask for that ends by itself, whoever adopted it: init,
or a container's subreaper), and a stop signal reaches every serving process, whenever it
comes."""

from __future__ import annotations

import os
import subprocess
import sys

from textrelay import supervisor


def _exit_code_of_child(parent_it_expects: int | None) -> int:
    """Fork; the child checks for `parent_it_expects` (its real parent if None), then exits
    0 if it is still running."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            expected = os.getppid() if parent_it_expects is None else parent_it_expects
            supervisor._die_with_parent(expected)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_serving_process_whose_supervisor_is_alive_goes_on() -> None:
    assert _exit_code_of_child(None) == 0


def test_a_serving_process_adopted_by_another_than_its_supervisor_ends() -> None:
    # Its parent is this test's process, not the supervisor it was forked by (nor pid 1).
    not_its_parent = os.getpid() + 1_000_000
    assert _exit_code_of_child(not_its_parent) == 1


# A supervisor whose `os.fork` sends it SIGTERM in the parent as soon as a child exists: the
# worst moment, before the supervisor has the child in the list of those it stops.
_STOPPED_AS_IT_FORKS = """
import os, signal
from textrelay import supervisor

real_fork = os.fork

def fork_then_stop():
    pid = real_fork()
    if pid:
        os.kill(os.getpid(), signal.SIGTERM)
    return pid

os.fork = fork_then_stop

def serve_one(index, started):
    started()
    signal.pause()  # until the SIGTERM the supervisor passes on ends it

supervisor.supervise(2, serve_one)
print("every serving process stopped")
"""


def test_a_stop_signal_that_comes_as_a_serving_process_is_forked_stops_that_one_too() -> None:
    # Before the fix the signal's handler ran before the new child was listed: that child
    # was never told to stop, and `serve` waited for it for ever (here: the timeout).
    ended = subprocess.run(
        [sys.executable, "-c", _STOPPED_AS_IT_FORKS],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ended.returncode == 0, ended.stderr
    assert "every serving process stopped" in ended.stdout
