"""A real OpenID Connect provider on loopback (node-oidc-provider, tests/sso/provider.mjs) and a
prikbord with its web app and ``[sso]`` pointing at it; helpers click through the sign-in with httpx.

The provider is the ``oidc-provider`` npm package, installed by tests/sso/install-provider.sh (.ci/run
runs it) into .cache/oidc-provider/. Without node or the package the tests fail under CI and skip
(saying how to install) elsewhere."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from rich.console import Console

from adapters.base import Adapter, UserRef
from adapters.console.adapter import ConsoleAdapter
from bot.app import App
from bot.clock import FrozenClock
from content.db import Store
from tests.conftest import REPO, unavailable
from tests.web.conftest import AUTH, PUBLIC_URL, MemorySlack, web_settings

PROVIDER_VERSION = "9.13.3"  # as pinned in tests/sso/install-provider.sh
CACHE = REPO / ".cache" / "oidc-provider"
CLIENT_ID = "prikbord"
CLIENT_SECRET = "test-client-secret-for-loopback-only"
ACCOUNTS = {
    "anna": {"email": "anna@example.org", "name": "Anna de Vries"},
    "bram": {"email": "bram@example.org", "name": "Bram Bakker"},
    "nobody": {"email": "nobody@example.org", "name": "Not In The Directory"},
}


def _missing(reason: str) -> None:
    unavailable(
        f"{reason} (under CI the single sign-on tests must run: .ci/run installs it)",
        f"{reason}: run `bash tests/sso/install-provider.sh` to run the single sign-on tests",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Provider:
    issuer: str

    def misbehave(self, how: str) -> None:
        """``tamper`` | ``issuer`` | ``audience`` | ``none``: what the next ID tokens look like."""
        httpx.post(f"{self.issuer}/test/misbehave", content=how).raise_for_status()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    package = CACHE / "node_modules" / "oidc-provider" / "package.json"
    if not package.exists():
        _missing(f"the oidc-provider npm package is not installed in {CACHE}")
    version = json.loads(package.read_text())["version"]
    assert version == PROVIDER_VERSION, f"oidc-provider {version} is installed, the tests pin {PROVIDER_VERSION}"
    # Beside its node_modules, so `import 'oidc-provider'` resolves.
    script = CACHE / "provider.mjs"
    shutil.copyfile(Path(__file__).with_name("provider.mjs"), script)
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": f"{PUBLIC_URL}/sso/callback",
        "ACCOUNTS": json.dumps(ACCOUNTS),
    }
    process = subprocess.Popen(
        [str(node), str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening "):
            process.kill()
            errors = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the OpenID provider did not start: {line}{errors}")
        issuer = line.split(" ", 1)[1].strip()
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{issuer}/.well-known/openid-configuration").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Provider(issuer)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sso_settings(issuer: str, **sso: object):  # type: ignore[no-untyped-def]
    return web_settings(
        sso={"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **sso},
    )


class SsoHarness:
    def __init__(self, app: App, provider: Provider, asgi: object, clock: FrozenClock) -> None:
        self.app = app
        self.provider = provider
        self.asgi = asgi
        self.clock = clock
        self.admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url=PUBLIC_URL, headers=AUTH)  # type: ignore[arg-type]

    @property
    def console(self) -> ConsoleAdapter:
        adapter = self.app.adapters["console"]
        assert isinstance(adapter, ConsoleAdapter)
        return adapter

    def browser(self) -> httpx.AsyncClient:
        """A person's browser on prikbord: its own cookies, no admin token."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi), base_url=PUBLIC_URL)  # type: ignore[arg-type]

    async def link_command(self, user: str) -> str:
        """``/link`` typed on the console by ``user``: the link from the private answer."""
        before = len(self.console.private)
        await self.console.feed(f"{user}: /link")
        await self.app.settle()
        answers = [text for who, text in self.console.private[before:] if who == user]
        assert answers, f"no private answer to /link for {user}"
        found = re.search(r"(http\S+/sso/start/\S+)", answers[-1])
        assert found, answers[-1]
        return found.group(1)

    async def link_url(self, platform: str, user_id: str, name: str = "") -> str:
        return await self.app.linking.issue_link(UserRef(platform, user_id, name))

    async def sign_in(self, link: str, login: str = "anna", browser: httpx.AsyncClient | None = None) -> httpx.Response:
        """Open the link in a browser and sign in at the provider; the last page prikbord shows."""
        own = browser is None
        browser = browser or self.browser()
        try:
            answer = await browser.get(link.removeprefix(PUBLIC_URL))
            async with httpx.AsyncClient() as at_provider:
                for _ in range(20):
                    if answer.status_code not in (302, 303):
                        return answer
                    target = urljoin(str(answer.url), answer.headers["location"])
                    if target.startswith(PUBLIC_URL):
                        answer = await browser.get(target.removeprefix(PUBLIC_URL))
                        continue
                    answer = await at_provider.get(target)
                    if answer.status_code == 200 and "/interaction/" in str(answer.url):
                        answer = await at_provider.post(str(answer.url), data={"login": login})
                raise AssertionError("the sign-in went round in circles")
        finally:
            if own:
                await browser.aclose()

    async def accounts(self) -> dict[str, list[str]]:
        employees = (await self.admin.get("/api/employees")).json()
        return {e["email"] or e["name"]: e["identities"] for e in employees}

    async def audit(self, action: str) -> list[dict[str, object]]:
        entries = (await self.admin.get("/api/audit", params={"limit": 100})).json()
        return [e for e in entries if e["action"] == action]


async def build_sso(store: Store, provider: Provider, **sso: object) -> AsyncIterator[SsoHarness]:
    from bot.web import create_web_app

    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    adapters: dict[str, Adapter] = {
        "console": ConsoleAdapter(output=Console(file=io.StringIO(), width=120)),
        "slack": MemorySlack(),
    }
    app = App(sso_settings(provider.issuer, **sso), clock=clock, store=store, adapters=adapters, counter_debounce=0.0)
    await app.start()
    harness = SsoHarness(app, provider, create_web_app(app.web_deps), clock)
    try:
        yield harness
    finally:
        harness.provider.misbehave("none")
        await harness.admin.aclose()
        await app.stop()


@pytest.fixture
async def sso(store: Store, oidc_provider: Provider) -> AsyncIterator[SsoHarness]:
    async for harness in build_sso(store, oidc_provider):
        yield harness
