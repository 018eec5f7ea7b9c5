"""npm packages the tests install at test time into a folder of their own (tests/smsc,
tests/clients): once per change of the folder's package.json, parallel workers taking turns
under a file lock. Failures raise NpmError saying why, so the tests that need the packages
fail rather than skip."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from tests.installs import once_under_lock, run_installer

MIN_NODE_MAJOR = 18
_MANIFESTS = ("package.json", "package-lock.json")
STAMP_NAME = ".textrelay-installed"
LOCK_NAME = ".textrelay-install.lock"
"""Both also written by scripts/smsc: keep the names in step."""


class NpmError(RuntimeError):
    """Node.js or npm is missing or too old, or the install failed."""


def ensure_packages(directory: Path, marker: str) -> str:
    """Install `directory`'s npm packages unless done for its package.json (`marker`: a
    package whose presence says the install happened); returns the path of `node`."""
    node, npm = _tool("node", directory), _tool("npm", directory)
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise NpmError(f"{node} --version failed: {exc}") from exc
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
        raise NpmError(f"{directory.name} needs Node.js {MIN_NODE_MAJOR}+, found {version}")
    modules = directory / "node_modules"
    modules.mkdir(exist_ok=True)
    once_under_lock(
        modules / LOCK_NAME,
        lambda: _installed(directory, marker),
        lambda: _npm_install(npm, directory),
    )
    return node


def _manifest_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in _MANIFESTS:
        path = directory / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _installed(directory: Path, marker: str) -> bool:
    modules = directory / "node_modules"
    stamp = modules / STAMP_NAME
    return (
        (modules / marker / "package.json").is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == _manifest_digest(directory)
    )


def _tool(name: str, directory: Path) -> str:
    path = shutil.which(name)
    if path is None:
        raise NpmError(
            f"tests/{directory.name} needs Node.js {MIN_NODE_MAJOR}+ and npm; {name} is not on PATH"
        )
    return path


def _npm_install(npm: str, directory: Path) -> None:
    run_installer([npm, "install", "--no-audit", "--no-fund"], NpmError, cwd=directory)
    # Digested after the install: npm writes package-lock.json when there was none.
    (directory / "node_modules" / STAMP_NAME).write_text(_manifest_digest(directory))
