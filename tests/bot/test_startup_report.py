"""The summary `prikbord run` prints once started (pure: plain values in, lines out)."""

from __future__ import annotations

from bot.startup_report import AdapterLine, StartupFacts, hide_password, startup_lines


def test_the_summary_names_what_started_and_hides_the_password() -> None:
    facts = StartupFacts(
        version="1.2.3",
        adapters=[
            AdapterLine("telegram", True, "telegram: connected as @prikbord_bot (Prikbord), polling mode"),
            AdapterLine("slack", False, "slack: cannot reach https://slack.com/api/: invalid_auth"),
        ],
        channels={"telegram": ["kantoor", "lager"], "slack": []},
        web_url="http://127.0.0.1:8080/",
        public_url="https://bot.example.org",
        database_url="postgresql://prikbord:geheim@db.internal/prikbord",
        scheduler="follower",
        timezone="Europe/Amsterdam",
    )
    text = "\n".join(startup_lines(facts))
    assert text.startswith("prikbord 1.2.3 started")
    assert "telegram: connected — connected as @prikbord_bot (Prikbord), polling mode" in text
    assert "slack: NOT connected — cannot reach" in text
    assert "channels on telegram (2): kantoor, lager" in text
    assert "channels on slack (0): none (add [[channels]]" in text
    assert "web: http://127.0.0.1:8080/, public at https://bot.example.org" in text
    assert "database: postgresql://prikbord:***@db.internal/prikbord" in text and "geheim" not in text
    assert "scheduler: follower" in text and "timezone: Europe/Amsterdam" in text


def test_hide_password() -> None:
    assert hide_password("sqlite:///./prikbord.db") == "sqlite:///./prikbord.db"
    assert hide_password("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert hide_password("postgresql://u@h/d") == "postgresql://u@h/d"
