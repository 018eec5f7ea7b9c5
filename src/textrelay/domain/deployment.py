"""Deployment modes: what account credentials may do besides Twilio's API (docs/operations.md,
"Modes").

In `emulator` mode (the default) textrelay is a test bench: every account drives the
simulator, moves messages by hand, injects handset messages and resets its data, and the
server's main account changes what every account shares. In `gateway` mode textrelay
delivers real texts for tenants: those test-bench features, and all server-wide state, belong
to the operator, who proves it with the admin token (`Authorization: Bearer <token>`).
"""

from __future__ import annotations

import hmac
from enum import StrEnum

MIN_ADMIN_TOKEN_LENGTH = 24


class DeploymentMode(StrEnum):
    EMULATOR = "emulator"
    GATEWAY = "gateway"


def check_admin_token(token: str) -> str:
    """The token, if it is one an operator can rely on: long enough not to be guessed, and
    printable without spaces so it survives a header (ValueError otherwise)."""
    if len(token) < MIN_ADMIN_TOKEN_LENGTH:
        raise ValueError(
            f"an admin token has at least {MIN_ADMIN_TOKEN_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    if not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("an admin token is printable ASCII without spaces")
    return token


def bearer_token(authorization: str) -> str | None:
    """The token of a `Bearer` Authorization header, else None."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def is_admin(authorization: str, admin_token: str | None) -> bool:
    """Whether the header carries the admin token (compared in constant time)."""
    given = bearer_token(authorization)
    if admin_token is None or given is None:
        return False
    return hmac.compare_digest(given.encode(), admin_token.encode())
