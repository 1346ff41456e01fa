"""The deployment files say what the code does.

- The Slack app manifests ask for the routes the web app serves, every scope and event subscription the
  Slack adapter needs, and nothing more.
- The systemd unit, the Dockerfile and compose.yaml start the command the README documents
  (`prikbord run`), with environment keys that are real settings; and compose's commands, run with
  compose's own environment, bring prikbord up on a real PostgreSQL with the schema migrated.
- The docs name only settings that exist.

Docker is not available where the tests run, so the files are read statically, and the container's
commands are run here as processes.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import adapters.slack.adapter as slack_adapter
from adapters.slack.translate import MAIN_COMMAND, parse_event_callback
from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.web import create_web_app
from content.db import async_url, create_store
from content.migrate import upgrade
from tests.conftest import require_postgres
from tests.web.conftest import PUBLIC_URL, build_app

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
HTTP_MANIFEST = DEPLOY / "slack-manifest.yaml"
SOCKET_MANIFEST = DEPLOY / "slack-manifest-socket-mode.yaml"

# What each Web API method the adapter calls needs (Slack's method reference, "Required scopes" for bot
# tokens). A method missing here fails the test: look its scopes up and add it here and to both manifests.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "apps.connections.open": set(),  # the app-level token's connections:write, not a bot scope
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "conversations.open": {"im:write"},
    # find_sent reads the channels prikbord posts in, public and private, and people's DMs (private copies).
    "conversations.history": {"channels:history", "groups:history", "im:history"},
    "conversations.list": {"channels:read", "groups:read"},  # public_channel,private_channel
    "conversations.members": {"channels:read", "groups:read"},  # the channels' member lists (audience)
    "views.publish": set(),
    "views.open": set(),  # the post modal: "No scope required" (the method's reference)
    "users.lookupByEmail": {"users:read.email"},  # the directory import's Slack emails
    "users.info": {"users:read"},  # a person's locale (include_locale) for their language
}
# Event type the adapter parses → (subscriptions in the manifest, the scopes they need). Slack's event
# reference; "message" is subscribed per kind of conversation (thread replies in public and private channels).
EVENT_SUBSCRIPTIONS: dict[str, tuple[set[str], set[str]]] = {
    "message": ({"message.channels", "message.groups"}, {"channels:history", "groups:history"}),
    "reaction_added": ({"reaction_added"}, {"reactions:read"}),
    "reaction_removed": ({"reaction_removed"}, {"reactions:read"}),
    "member_joined_channel": ({"member_joined_channel"}, {"channels:read", "groups:read"}),
    "member_left_channel": ({"member_left_channel"}, {"channels:read", "groups:read"}),
    "channel_left": ({"channel_left"}, {"channels:read"}),
    "group_left": ({"group_left"}, {"groups:read"}),
    "user_change": ({"user_change"}, {"users:read"}),  # a deactivated account leaves the audience
    "app_home_opened": ({"app_home_opened"}, set()),
}


def manifest(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def request_urls(app: Mapping[str, Any]) -> list[str]:
    settings = app.get("settings", {})
    urls = [c["url"] for c in app["features"]["slash_commands"] if "url" in c]
    for section in ("event_subscriptions", "interactivity"):
        if "request_url" in settings.get(section, {}):
            urls.append(settings[section]["request_url"])
    return urls


def methods_called() -> set[str]:
    """Every Web API method the Slack package calls: ``self._call("chat.postMessage", …)``,
    ``call_api("conversations.list", …)``, or a module's ``METHOD = "users.lookupByEmail"``."""
    found: set[str] = set()
    for module in sorted(Path(slack_adapter.__file__).parent.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        found.update(re.findall(r'(?:_call|call_api)\(\s*"([a-z]+(?:\.[A-Za-z]+)+)"', source))
        found.update(re.findall(r'^METHOD = "([a-z]+(?:\.[A-Za-z]+)+)"', source, re.M))
    return found


def events_parsed() -> set[str]:
    """Every event type parse_event_callback acts on (``kind == "x"`` / ``kind in ("x", "y")``)."""
    source = inspect.getsource(parse_event_callback)
    found: set[str] = set()
    for match in re.finditer(r"kind (?:==|in) (\([^)]*\)|\"[a-z_]+\")", source):
        found.update(re.findall(r'"([a-z_]+)"', match.group(1)))
    return found


# ---------------------------------------------------------------------------------------------
# Slack app manifests


def test_the_manifests_parse_and_differ_only_in_how_slack_reaches_prikbord() -> None:
    http, socket_mode = manifest(HTTP_MANIFEST), manifest(SOCKET_MANIFEST)
    assert http["settings"]["socket_mode_enabled"] is False and socket_mode["settings"]["socket_mode_enabled"] is True
    assert request_urls(socket_mode) == []  # Socket Mode: Slack needs no address of ours
    assert len(request_urls(http)) == 3  # the slash command, events and interactivity
    assert http["oauth_config"] == socket_mode["oauth_config"]
    assert (
        http["settings"]["event_subscriptions"]["bot_events"]
        == socket_mode["settings"]["event_subscriptions"]["bot_events"]
    )
    for app in (http, socket_mode):
        assert [c["command"] for c in app["features"]["slash_commands"]] == [MAIN_COMMAND]
        assert app["settings"]["interactivity"]["is_enabled"] is True  # button presses
        assert app["features"]["app_home"]["home_tab_enabled"] is True  # views.publish of the must-reads


async def test_the_manifest_request_urls_are_routes_of_the_web_app(tmp_path: Path) -> None:
    """Built as `prikbord run` builds it; every URL in the manifest reaches the Slack adapter, and a path
    the app does not serve would be a 404."""
    urls = request_urls(manifest(HTTP_MANIFEST))
    assert {urlsplit(u).scheme for u in urls} == {"https"}  # Slack sends only to HTTPS
    store = create_store(f"sqlite:///{tmp_path}/web.db")
    await upgrade(store)
    app = build_app(store, FrozenClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))
    await app.start()
    try:
        asgi = create_web_app(app.web_deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url=PUBLIC_URL) as client:
            slack = app.adapters["slack"]
            for n, url in enumerate(urls):
                body = f'{{"type":"event_callback","n":{n}}}'.encode()
                answer = await client.post(
                    urlsplit(url).path, content=body, headers={"content-type": "application/json"}
                )
                assert answer.status_code == 200, (url, answer.status_code)
                assert slack.webhooks[-1][1] == body  # type: ignore[attr-defined]  # handed to the adapter as sent
            wrong = await client.post("/slack/event", content=b"{}", headers={"content-type": "application/json"})
            assert wrong.status_code in (404, 405)
    finally:
        await app.stop()
        await store.close()


