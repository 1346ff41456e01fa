"""``PRIKBORD_<SECTION>__<KEY>`` environment overrides (bot/config.py reads them itself: no pydantic-settings
to import at every command's start, issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, environment_overrides, load_settings


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("PRIKBORD_"):
            monkeypatch.delenv(name)


def test_names_are_case_insensitive_and_only_settings_count() -> None:
    environ = {
        "prikbord_web__port": "8080",
        "PRIKBORD_Quiet_Hours__START": "22:00",
        "PRIKBORD_TIMEZONE": "UTC",
        "PRIKBORD_CONFIG": "prikbord.toml",  # where the file is, not a setting
        "PRIKBORD_LOG_LEVEL": "debug",
        "PRIKBORD_WEB__": "no key",
        "HOME": "/root",
    }
    assert environment_overrides(environ) == {
        "web": {"port": "8080"},
        "quiet_hours": {"start": "22:00"},
        "timezone": "UTC",
    }


def test_json_arrays_and_objects_are_decoded_other_values_stay_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert environment_overrides({"PRIKBORD_MODERATION__ADMINS": '["slack:U1", "telegram:7"]'}) == {
        "moderation": {"admins": ["slack:U1", "telegram:7"]}
    }
    assert environment_overrides({"PRIKBORD_MODERATION__ADMINS": "[slack:U1"}) == {
        "moderation": {"admins": "[slack:U1"}
    }
    monkeypatch.setenv("PRIKBORD_MODERATION__ADMINS", '["slack:U1"]')
    monkeypatch.setenv("PRIKBORD_CONSOLE__ENABLED", "false")
    monkeypatch.setenv("PRIKBORD_WEB__PORT", "8080")
    settings = load_settings(None)
    assert settings.moderation.admins == ["slack:U1"]
    assert settings.console.enabled is False
    assert settings.web.port == 8080


def test_the_environment_overrides_the_file_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "prikbord.toml"
    config.write_text('[web]\nhost = "0.0.0.0"\nport = 1\nadmin_token = "from-file-token-0123456789"\n')
    monkeypatch.setenv("PRIKBORD_WEB__PORT", "8080")
    settings = load_settings(config)
    assert (settings.web.host, settings.web.port) == ("0.0.0.0", 8080)
    assert settings.web.admin_token is not None
    assert settings.web.admin_token.get_secret_value() == "from-file-token-0123456789"


def test_a_wrong_or_unknown_key_from_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIKBORD_WEB__BOGUS", "1")
    with pytest.raises(ConfigError, match=r"web\.bogus: unknown key"):
        load_settings(None)
    monkeypatch.delenv("PRIKBORD_WEB__BOGUS")
    monkeypatch.setenv("PRIKBORD_MODERATION__ADMINS", "slack:U1")  # a list needs JSON
    with pytest.raises(ConfigError, match=r"moderation\.admins"):
        load_settings(None)


def test_settings_built_in_code_do_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``prikbord demo`` builds its own throwaway settings: a token in the environment must not join it."""
    monkeypatch.setenv("PRIKBORD_TELEGRAM__TOKEN", "123:from-env")
    monkeypatch.setenv("PRIKBORD_DATABASE__URL", "postgresql://db/prikbord")
    settings = Settings(database={"url": "sqlite:///demo.db"})  # type: ignore[arg-type]
    assert settings.telegram.token is None
    assert settings.database.url == "sqlite:///demo.db"
    assert load_settings(None).database.url == "postgresql://db/prikbord"
