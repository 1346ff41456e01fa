"""Configuration: embedded default, TOML, environment overrides, clear errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, machine_timezone

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_no_file_is_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIKBORD_CONFIG", raising=False)
    settings = load_settings(None)
    assert settings.database.url == "sqlite:///./prikbord.db"
    assert settings.enabled_platforms() == ["console"]
    assert [(c.name, c.platform, c.tags) for c in settings.effective_channels()] == [
        ("console", "console", ["everyone"])
    ]
    assert not settings.web_enabled
    assert settings.moderation.moderators == ["console:mod"]


def test_toml_file_with_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "prikbord.toml"
    config.write_text(
        'timezone = "Europe/Amsterdam"\n'
        '[database]\nurl = "sqlite:///x.db"\n'
        '[telegram]\ntoken = "from-file"\n'
        '[[channels]]\nname = "algemeen"\nplatform = "telegram"\nchat_id = -1001\ntags = ["everyone", "nl"]\n'
        '[moderation]\nmoderators = ["telegram:42"]\nrequire_call_to_action = true\n'
    )
    monkeypatch.setenv("PRIKBORD_TELEGRAM__TOKEN", "from-env")
    monkeypatch.setenv("PRIKBORD_DATABASE__URL", "postgresql://db/prikbord")
    settings = load_settings(config)
    assert settings.telegram.token is not None and settings.telegram.token.get_secret_value() == "from-env"
    assert settings.database.url == "postgresql://db/prikbord"
    assert settings.channels[0].chat_id == "-1001"
    assert settings.enabled_platforms() == ["telegram"]  # console is off once a messenger is configured
    assert settings.moderation.require_call_to_action
    assert "from-env" not in repr(settings)  # secrets never print


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[database\nurl=1", "is not valid TOML"),
        ('timezone = "Mars/Olympus"', "timezone: Value error, unknown time zone"),
        ("[telegram]\ntokn = 'x'", "telegram.tokn: unknown key"),
        ("[[channels]]\nname='a'\nplatform='icq'\nchat_id='1'", "channels.0.platform"),
        ("[moderation]\nmoderators = ['anna']", "is not platform:user_id"),
        ("[quiet_hours]\nstart = '25:00'", "quiet_hours.start"),
    ],
)
def test_invalid_config_names_file_key_and_problem(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert expected in str(caught.value)
    assert str(config) in str(caught.value)


def test_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[web]\nport = 'eighty'\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "web.port" in result.stderr and str(config) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(EXAMPLE)
    assert settings.timezone == machine_timezone()  # the example documents the default, it does not change it


def test_default_timezone_is_the_machines_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIKBORD_CONFIG", raising=False)
    monkeypatch.delenv("PRIKBORD_TIMEZONE", raising=False)
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    assert machine_timezone() == "America/Sao_Paulo"
    assert load_settings(None).timezone == "America/Sao_Paulo"
    monkeypatch.setenv("TZ", "Not/A_Zone")
    assert machine_timezone() != "Not/A_Zone"  # falls through to the system's zone files, else UTC
    monkeypatch.setenv("PRIKBORD_TIMEZONE", "Asia/Tokyo")
    assert load_settings(None).timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("content", "key", "advice"),
    [
        (
            '[[channels]]\nname = "team"\nplatform = "slack"\nchat_id = "C1"\n',
            "channels[0].platform",
            "configure [slack]",
        ),
        ("[web]\nport = 0\n", "web.admin_token", "PRIKBORD_WEB__ADMIN_TOKEN"),
        ("[console]\nenabled = false\n", "console.enabled", "the only channel, console, is disabled"),
        (
            '[telegram]\ntoken = "1:abc"\nmode = "webhook"\nwebhook_secret = "s"\n[web]\nport = 0\nadmin_token = "t"\n',
            "web.public_url",
            "set [web] public_url",
        ),
    ],
)
def test_check_and_run_refuse_what_cannot_work(tmp_path: Path, content: str, key: str, advice: str) -> None:
    config = tmp_path / "prikbord.toml"
    config.write_text(content)
    for command in ("check", "run"):
        result = subprocess.run(
            [sys.executable, "-m", "bot", command, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            input="",
        )
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"error: {key}:" in result.stderr and advice in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "prikbord.db").exists()  # refused before anything started


def test_a_complete_config_has_no_startup_problems(tmp_path: Path) -> None:
    from bot.config import startup_problems

    config = tmp_path / "prikbord.toml"
    config.write_text(
        '[telegram]\ntoken = "1:abc"\nmode = "webhook"\nwebhook_secret = "s"\n'
        '[web]\nport = 8080\nadmin_token = "t"\npublic_url = "https://bot.example.org"\n'
        '[[channels]]\nname = "team"\nplatform = "telegram"\nchat_id = "-1001"\n'
    )
    assert startup_problems(load_settings(config)) == []


def test_slack_without_a_signing_secret_is_a_config_error_also_in_socket_mode() -> None:
    from bot.app import App
    from bot.config import ConfigError, Settings

    settings = Settings(
        console={"enabled": False},
        slack={"bot_token": "xoxb-test", "app_token": "xapp-test"},
        channels=[{"name": "general", "platform": "slack", "chat_id": "C01"}],
    )
    with pytest.raises(ConfigError, match="signing_secret"):
        App(settings)
