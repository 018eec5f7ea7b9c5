"""Python packages the tests install at test time from PyPI into a folder of their own
(.venv/test-clients), not into textrelay's environment: a third-party client runs from there
unmodified (PYTHONPATH), and textrelay's own dependencies stay as pyproject.toml says. Once per
change of the requirements; parallel workers take turns under a file lock. Failures raise
PipError saying why, so the tests that need the packages fail rather than skip."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.installs import once_under_lock, run_installer

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

    def install() -> None:
        run_installer(
            [
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
            ],
            PipError,
        )
        stamp.write_text(wanted)

    once_under_lock(
        directory / _LOCK, lambda: stamp.is_file() and stamp.read_text().strip() == wanted, install
    )
    return directory
