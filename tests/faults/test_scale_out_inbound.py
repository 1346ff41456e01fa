"""Inbound on every instance (#16): 20,000 Slack button presses spread over the webhooks of three
``prikbord run`` processes on one PostgreSQL, as behind a load balancer, each counted exactly once; and
the same press delivered to two instances at the same moment is counted once too."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_postgres
from tests.faults.fanout import TITLE, Process, database, post, response_count, until
from tests.faults.prikbord_process import free_port
from tests.peers.slack import SignedRequest, SlackPeer, Window

pytestmark = pytest.mark.postgres

INSTANCES = 3
PRESSES = 20_000
DOUBLES = 500  # of them, also sent to a second instance at the same moment
CONCURRENCY = 48


def write_config(directory: Path, peer: SlackPeer, url: str, port: int, channel: str) -> Path:
    lines = [
        'timezone = "Europe/Amsterdam"',
        "[database]",
        f"url = {json.dumps(url)}",
        "[console]",
        "enabled = false",
        "[slack]",
        f"bot_token = {json.dumps(peer.bot_token)}",
        f"signing_secret = {json.dumps(peer.signing_secret)}",
        f"api_base_url = {json.dumps(peer.api_base_url)}",
        "[web]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'admin_token = "scale-out-admin-token"',
        "[[channels]]",
        'name = "algemeen"',
        'platform = "slack"',
        f'chat_id = "{channel}"',
        'tags = ["everyone"]',
    ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prikbord.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_twenty_thousand_presses_over_three_instances_each_count_once(tmp_path: Path) -> None:
    require_postgres()
    # The answers (ephemeral "counted") go out paced; the peer's workspace rate would only slow them.
    async with SlackPeer(workspace_rate=None, per_channel_rate=Window(1, 1.0)) as peer:
        channel = peer.add_channel("algemeen")
        async with database("postgresql", tmp_path) as url:
            ports = [free_port() for _ in range(INSTANCES)]
            configs = [write_config(tmp_path / f"instance-{n}", peer, url, p, channel) for n, p in enumerate(ports)]
            await post(configs[0])
            runs = [await Process.run(config, n) for n, config in enumerate(configs)]
            try:
                async with httpx.AsyncClient(timeout=30) as client:

                    async def up() -> bool:
                        for run in runs:
                            assert run.process.returncode is None, run.output()[-3000:]
                        try:
                            for port in ports:
                                await client.get(f"http://127.0.0.1:{port}/healthz")
                        except httpx.TransportError:
                            return False
                        return any(TITLE in (m.text or "") for m in peer.messages(channel))

                    assert await until(up, 60), runs[0].output()[-3000:]
                    [message] = [m for m in peer.messages(channel) if TITLE in (m.text or "")]
                    action = _ack_action(message.blocks or [])
                    began = time.monotonic()
                    presses = [peer.press(f"medewerker-{i}", channel, message.ts, action) for i in range(PRESSES)]
                    built = time.monotonic()
                    statuses = await _deliver(client, ports, presses)
                    delivered = time.monotonic()
                assert statuses == {200: PRESSES + DOUBLES}, statuses

                async def all_counted() -> bool:
                    return await response_count(url) >= PRESSES

                assert await until(all_counted, 120), f"{await response_count(url)} of {PRESSES} counted"
                stored = time.monotonic()
                await asyncio.sleep(2)  # a second count would be stored by now
                assert await response_count(url) == PRESSES
                print(
                    f"{PRESSES} presses built in {built - began:.1f}s, delivered to {INSTANCES} instances in "
                    f"{delivered - built:.1f}s ({PRESSES / (delivered - built):.0f}/s), all counted "
                    f"{stored - delivered:.1f}s later"
                )
            finally:
                exits = [await run.signal(signal.SIGTERM, 30) for run in runs]
            for run, (status, _) in zip(runs, exits, strict=True):
                assert status == 0, run.output()[-3000:]
                assert "Traceback" not in run.output(), run.output()[-3000:]


async def _deliver(client: httpx.AsyncClient, ports: list[int], presses: list[SignedRequest]) -> dict[int, int]:
    """Round robin over the instances, ``CONCURRENCY`` requests at a time; the first ``DOUBLES`` presses
    also go to the next instance at the same moment."""
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(port: int, request: SignedRequest) -> None:
        async with gate:
            answer = await client.post(
                f"http://127.0.0.1:{port}/slack/events", content=request.body, headers=request.headers
            )
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    jobs = []
    for i, request in enumerate(presses):
        jobs.append(one(ports[i % len(ports)], request))
        if i < DOUBLES:
            jobs.append(one(ports[(i + 1) % len(ports)], request))
    await asyncio.gather(*jobs)
    return statuses


def _ack_action(blocks: list[dict[str, object]]) -> str:
    for block in blocks:
        for element in block.get("elements", []) or []:  # type: ignore[attr-defined]
            if isinstance(element, dict) and element.get("type") == "button":
                return str(element["action_id"])
    raise AssertionError(f"no button in {blocks}")
