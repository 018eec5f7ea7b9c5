"""Accounts, subaccounts and API keys (shared/twilio/api-core.md §2.1, §2.6, §6)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from textrelay.domain import errors


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class AccountType(StrEnum):
    TRIAL = "Trial"
    FULL = "Full"


@dataclass(frozen=True, slots=True)
class Account:
    sid: str
    owner_account_sid: str
    """The parent's SID for a subaccount; the account's own SID for a main account."""
    friendly_name: str
    status: AccountStatus
    type: AccountType
    auth_token: str
    date_created: datetime
    date_updated: datetime
    secondary_auth_token: SecondaryAuthToken | None = None
    """A second token that authenticates the account until it is promoted or deleted."""

    @property
    def is_subaccount(self) -> bool:
        return self.owner_account_sid != self.sid

    def accepts_token(self, given: str) -> bool:
        """Whether `given` is the primary or the secondary auth token (constant time)."""
        primary = token_matches(given, self.auth_token)
        secondary = self.secondary_auth_token is not None and token_matches(
            given, self.secondary_auth_token.token
        )
        return primary or secondary


@dataclass(frozen=True, slots=True)
class SecondaryAuthToken:
    """Twilio's secondary auth token: made to rotate the primary without downtime (both
    authenticate while it exists), then promoted to primary or deleted."""

    token: str
    date_created: datetime


def with_secondary_token(account: Account, token: str, *, at: datetime) -> Account:
    """`account` with a new secondary token; one made before is replaced."""
    return replace(account, secondary_auth_token=SecondaryAuthToken(token, at), date_updated=at)


def without_secondary_token(account: Account, *, at: datetime) -> Account:
    if account.secondary_auth_token is None:
        raise errors.NoSecondaryAuthToken()
    return replace(account, secondary_auth_token=None, date_updated=at)


def promoted(account: Account, *, at: datetime) -> Account:
    """The secondary token made primary; the old primary no longer authenticates."""
    secondary = account.secondary_auth_token
    if secondary is None:
        raise errors.NoSecondaryAuthToken()
    return replace(account, auth_token=secondary.token, secondary_auth_token=None, date_updated=at)


def with_new_primary_token(account: Account, token: str, *, at: datetime) -> Account:
    """An operator's rotation (`textrelay accounts rotate-token`): the old token dies at once;
    a secondary token, if any, stays."""
    return replace(account, auth_token=token, date_updated=at)


@dataclass(frozen=True, slots=True)
class ApiKey:
    sid: str
    account_sid: str
    friendly_name: str
    secret_hash: str
    date_created: datetime
    date_updated: datetime


def hash_secret(secret: str) -> str:
    """Keys' secrets are 32 random hex digits, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def default_subaccount_name(now: datetime) -> str:
    """Twilio's default: `SubAccount Created at 2024-02-03 04:05 pm`."""
    return "SubAccount Created at " + now.strftime("%Y-%m-%d %I:%M %p").lower()


def can_act_on(caller: Account, target: Account) -> bool:
    """A main account reaches itself and its subaccounts; a subaccount only itself."""
    return target.sid == caller.sid or (
        not caller.is_subaccount and target.owner_account_sid == caller.sid
    )
