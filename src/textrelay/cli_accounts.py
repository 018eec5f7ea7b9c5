"""`textrelay accounts`: an operator's account management, straight on the database named by
--database-url / TEXTRELAY_DATABASE_URL, whether or not a server runs on it (docs/cli.md).

A token is printed only by the command that makes it. Every refusal (an unknown SID, a closed
account…) is one line on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from textrelay.app import AccountTools, account_tools
from textrelay.domain.accounts import Account
from textrelay.domain.dates import iso8601
from textrelay.domain.errors import NoSecondaryAuthToken, TwilioError
from textrelay.services.errors import StorageFailure
from textrelay.settings import Settings

T = TypeVar("T")
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

ACCOUNT_SETTINGS = ("database_url", "sqlite_synchronous", "db_pool_size")
"""The settings each command takes as flags (cli.py makes the options)."""


def accounts_group(
    database_options: Decorator, load: Callable[[dict[str, Any]], Settings]
) -> click.Group:
    """The `accounts` group; `database_options` adds the flags of ACCOUNT_SETTINGS to a command
    and `load` turns their values into Settings (both cli.py's, so flags never drift)."""

    def run(overrides: dict[str, Any], work: Callable[[AccountTools], Awaitable[T]]) -> T:
        settings = load(overrides)

        async def session() -> T:
            async with account_tools(settings) as tools:
                return await work(tools)

        try:
            return asyncio.run(session())
        except NoSecondaryAuthToken:
            raise click.ClickException("the account has no secondary auth token") from None
        except (TwilioError, StorageFailure) as exc:
            raise click.ClickException(str(exc)) from None

    @click.group()
    def accounts() -> None:
        """Manage the accounts of this deployment: create, list, suspend, reactivate, close,
        and rotate their auth tokens."""

    @accounts.command()
    @click.option(
        "--friendly-name", default=None, help="The account's name (64 characters at most)."
    )
    @database_options
    def create(friendly_name: str | None, **overrides: Any) -> None:
        """Create a top-level account; print its SID and auth token (shown this once)."""
        account = run(overrides, lambda tools: tools.admin.create(friendly_name))
        click.echo(f"account sid: {account.sid}")
        click.echo(f"auth token:  {account.auth_token}")

    @accounts.command("list")
    @click.option("--json", "as_json", is_flag=True, help="One JSON array, for machines.")
    @database_options
    def list_accounts(as_json: bool, **overrides: Any) -> None:
        """List every account, each main account followed by its subaccounts (indented)."""
        listed = run(overrides, lambda tools: tools.admin.listing())
        if as_json:
            click.echo(json.dumps([_account_record(a) for a in listed], indent=2))
            return
        for line in _account_table(listed):
            click.echo(line)

    @accounts.command()
    @click.argument("sid")
    @database_options
    def suspend(sid: str, **overrides: Any) -> None:
        """Suspend an account: its credentials stop working until it is reactivated."""
        account = run(overrides, lambda tools: tools.admin.suspend(sid))
        click.echo(f"{account.sid} {account.status.value}")

    @accounts.command()
    @click.argument("sid")
    @database_options
    def reactivate(sid: str, **overrides: Any) -> None:
        """Make a suspended account active again (a closed one stays closed)."""
        account = run(overrides, lambda tools: tools.admin.reactivate(sid))
        click.echo(f"{account.sid} {account.status.value}")

    @accounts.command()
    @click.argument("sid")
    @database_options
    def close(sid: str, **overrides: Any) -> None:
        """Close an account for good, and a main account's subaccounts with it."""
        for account in run(overrides, lambda tools: tools.admin.close(sid)):
            click.echo(f"{account.sid} {account.status.value}")

    @accounts.command("rotate-token")
    @click.argument("sid")
    @database_options
    def rotate_token(sid: str, **overrides: Any) -> None:
        """Give the account a new auth token at once (the old one stops working); print it.
        For a rotation without downtime, use `secondary-token` instead."""
        account = run(overrides, lambda tools: tools.tokens.rotate_primary(sid))
        click.echo(f"auth token:  {account.auth_token}")

    @accounts.group("secondary-token")
    def secondary_token() -> None:
        """Twilio's secondary auth token: create one, deploy it, promote it (docs/operations.md)."""

    @secondary_token.command("create")
    @click.argument("sid")
    @database_options
    def secondary_create(sid: str, **overrides: Any) -> None:
        """Create a secondary auth token (replacing one made before); print it. Both tokens
        authenticate until it is promoted or deleted."""
        account = run(overrides, lambda tools: tools.tokens.create_secondary(sid))
        assert account.secondary_auth_token is not None
        click.echo(f"secondary auth token: {account.secondary_auth_token.token}")

    @secondary_token.command("promote")
    @click.argument("sid")
    @database_options
    def secondary_promote(sid: str, **overrides: Any) -> None:
        """Make the secondary auth token the primary; the old primary stops working."""
        promotion = run(overrides, lambda tools: tools.tokens.promote_secondary(sid))
        click.echo(
            f"{promotion.account.sid}: the secondary auth token is now the primary; "
            "the old primary no longer authenticates"
        )

    @secondary_token.command("delete")
    @click.argument("sid")
    @database_options
    def secondary_delete(sid: str, **overrides: Any) -> None:
        """Delete the secondary auth token; only the primary authenticates."""
        account = run(overrides, lambda tools: tools.tokens.delete_secondary(sid))
        click.echo(f"{account.sid}: secondary auth token deleted")

    return accounts


def _account_record(account: Account) -> dict[str, Any]:
    """An account for `list --json`: no token, only whether a secondary one exists."""
    return {
        "sid": account.sid,
        "status": account.status.value,
        "type": account.type.value,
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.owner_account_sid,
        "is_subaccount": account.is_subaccount,
        "has_secondary_auth_token": account.secondary_auth_token is not None,
        "date_created": iso8601(account.date_created),
        "date_updated": iso8601(account.date_updated),
    }


def _account_table(accounts: list[Account]) -> list[str]:
    """Aligned columns; a subaccount's SID is indented under its parent, and its parent named."""
    rows = [("SID", "STATUS", "TYPE", "FRIENDLY NAME", "PARENT")]
    for account in accounts:
        rows.append(
            (
                f"  {account.sid}" if account.is_subaccount else account.sid,
                account.status.value,
                account.type.value,
                account.friendly_name,
                account.owner_account_sid if account.is_subaccount else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
