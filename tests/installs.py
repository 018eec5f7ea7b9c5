"""What the tests' installers at test time share (tests/npm_packages.py, tests/pip_packages.py):
an install done once, parallel workers taking turns under a file lock, and an installer
command bounded in time whose failure says why."""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

INSTALL_TIMEOUT_S = 300.0


def once_under_lock(lock_path: Path, done: Callable[[], bool], install: Callable[[], None]) -> None:
    """`install()` unless `done()`; a worker that waited for another's install finds it done."""
    if done():
        return
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the holder's installer is bounded by the timeout
        try:
            if not done():
                install()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_installer(
    command: Sequence[str], failure: Callable[[str], Exception], *, cwd: Path | None = None
) -> None:
    """Run `command`; `failure(why)` raised if it cannot run, times out or fails (with the
    last lines of its output)."""
    where = f"`{' '.join(command)}`" + (f" in {cwd}" if cwd is not None else "")
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise failure(f"{where} took over {INSTALL_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise failure(f"{where} could not run: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise failure(f"{where} failed ({done.returncode}):\n{tail}")