@pytest.mark.parametrize("path", [HTTP_MANIFEST, SOCKET_MANIFEST], ids=["http", "socket-mode"])
def test_the_manifest_asks_for_exactly_the_scopes_and_events_the_adapter_uses(path: Path) -> None:
    app = manifest(path)
    called = methods_called()
    assert {"chat.postMessage", "conversations.list"} <= called  # the scan finds the calls at all
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, (
        f"the Slack adapter calls {sorted(unknown)}: add their scopes to METHOD_SCOPES and the manifests"
    )
    parsed = events_parsed()
    assert {"reaction_added", "message"} <= parsed
    unmapped = parsed - EVENT_SUBSCRIPTIONS.keys()
    assert not unmapped, f"the adapter parses {sorted(unmapped)}: add them to EVENT_SUBSCRIPTIONS and the manifests"

    needed_scopes = {"commands"}.union(*(METHOD_SCOPES[m] for m in called))
    needed_events: set[str] = set()
    for kind in parsed:
        events, scopes = EVENT_SUBSCRIPTIONS[kind]
        needed_events |= events
        needed_scopes |= scopes
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    events = set(app["settings"]["event_subscriptions"]["bot_events"])
    assert needed_scopes <= scopes, f"missing scopes: {sorted(needed_scopes - scopes)}"
    assert scopes <= needed_scopes, (
        f"scopes nothing uses (ask for no more than needed): {sorted(scopes - needed_scopes)}"
    )
    assert events == needed_events, (sorted(needed_events - events), sorted(events - needed_events))


