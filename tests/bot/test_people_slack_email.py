"""The directory's ``slack`` column holding a person's Slack workspace email: `prikbord people import` (the
real console script, Slack configured to the loopback peer) and ``POST /api/employees/import`` look the
email up with users.lookupByEmail and link the account; an unknown email fails its row with the reason;
a Slack app without users:read.email says to add it, and nothing is imported."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.app import App
from bot.clock import FrozenClock
from bot.web import create_web_app
from content.db import Store
from tests.peers.slack import SlackPeer
from tests.web.conftest import AUTH, PUBLIC_URL, web_settings

DIRECTORY = (
    "email,name,department,slack\n"
    "anna@example.org,Anna de Vries,HR,Anna.deVries@Example.org\n"
    "bram@example.org,Bram,IT,{bram_id}\n"
    "cees@example.org,Cees,IT,cees@elders.example\n"
)


def slack_config(peer: SlackPeer) -> str:
    return (
        f'[slack]\nbot_token = "{peer.bot_token}"\nsigning_secret = "{peer.signing_secret}"\n'
        f'api_base_url = "{peer.api_base_url}"\n'
    )


async def prikbord(args: list[str], cwd: Path, config: str) -> tuple[int, str, str]:
    """The console script as a process, so the peer keeps serving in this test's loop meanwhile."""
    (cwd / "prikbord.toml").write_text(config)
    exe = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    process = await asyncio.create_subprocess_exec(
        exe,
        *args,
        "--config",
        str(cwd / "prikbord.toml"),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def workspace(peer: SlackPeer) -> tuple[str, str]:
    anna = peer.add_user("anna", email="anna.devries@example.org")
    bram = peer.add_user("bram", email="bram@example.org")
    return anna, bram


async def test_the_cli_links_a_slack_account_given_by_email(tmp_path: Path) -> None:
    async with SlackPeer() as peer:
        anna, bram = workspace(peer)
        (tmp_path / "people.csv").write_text(DIRECTORY.format(bram_id=bram))
        code, out, err = await prikbord(["people", "import", "people.csv"], tmp_path, slack_config(peer))
        assert code == 1, err  # one row failed, the others were stored
        assert out.startswith("created 2, updated 0, unchanged 0, accounts linked 2, failed 1"), out
        assert "line 4: no Slack account has the email 'cees@elders.example'" in out
        asked = sorted(c.args["email"] for c in peer.calls_of("users.lookupByEmail"))
        assert asked == ["anna.devries@example.org", "cees@elders.example"]  # not the row with a user id
        assert peer.calls_of("auth.test") == []  # the adapter was not started for it

        code, out, err = await prikbord(["people", "export", "anna@example.org"], tmp_path, slack_config(peer))
        assert code == 0, err
        accounts = {(a["platform"], a["user_id"], a["linked_how"]) for a in json.loads(out)["accounts"]}
        assert accounts == {("slack", anna, "directory")}

        code, out, err = await prikbord(["people", "import", "people.csv", "--json"], tmp_path, slack_config(peer))
        report = json.loads(out)
        assert (report["unchanged"], report["identities_linked"]) == (2, 0)  # importing again changes nothing
        assert report["failed"] == [{"line": 4, "reason": "no Slack account has the email 'cees@elders.example'"}]


async def test_the_cli_says_which_scope_the_slack_app_lacks(tmp_path: Path) -> None:
    async with SlackPeer(missing_scopes=frozenset({"users:read.email"})) as peer:
        _, bram = workspace(peer)
        (tmp_path / "people.csv").write_text(DIRECTORY.format(bram_id=bram))
        code, out, err = await prikbord(["people", "import", "people.csv"], tmp_path, slack_config(peer))
        assert code == 2, (out, err)
        assert "users:read.email" in err and "reinstall" in err and "nothing was imported" in err
        assert "Traceback" not in err and peer.bot_token not in out + err
        code, out, err = await prikbord(["people", "export", "bram@example.org"], tmp_path, slack_config(peer))
        assert code == 1 and "no employee has the email" in err  # not even the row with a user id


async def test_the_api_links_a_slack_account_given_by_email(store: Store) -> None:
    async with SlackPeer() as peer:
        anna, bram = workspace(peer)
        settings = web_settings(
            slack={
                "bot_token": peer.bot_token,
                "signing_secret": peer.signing_secret,
                "api_base_url": peer.api_base_url,
            }
        )
        app = App(settings, clock=FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)), store=store)
        transport = httpx.ASGITransport(app=create_web_app(app.web_deps))
        try:
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=AUTH) as client:
                answer = await client.post(
                    "/api/employees/import",
                    content=DIRECTORY.format(bram_id=bram),
                    headers={"content-type": "text/csv"},
                )
                assert answer.status_code == 200, answer.text
                result = answer.json()
                assert (result["created"], result["identities_linked"]) == (2, 2)
                assert result["failed"] == [
                    {"line": 4, "reason": "no Slack account has the email 'cees@elders.example'"}
                ]
                listed = (await client.get("/api/employees")).json()
                linked = {e["email"]: e["identities"] for e in listed}
                assert linked["anna@example.org"] == [f"slack:{anna}"]
                assert linked["bram@example.org"] == [f"slack:{bram}"]

                peer.missing_scopes = frozenset({"users:read.email"})
                refused = await client.post(
                    "/api/employees/import", json={"csv": "email,name,slack\ndirk@example.org,Dirk,dirk@example.org\n"}
                )
                assert refused.status_code == 502
                assert "users:read.email" in refused.text and "nothing was imported" in refused.text
                assert len((await client.get("/api/employees")).json()) == 2
        finally:
            await app.stop()
