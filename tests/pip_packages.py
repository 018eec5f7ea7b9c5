"""Python packages the tests install at test time from PyPI into a folder of their own
(.venv/test-clients), not into textrelay's environment: a third-party client runs from there
unmodified (PYTHONPATH), and textrelay's own dependencies stay as pyproject.toml says. Once per
change of the requirements; parallel workers take turns under a file lock. Failures raise
PipError saying why, so the tests that need the packages fail rather than skip."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

INSTALL_TIMEOUT_S = 300.0
_STAMP = ".textrelay-installed"
_LOCK = ".textrelay-install.lock"


class PipError(RuntimeError):
    """pip could not install the packages."""


def ensure_target(directory: Path, requirements: Sequence[str]) -> Path:
    """`requirements` (pinned) installed into `directory` unless done already; the directory,
    to put on PYTHONPATH."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    stamp = directory / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return directory
    with (directory / _LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the holder's pip is bounded by INSTALL_TIMEOUT_S
        try:
            if not (stamp.is_file() and stamp.read_text().strip() == wanted):
                _install(directory, requirements)
                stamp.write_text(wanted)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return directory


def _install(directory: Path, requirements: Sequence[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--upgrade",
        "--target",
        str(directory),
        *requirements,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PipError(
            f"pip install {' '.join(requirements)} took over {INSTALL_TIMEOUT_S:g} s"
        ) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise PipError(f"pip install {' '.join(requirements)} failed ({done.returncode}):\n{tail}")