# ---------------------------------------------------------------------------------------------
# The command each deployment starts


def readme_run_command() -> list[str]:
    """The command the README starts prikbord with (its first code block: `.venv/bin/prikbord run`)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    found = re.search(r"(\S*prikbord) (run)\b", first_block)
    assert found, "the README's first code block starts prikbord with `prikbord run`"
    assert "| `prikbord run` |" in readme  # and its command table describes that command
    return ["prikbord", found.group(2)]


def systemd_unit() -> dict[str, list[str]]:
    """``[Service]`` keys of deploy/prikbord.service (a key may repeat, as Environment= does)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in (DEPLOY / "prikbord.service").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}.{key}", []).append(value)
    return values


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def dockerfile_cmd() -> list[str]:
    lines = (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
    cmd = [line for line in lines if line.startswith("CMD ")]
    assert len(cmd) == 1
    parsed = yaml.safe_load(cmd[0][4:])  # the exec form is a JSON array
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def as_prikbord(argv: list[str]) -> list[str]:
    assert Path(argv[0]).name == "prikbord", argv
    return ["prikbord", *argv[1:]]


def test_systemd_docker_and_compose_start_the_readme_command() -> None:
    command = readme_run_command()
    unit = systemd_unit()
    [exec_start] = unit["Service.ExecStart"]
    assert as_prikbord(shlex.split(exec_start)) == command
    services = compose()["services"]
    assert services["prikbord"]["command"] == command
    assert dockerfile_cmd() == command
    # The one-off migration before it is the README's `prikbord db upgrade`.
    assert services["migrate"]["command"] == ["prikbord", "db", "upgrade"]
    assert "`prikbord db upgrade`" in (REPO / "README.md").read_text(encoding="utf-8")
    assert services["prikbord"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def unit_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for assignment in systemd_unit()["Service.Environment"]:
        key, _, value = assignment.partition("=")
        env[key] = value
    return env


def compose_environment(service: str, values: Mapping[str, str]) -> dict[str, str]:
    """The service's environment with ``${NAME:?…}`` filled in from ``values``, as compose does."""
    env = compose()["services"][service]["environment"]
    assert isinstance(env, dict)

    def fill(value: object) -> str:
        return re.sub(r"\$\{([A-Z_]+)(?::\?[^}]*)?\}", lambda m: values[m.group(1)], str(value))

    return {str(k): fill(v) for k, v in env.items()}


def settings_under(env: Mapping[str, str], config: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [k for k in os.environ if k.startswith("PRIKBORD_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key != "PRIKBORD_CONFIG":
            monkeypatch.setenv(key, value)
    return load_settings(config)


def container_path(path: str) -> Path:
    """A path inside the container → the repository file compose mounts there."""
    for volume in compose()["services"]["prikbord"]["volumes"]:
        source, target = volume.split(":")[:2]
        if path == target:
            return REPO / source
    raise AssertionError(f"compose mounts nothing at {path}")


def test_the_deployments_environment_is_made_of_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose_environment("prikbord", {"POSTGRES_PASSWORD": "pw", "PRIKBORD_ADMIN_TOKEN": "token-123"})
    settings = settings_under(env, container_path(env["PRIKBORD_CONFIG"]), monkeypatch)
    assert make_url(settings.database.url).get_backend_name() == "postgresql"
    assert settings.web.host == "0.0.0.0" and settings.web.port == 8080
    assert settings.web.admin_token is not None and settings.web.admin_token.get_secret_value() == "token-123"
    assert settings.console_enabled is False  # a container has no terminal: run must not end with stdin
    assert compose_environment("migrate", {"POSTGRES_PASSWORD": "pw", "PRIKBORD_ADMIN_TOKEN": "token-123"}) == env

    unit_env = unit_environment()
    assert (
        unit_env["PRIKBORD_CONFIG"] == "/etc/prikbord/prikbord.toml"
    )  # where the unit's comments copy deploy/prikbord.toml
    settings = settings_under(unit_env, DEPLOY / "prikbord.toml", monkeypatch)
    assert settings.console_enabled is False and settings.web.port == 8080 and settings.web.host == "127.0.0.1"


def test_every_setting_the_docs_and_deploy_files_name_exists() -> None:
    """``PRIKBORD_SECTION__KEY`` and ``[section] key`` in docs/*.md and deploy/* are keys of Settings."""
    files = [
        *sorted((REPO / "docs").glob("*.md")),
        *sorted(DEPLOY.iterdir()),
        REPO / "compose.yaml",
        REPO / "Dockerfile",
    ]
    assert len(files) >= 8
    sections = {name: field.annotation for name, field in Settings.model_fields.items()}
    named: set[tuple[str, str]] = set()
    for path in files:
        content = path.read_text(encoding="utf-8")
        for section, key in re.findall(r"PRIKBORD_([A-Z]+)__([A-Z_]+)", content):
            named.add((section.lower(), key.lower()))
        for section, key in re.findall(r"`\[([a-z_]+)\] ([a-z_]+)", content):
            named.add((section, key))
    assert ("telegram", "token") in named and ("slack", "signing_secret") in named
    for section, key in sorted(named):
        assert section in sections, f"there is no [{section}] section"
        model = sections[section]
        assert isinstance(model, type) and key in model.model_fields, f"[{section}] has no key {key!r}"


# ---------------------------------------------------------------------------------------------
# compose's commands on a real PostgreSQL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (as compose's postgres volume is on the first `up`)."""
    server = require_postgres()
    name = f"prikbord_deploy_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_compose_commands_bring_prikbord_up_on_postgresql(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compose's migrate then prikbord commands, with compose's environment (only the database host and
    the port differ: there is no `postgres` host here, and the test binds a free port)."""
    env = compose_environment("prikbord", {"POSTGRES_PASSWORD": "unused", "PRIKBORD_ADMIN_TOKEN": "deploy-token-42"})
    env["PRIKBORD_CONFIG"] = str(container_path(env["PRIKBORD_CONFIG"]))
    env["PRIKBORD_DATABASE__URL"] = fresh_database
    port = _free_port()
    env["PRIKBORD_WEB__HOST"], env["PRIKBORD_WEB__PORT"] = "127.0.0.1", str(port)
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")} | env
    bin_dir = Path(sys.executable).parent
    services = compose()["services"]

    def argv(service: str) -> list[str]:
        command = services[service]["command"]
        return [str(bin_dir / command[0]), *command[1:]]

    migrated = subprocess.run(
        argv("migrate"), env=process_env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr

    running = subprocess.Popen(
        argv("prikbord"),
        env=process_env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        health: int | None = None
        while time.monotonic() < deadline and running.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    health = answer.status
                    break
            except OSError:
                time.sleep(0.25)
        assert health == 200, running.stderr.read().decode() if running.poll() is not None else "no /healthz in 60 s"
    finally:
        running.send_signal(signal.SIGTERM)
        _, err = running.communicate(timeout=60)
    assert running.returncode == 0, err.decode()

    async def tables() -> set[str]:
        engine = create_async_engine(async_url(fresh_database))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                return {str(r[0]) for r in rows}
        finally:
            await engine.dispose()

    found = asyncio.run(tables())
    assert {"alembic_version", "posts", "deliveries", "channels"} <= found
