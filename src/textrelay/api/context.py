"""What the API handlers reach: the services, and the request-level helpers they share."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import Request

from textrelay.api.forms import Params, form_params
from textrelay.domain.accounts import Account
from textrelay.services.accounts import AccountService, Principal
from textrelay.services.auth_tokens import AuthTokenService
from textrelay.services.carrier_records import CarrierRecords
from textrelay.services.carriers import CarrierSet
from textrelay.services.clock import AdjustableClock
from textrelay.services.delivery import DeliveryService
from textrelay.services.health import HealthService
from textrelay.services.inbound import InboundService
from textrelay.services.media import MediaService
from textrelay.services.messages import MessageService
from textrelay.services.messaging_services import MessagingServiceRegistry
from textrelay.services.metrics import Metrics
from textrelay.services.operator import OperatorAccess
from textrelay.services.phone_numbers import PhoneNumberService
from textrelay.services.readback import ReadbackService
from textrelay.services.simulator import SimulatorService


@dataclass(frozen=True, slots=True)
class ApiContext:
    accounts: AccountService
    messages: MessageService
    numbers: PhoneNumberService
    max_body_bytes: int
    max_params: int
    simulator: SimulatorService
    delivery: DeliveryService
    readback: ReadbackService
    messaging_services: MessagingServiceRegistry
    inbound: InboundService
    media: MediaService
    clock: AdjustableClock
    carriers: CarrierSet
    carrier_records: CarrierRecords
    health: HealthService
    operator: OperatorAccess
    metrics: Metrics
    auth_tokens: AuthTokenService


def api(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    return _decode_basic(request.headers.get("authorization", ""))


def basic_credentials_of(authorization: str) -> tuple[str | None, str | None]:
    """The (username, password) of an Authorization header's value, if it is Basic."""
    return _decode_basic(authorization)


@lru_cache(maxsize=1024)
def _decode_basic(header: str) -> tuple[str | None, str | None]:
    """The (username, password) of a Basic Authorization header; clients repeat theirs."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text; covers UnicodeDecodeError
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


async def caller(request: Request) -> Principal:
    username, password = basic_credentials(request)
    return await api(request).accounts.authenticate(username, password)


async def path_account(request: Request, *, account_admin: bool = False) -> Account:
    """The account named in the path, checked against the caller's credentials; an account
    must be active for anything but its own Account resource."""
    return await authorized_account(
        api(request).accounts,
        request.headers.get("authorization", ""),
        request.path_params["account_sid"],
        account_admin=account_admin,
    )


async def authorized_account(
    accounts: AccountService, authorization: str, account_sid: str, *, account_admin: bool = False
) -> Account:
    """The account `account_sid`, if the Authorization header's credentials may act on it."""
    username, password = _decode_basic(authorization)
    principal = await accounts.authenticate(username, password)
    account = await accounts.resolve(principal, account_sid, account_admin=account_admin)
    return accounts.require_active(account)


def by_operator(request: Request) -> bool:
    """Whether the request carries the operator's admin token (services/operator.py)."""
    return api(request).operator.is_operator(request.headers.get("authorization", ""))


async def require_server_wide(request: Request, what: str) -> None:
    """Refuse (403/20403) a caller who may not read or change state every account shares:
    the operator may, and in emulator mode the server's main account."""
    if not by_operator(request):
        await api(request).operator.require_server_wide((await caller(request)).account, what)


async def test_bench_account(request: Request) -> Account:
    """The account in the path, for a test-bench feature (domain/deployment.py): any account
    for the operator; for account credentials, as `path_account` and only in emulator mode
    (403 in gateway mode, after the credentials are checked)."""
    if by_operator(request):
        return await api(request).operator.any_account(request.path_params["account_sid"])
    account = await path_account(request)
    api(request).operator.require_test_bench()
    return account


async def form(request: Request) -> Params:
    ctx = api(request)
    return await form_params(request, ctx.max_body_bytes, ctx.max_params)
