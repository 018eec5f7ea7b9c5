"""What a client needs to trust the intercepting proxy: the CA in a file of its own (for the
runtimes that add it to their roots) and beside the usual roots in a bundle (for those that
replace their roots with a file), and the environment that points a client at both.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import certifi

NO_PROXY = "localhost,127.0.0.1,::1"
"""Loopback goes around the proxy: the app's own webhooks, textrelay's base URL."""


@dataclass(frozen=True, slots=True)
class TrustFiles:
    ca: Path
    """The CA certificate alone (NODE_EXTRA_CA_CERTS adds it to Node's roots)."""
    bundle: Path
    """certifi's roots and the CA (REQUESTS_CA_BUNDLE, SSL_CERT_FILE, TWILIO_CA_BUNDLE replace
    a client's roots with a file: the usual ones stay in it)."""


def state_directory() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "textrelay"


def write_trust_files(certificate_pem: str, directory: Path | None = None) -> TrustFiles:
    """Write the CA certificate and the bundle, named after the CA (several deployments on one
    machine do not overwrite each other's). Public certificates only: the CA's private key
    stays in the database."""
    directory = directory or state_directory()
    directory.mkdir(parents=True, exist_ok=True)
    name = "ca-" + hashlib.sha256(certificate_pem.encode("ascii")).hexdigest()[:12]
    ca, bundle = directory / f"{name}.pem", directory / f"{name}-bundle.pem"
    _write(ca, certificate_pem)
    roots = Path(certifi.where()).read_text(encoding="ascii")
    _write(
        bundle, roots.rstrip("\n") + "\n\n# textrelay's intercepting proxy CA\n" + certificate_pem
    )
    return TrustFiles(ca, bundle)


def _write(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="ascii") == text:
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="ascii")
    temporary.replace(path)


def environment(proxy_url: str, files: TrustFiles) -> list[tuple[str, str]]:
    """The variables, in order, that send a client's Twilio traffic through the proxy."""
    ca, bundle = str(files.ca), str(files.bundle)
    return [
        ("HTTPS_PROXY", proxy_url),
        ("https_proxy", proxy_url),
        ("HTTP_PROXY", proxy_url),
        ("http_proxy", proxy_url),
        ("NO_PROXY", NO_PROXY),
        ("no_proxy", NO_PROXY),
        ("REQUESTS_CA_BUNDLE", bundle),
        ("SSL_CERT_FILE", bundle),
        ("TWILIO_CA_BUNDLE", bundle),
        ("NODE_EXTRA_CA_CERTS", ca),
    ]


def export_lines(variables: list[tuple[str, str]]) -> str:
    """`export NAME=value` lines for bash (and any POSIX shell): `eval "$(textrelay env)"`."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables)
