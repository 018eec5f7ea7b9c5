"""A serving process goes with its supervisor (textrelay/supervisor.py): the kernel kills it
when the supervisor dies (PR_SET_PDEATHSIG), and one whose supervisor died before it could ask
for that ends by itself, whoever adopted it (init, or a container's subreaper)."""

from __future__ import annotations

import os

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
