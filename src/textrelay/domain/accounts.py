"""Accounts, subaccounts and API keys (shared/twilio/api-core.md §2.1, §2.6, §6)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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

    @property
    def is_subaccount(self) -> bool:
        return self.owner_account_sid != self.sid


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
