"""The public names, pinned: renaming, adding or removing one is a deliberate act.

Users reach textrelay by these names: the package's exports, the `textrelay` command and its
subcommands, the settings with their TEXTRELAY_* variables and flags (docs/configuration.md),
the control client's methods and the pytest plugin's fixtures. A failure here is not a bug to
fix in this file alone: change the name's documentation, and CHANGELOG.md, with it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points

import click

# What @pytest.fixture makes of a function (pytest >= 8.4); pytest exports no public name for it.
from _pytest.fixtures import FixtureFunctionDefinition

import textrelay
from textrelay import pytest_plugin
from textrelay.cli import main
from textrelay.control import Control
from textrelay.pytest_plugin import TextrelayForTest
from textrelay.settings import OTHER_VARIABLES, Settings

# (field of Settings, the variable it reads, the flag of `textrelay serve` that sets it)
SETTINGS = [
    ("host", "TEXTRELAY_HOST", "--host"),
    ("port", "TEXTRELAY_PORT", "--port"),
    ("database_url", "TEXTRELAY_DATABASE_URL", "--database-url"),
    ("account_sid", "TEXTRELAY_ACCOUNT_SID", "--account-sid"),
    ("auth_token", "TEXTRELAY_AUTH_TOKEN", "--auth-token"),
    ("seed", "TEXTRELAY_SEED", "--seed"),
    ("auto_provision_senders", "TEXTRELAY_AUTO_PROVISION_SENDERS", "--auto-provision-senders"),
    ("max_body_bytes", "TEXTRELAY_MAX_BODY_BYTES", "--max-body-bytes"),
    ("max_params", "TEXTRELAY_MAX_PARAMS", "--max-params"),
    ("account_concurrency", "TEXTRELAY_ACCOUNT_CONCURRENCY", "--account-concurrency"),
    ("account_queue_limit", "TEXTRELAY_ACCOUNT_QUEUE_LIMIT", "--account-queue-limit"),
    ("account_backlog_limit", "TEXTRELAY_ACCOUNT_BACKLOG_LIMIT", "--account-backlog-limit"),
    ("header_timeout_s", "TEXTRELAY_HEADER_TIMEOUT_S", "--header-timeout-s"),
    ("body_timeout_s", "TEXTRELAY_BODY_TIMEOUT_S", "--body-timeout-s"),
    ("max_connections", "TEXTRELAY_MAX_CONNECTIONS", "--max-connections"),
    ("sqlite_synchronous", "TEXTRELAY_SQLITE_SYNCHRONOUS", "--sqlite-synchronous"),
    ("db_pool_size", "TEXTRELAY_DB_POOL_SIZE", "--db-pool-size"),
    ("log_level", "TEXTRELAY_LOG_LEVEL", "--log-level"),
    ("log_format", "TEXTRELAY_LOG_FORMAT", "--log-format"),
    ("access_log", "TEXTRELAY_ACCESS_LOG", "--access-log"),
    ("log_bodies", "TEXTRELAY_LOG_BODIES", "--log-bodies"),
    ("workers", "TEXTRELAY_WORKERS", "--workers"),
    ("processes", "TEXTRELAY_PROCESSES", "--processes"),
    ("worker_concurrency", "TEXTRELAY_WORKER_CONCURRENCY", "--worker-concurrency"),
    ("webhook_concurrency", "TEXTRELAY_WEBHOOK_CONCURRENCY", "--webhook-concurrency"),
    (
        "webhook_host_concurrency",
        "TEXTRELAY_WEBHOOK_HOST_CONCURRENCY",
        "--webhook-host-concurrency",
    ),
    ("job_lease_s", "TEXTRELAY_JOB_LEASE_S", "--job-lease-s"),
    ("callback_retry", "TEXTRELAY_CALLBACK_RETRY", "--callback-retry"),
    ("callback_max_attempts", "TEXTRELAY_CALLBACK_MAX_ATTEMPTS", "--callback-max-attempts"),
    ("callback_retry_base_s", "TEXTRELAY_CALLBACK_RETRY_BASE_S", "--callback-retry-base-s"),
    ("schedule_min_ahead_s", "TEXTRELAY_SCHEDULE_MIN_AHEAD_S", "--schedule-min-ahead-s"),
    ("schedule_max_ahead_s", "TEXTRELAY_SCHEDULE_MAX_AHEAD_S", "--schedule-max-ahead-s"),
    ("console_password", "TEXTRELAY_CONSOLE_PASSWORD", "--console-password"),
    ("console_allowed_hosts", "TEXTRELAY_CONSOLE_ALLOWED_HOSTS", "--console-allowed-hosts"),
    ("media_dir", "TEXTRELAY_MEDIA_DIR", "--media-dir"),
    ("retention_days", "TEXTRELAY_RETENTION_DAYS", "--retention-days"),
    ("simulator_config", "TEXTRELAY_SIMULATOR_CONFIG", "--simulator-config"),
    ("carriers", "TEXTRELAY_CARRIERS", "--carriers"),
    ("intercept_port", "TEXTRELAY_INTERCEPT_PORT", "--intercept-port"),
    ("intercept_tunnel", "TEXTRELAY_INTERCEPT_TUNNEL", "--intercept-tunnel"),
    ("simulator_mode", "TEXTRELAY_SIMULATOR_MODE", "--simulator-mode"),
    ("metrics_port", "TEXTRELAY_METRICS_PORT", "--metrics-port"),
    ("deployment_mode", "TEXTRELAY_DEPLOYMENT_MODE", "--deployment-mode"),
    ("admin_token", "TEXTRELAY_ADMIN_TOKEN", "--admin-token"),
]


def test_the_package_exports() -> None:
    assert textrelay.__all__ == ["__version__", "client"]
    assert all(hasattr(textrelay, name) for name in textrelay.__all__)


def test_the_installed_entry_points() -> None:
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}

    assert scripts["textrelay"] == "textrelay.cli:main"
    assert plugins["textrelay"] == "textrelay.pytest_plugin"


def _command_paths(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        yield path
        if isinstance(command, click.Group):
            yield from _command_paths(command, f"{path} ")


def test_the_cli_commands() -> None:
    assert sorted(_command_paths(main)) == [
        "accounts",
        "accounts close",
        "accounts create",
        "accounts list",
        "accounts reactivate",
        "accounts rotate-token",
        "accounts secondary-token",
        "accounts secondary-token create",
        "accounts secondary-token delete",
        "accounts secondary-token promote",
        "accounts suspend",
        "backup",
        "ca",
        "carriers",
        "credentials",
        "env",
        "messages",
        "migrate",
        "send",
        "serve",
        "sid",
        "sid explain",
        "simulate",
        "simulate load",
        "simulate mode",
        "simulate reset",
        "simulate rule",
        "simulate rule add",
        "simulate rule clear",
        "simulate set",
        "simulate show",
        "simulate step",
        "text",
        "worker",
    ]


def test_the_settings_fields() -> None:
    assert [f.name for f in dataclasses.fields(Settings)] == [name for name, _, _ in SETTINGS]


class _Recording(Mapping[str, str]):
    """An empty environment that remembers every variable looked up in it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __contains__(self, key: object) -> bool:
        self.asked.append(str(key))
        return False

    def __getitem__(self, key: str) -> str:
        self.asked.append(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_the_variables_the_settings_read() -> None:
    environ = _Recording()

    Settings.load({}, environ)

    assert sorted(set(environ.asked)) == sorted(variable for _, variable, _ in SETTINGS)


def test_the_variables_that_are_not_settings() -> None:
    assert sorted(OTHER_VARIABLES) == ["TEXTRELAY_TEST_POSTGRES_URL", "TEXTRELAY_URL"]


def test_the_serve_flags() -> None:
    serve = main.commands["serve"]
    flags = {p.name: p.opts for p in serve.params if isinstance(p, click.Option)}

    assert flags == {name: [flag] for name, _, flag in SETTINGS}


def _public(cls: type) -> list[str]:
    return sorted(name for name, _ in inspect.getmembers(cls) if not name.startswith("_"))


def test_the_control_client_methods() -> None:
    assert _public(Control) == [
        "add_rule",
        "advance_clock",
        "callbacks",
        "carrier_record",
        "carriers",
        "clear_rules",
        "close",
        "configure_simulator",
        "conversation",
        "events",
        "messages",
        "opt_outs",
        "pending_jobs",
        "provision_short_code",
        "read",
        "received",
        "replace_simulator",
        "reset",
        "send",
        "simulator",
        "step",
        "text",
        "text_and_wait_for_reply",
        "wait_for_message",
        "wait_idle",
        "wait_until_final",
    ]


def test_the_pytest_plugin_fixtures() -> None:
    fixtures = sorted(
        value.name
        for value in vars(pytest_plugin).values()
        if isinstance(value, FixtureFunctionDefinition)
    )

    assert fixtures == ["textrelay", "textrelay_server", "textrelay_settings"]


def test_what_the_textrelay_fixture_yields() -> None:
    fields = [f.name for f in dataclasses.fields(TextrelayForTest) if not f.name.startswith("_")]

    assert fields == ["server", "account", "client", "control"]
    assert _public(TextrelayForTest) == [
        "base_url",
        "claim_number",
        "phone_number",
        "release_numbers",
    ]
