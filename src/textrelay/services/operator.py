"""Who may use the test bench and server-wide state, by deployment mode (domain/deployment.py).

The operator (the admin token) may always. Accounts may use the test bench on their own data
in emulator mode only, and change what every account shares (the clock, the server-wide
simulator settings, the carriers' state) only as the server's main account in emulator mode.
"""

from __future__ import annotations

from textrelay.domain import errors
from textrelay.domain.accounts import Account
from textrelay.domain.deployment import DeploymentMode, is_admin
from textrelay.domain.sids import SidType, is_sid, normalize
from textrelay.services.accounts import AccountService
from textrelay.services.simulator import SimulatorService


class OperatorAccess:
    def __init__(
        self,
        mode: DeploymentMode,
        admin_token: str | None,
        accounts: AccountService,
        simulator: SimulatorService,
    ) -> None:
        self.mode = mode
        self._admin_token = admin_token
        self._accounts = accounts
        self._simulator = simulator

    @property
    def test_bench_open(self) -> bool:
        """Whether accounts may use the test bench (and the console shows it to them)."""
        return self.mode is DeploymentMode.EMULATOR

    def is_operator(self, authorization: str) -> bool:
        return is_admin(authorization, self._admin_token)

    def require_test_bench(self) -> None:
        """Refuse an account the test bench in gateway mode (after it authenticated)."""
        if not self.test_bench_open:
            raise errors.Forbidden(
                "This textrelay runs in gateway mode: the test bench (simulator, clock, "
                "inbound injection, step, reset) is the operator's, with the admin token"
            )

    async def may_change_server_wide(self, account: Account) -> bool:
        return self.test_bench_open and await self._simulator.is_main_account(account)

    async def require_server_wide(self, account: Account, what: str) -> None:
        if not await self.may_change_server_wide(account):
            whose = "the server's main account's" if self.test_bench_open else "the operator's"
            raise errors.Forbidden(f"{what} is shared by every account: {whose} only")

    async def any_account(self, sid: str) -> Account:
        """The account `sid`, for the operator, who may act on every one: 404 if unknown,
        20005 unless active."""
        account = (
            await self._accounts.cached(normalize(sid)) if is_sid(sid, SidType.ACCOUNT) else None
        )
        if account is None:
            raise errors.NotFound(f"The account {sid} was not found")
        return self._accounts.require_active(account)
