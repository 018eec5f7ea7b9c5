"""Settings: one frozen object from CLI flags, TEXTRELAY_* variables and defaults.

Every test passes `environ` explicitly; none reads or changes os.environ.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from textrelay.settings import (
    SETTINGS,
    Setting,
    Settings,
    SettingsError,
    env_name,
    flag_name,
    secrets_in_flags,
    unknown_variables,
)

HEX = "0123456789abcdef" * 2
EMPTY: dict[str, str] = {}


def _load(env: dict[str, str], overrides: dict[str, Any] | None = None) -> Settings:
    return Settings.load(overrides or {}, env)


def test_every_setting_is_a_field() -> None:
    names = [s.name for s in SETTINGS]

    assert len(names) == len(set(names))
    assert set(names) == {f.name for f in dataclasses.fields(Settings)}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_variable_a_flag_and_the_fields_default(setting: Setting) -> None:
    field = {f.name: f for f in dataclasses.fields(Settings)}[setting.name]

    assert env_name(setting.name) == "TEXTRELAY_" + setting.name.upper()
    assert flag_name(setting.name) == "--" + setting.name.replace("_", "-")
    assert setting.default == field.default
    assert setting.help


def test_name_forms() -> None:
    assert env_name("database_url") == "TEXTRELAY_DATABASE_URL"
    assert flag_name("database_url") == "--database-url"
    assert env_name("port") == "TEXTRELAY_PORT"
    assert flag_name("auto_provision_senders") == "--auto-provision-senders"


def test_defaults() -> None:
    settings = _load(EMPTY)

    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.database_url == "sqlite:///textrelay.db"
    assert settings.main_account_credentials == (None, None)
    assert settings.seed is None
    assert settings.auto_provision_senders is False
    assert settings.max_body_bytes == 1_048_576
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.db_pool_size == 10
    assert settings.log_level == "info"


def test_unrelated_variables_are_ignored() -> None:
    assert _load({"PORT": "1", "TEXTRELAY": "x", "textrelay_port": "2"}) == Settings()


def test_settings_are_frozen() -> None:
    settings = _load(EMPTY)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "port"), [("9000", 9000), ("0", 0), ("65535", 65535)])
def test_port_from_the_environment(raw: str, port: int) -> None:
    assert _load({"TEXTRELAY_PORT": raw}).port == port


@pytest.mark.parametrize("raw", ["70000", "65536", "-1", "http", "", "80.5"])
def test_bad_port_names_its_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^TEXTRELAY_PORT: "):
        _load({"TEXTRELAY_PORT": raw})


def test_cli_overrides_beat_the_environment() -> None:
    env = {
        "TEXTRELAY_PORT": "9000",
        "TEXTRELAY_HOST": "0.0.0.0",
        "TEXTRELAY_AUTO_PROVISION_SENDERS": "true",
    }

    settings = _load(env, {"port": "9100", "auto_provision_senders": False})

    assert settings.port == 9100
    assert settings.auto_provision_senders is False  # a flag's False is given, not absent
    assert settings.host == "0.0.0.0"


def test_an_override_of_none_means_not_given() -> None:
    settings = _load({"TEXTRELAY_PORT": "9000"}, {"port": None, "host": None})

    assert (settings.port, settings.host) == (9000, "127.0.0.1")


def test_a_bad_override_names_its_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--port: "):
        _load({"TEXTRELAY_PORT": "9000"}, {"port": "99999"})
    with pytest.raises(SettingsError, match=r"^--database-url: "):
        _load(EMPTY, {"database_url": "mysql://x"})


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("False", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("", False),
        (" true ", True),
    ],
)
def test_booleans(raw: str, value: bool) -> None:
    assert _load({"TEXTRELAY_AUTO_PROVISION_SENDERS": raw}).auto_provision_senders is value


def test_account_credentials_are_normalized() -> None:
    settings = _load(
        {"TEXTRELAY_ACCOUNT_SID": "AC" + HEX.upper(), "TEXTRELAY_AUTH_TOKEN": HEX.upper()}
    )

    assert settings.main_account_credentials == ("AC" + HEX, HEX)


def test_empty_optional_settings_are_unset() -> None:
    settings = _load(
        {"TEXTRELAY_ACCOUNT_SID": "", "TEXTRELAY_AUTH_TOKEN": "", "TEXTRELAY_SEED": ""}
    )

    assert (settings.account_sid, settings.auth_token, settings.seed) == (None, None, None)


@pytest.mark.parametrize(
    ("variable", "raw", "attribute", "value"),
    [
        ("TEXTRELAY_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("TEXTRELAY_DATABASE_URL", "sqlite:///tmp/x.db", "database_url", "sqlite:///tmp/x.db"),
        (
            "TEXTRELAY_DATABASE_URL",
            "postgresql://u@127.0.0.1:5432/db",
            "database_url",
            "postgresql://u@127.0.0.1:5432/db",
        ),
        ("TEXTRELAY_DATABASE_URL", "postgres://u@h/db", "database_url", "postgres://u@h/db"),
        ("TEXTRELAY_SEED", "42", "seed", 42),
        ("TEXTRELAY_SEED", "-3", "seed", -3),
        ("TEXTRELAY_MAX_BODY_BYTES", "1024", "max_body_bytes", 1024),
        ("TEXTRELAY_SQLITE_SYNCHRONOUS", "full", "sqlite_synchronous", "FULL"),
        ("TEXTRELAY_SQLITE_SYNCHRONOUS", "Normal", "sqlite_synchronous", "NORMAL"),
        ("TEXTRELAY_DB_POOL_SIZE", "1", "db_pool_size", 1),
        ("TEXTRELAY_LOG_LEVEL", "DEBUG", "log_level", "debug"),
        ("TEXTRELAY_LOG_LEVEL", "warning", "log_level", "warning"),
    ],
)
def test_values_from_the_environment(variable: str, raw: str, attribute: str, value: Any) -> None:
    assert getattr(_load({variable: raw}), attribute) == value


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("TEXTRELAY_ACCOUNT_SID", "SM" + HEX),  # not an account SID
        ("TEXTRELAY_ACCOUNT_SID", "AC" + HEX[:31]),
        ("TEXTRELAY_ACCOUNT_SID", "ac" + HEX),
        ("TEXTRELAY_ACCOUNT_SID", "AC" + "g" * 32),
        ("TEXTRELAY_AUTH_TOKEN", "short"),
        ("TEXTRELAY_AUTH_TOKEN", HEX + "0"),
        ("TEXTRELAY_AUTH_TOKEN", "g" * 32),
        ("TEXTRELAY_DATABASE_URL", "mysql://x"),
        ("TEXTRELAY_DATABASE_URL", "textrelay.db"),
        ("TEXTRELAY_DATABASE_URL", "sqlite://relative.db"),
        ("TEXTRELAY_AUTO_PROVISION_SENDERS", "maybe"),
        ("TEXTRELAY_SEED", "abc"),
        ("TEXTRELAY_MAX_BODY_BYTES", "0"),
        ("TEXTRELAY_DB_POOL_SIZE", "-1"),
        ("TEXTRELAY_SQLITE_SYNCHRONOUS", "off"),
        ("TEXTRELAY_LOG_LEVEL", "verbose"),
    ],
)
def test_bad_settings_name_their_variable(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        _load({variable: raw})


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_unknown_variables_are_the_prefixed_ones_no_setting_reads() -> None:
    environ = {
        "TEXTRELAY_PORT": "1",
        "TEXTRELAY_URL": "http://x",
        "TEXTRELAY_TEST_POSTGRES_URL": "postgresql://x",
        "TEXTRELAY_DATABASE_ULR": "sqlite:///x",
        "TEXTRELAY_SOMETHING_ELSE": "1",
        "PATH": "/bin",
    }

    assert unknown_variables(environ) == [
        ("TEXTRELAY_DATABASE_ULR", "TEXTRELAY_DATABASE_URL"),
        ("TEXTRELAY_SOMETHING_ELSE", None),
    ]


def test_secrets_given_as_flags_are_named() -> None:
    given = {
        "auth_token": HEX,
        "console_password": "hunter2",
        "database_url": "postgresql://textrelay:pw@db:5432/textrelay",
        "account_sid": "AC" + HEX,
        "port": "0",
        "seed": None,
    }

    assert secrets_in_flags(given) == ["database_url", "auth_token", "console_password"]
    assert secrets_in_flags({"database_url": "postgresql://textrelay@db/textrelay"}) == []
    assert secrets_in_flags({"database_url": "sqlite:///a:b@c.db"}) == []
    assert secrets_in_flags({"auth_token": None, "console_password": None}) == []


# --- serve's processes (docs/operations.md, "Every core") -----------------------------------


def _processes(**values: Any) -> int:
    from textrelay.app import serving_processes

    return serving_processes(Settings(**values))


def test_serve_runs_one_process_a_core_in_gateway_mode_and_one_in_emulator_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    postgresql = "postgresql://textrelay@db/textrelay"
    assert _processes(deployment_mode="gateway", database_url=postgresql) == 8
    # SQLite's writes take turns at one lock, which two processes keep busy.
    assert _processes(deployment_mode="gateway") == 2
    assert _processes(deployment_mode="gateway", database_url="sqlite:///relay.db") == 2
    assert _processes(database_url=postgresql) == 1
    assert _processes() == 1
    assert _processes(deployment_mode="gateway", seed=7) == 1
    assert _processes(deployment_mode="gateway", database_url="sqlite:///:memory:") == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert _processes(deployment_mode="gateway") == 1


def test_an_explicit_process_count_is_kept_where_processes_can_share_the_database() -> None:
    assert _processes(processes=2) == 2
    assert _processes(processes=1, deployment_mode="gateway") == 1
    assert _processes(processes=1, seed=7) == 1


@pytest.mark.parametrize(
    "values", [{"seed": 7}, {"database_url": "sqlite:///:memory:"}], ids=["seed", "memory"]
)
def test_several_processes_with_a_seed_or_a_memory_database_are_refused(
    values: dict[str, Any],
) -> None:
    with pytest.raises(SettingsError, match="--processes above 1"):
        _processes(processes=2, **values)


def test_more_than_four_processes_a_core_is_refused_before_anything_forks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert _processes(processes=8) == 8
    with pytest.raises(SettingsError, match="--processes 9 is more than 4 a core"):
        _processes(processes=9)


def test_no_more_serving_processes_than_the_fewest_binds_of_an_smpp_carrier(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(
        '[[carrier]]\nname = "smsc1"\ntype = "smpp"\nhost = "127.0.0.1"\n'
        'system_id = "textrelay"\nbinds = 3\n\n'
        '[[carrier]]\nname = "smsc2"\ntype = "smpp"\nhost = "127.0.0.1"\n'
        'system_id = "textrelay"\nbinds = 6\n'
    )
    postgresql = "postgresql://textrelay@db/textrelay"
    gateway = {"deployment_mode": "gateway", "carriers": str(carriers)}

    assert _processes(database_url=postgresql, **gateway) == 3
    assert _processes(**gateway) == 2  # SQLite's own limit is lower
    assert _processes(processes=3, **gateway) == 3
    with pytest.raises(SettingsError, match="more than the 3 bind\\(s\\) of carrier 'smsc1'"):
        _processes(processes=4, **gateway)
