"""Several instances on one PostgreSQL share one Slack rate budget (#16): three ``prikbord run`` send one
post to 300 channels behind the Slack Web API peer with Slack's limits (1 message/s per channel, the
workspace-wide 20/s prikbord keeps). Every channel gets exactly one copy, the peer's limits hold (429s at
most 1 % of the sends), the work is shared, and each instance stops cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.faults.fanout import Process, SlackChannels, database, delivery_states, post, until
from tests.faults.scale_out import senders_of

pytestmark = pytest.mark.postgres

CHANNELS = 300
INSTANCES = 3
WORKSPACE_RATE = 20  # messages per second: prikbord's default and the peer's limit


def write_config(directory: Path, slack: SlackChannels, url: str) -> Path:
    lines = [
        'timezone = "Europe/Amsterdam"',
        "[database]",
        f"url = {json.dumps(url)}",
        "[console]",
        "enabled = false",
        *slack.config(),
        "[dispatch]",
        "share_rate_limits = true",
    ]
    for i, chat_id in enumerate(slack.chat_ids()):
        lines += ["[[channels]]", f'name = "vestiging-{i}"', 'platform = "slack"', f'chat_id = "{chat_id}"']
        lines.append('tags = ["everyone"]')
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prikbord.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_three_instances_send_to_300_slack_channels_within_one_workspace_budget(tmp_path: Path) -> None:
    require_postgres()
    slack = SlackChannels(CHANNELS)
    await slack.start()
    try:
        async with database("postgresql", tmp_path) as url:
            configs = [write_config(tmp_path / f"instance-{n}", slack, url) for n in range(INSTANCES)]
            await post(configs[0])
            runs = [await Process.run(config, n) for n, config in enumerate(configs)]
            try:

                async def all_delivered() -> bool:
                    for run in runs:
                        assert run.process.returncode is None, run.output()[-3000:]
                    return len(slack.copies()) == CHANNELS

                assert await until(all_delivered, 30 + 3 * CHANNELS / WORKSPACE_RATE, interval=0.2), (
                    f"{len(slack.copies())} of {CHANNELS} channels got the post"
                )
                await asyncio.sleep(2)  # a second copy would be here by now
                states = await delivery_states(url)
                senders = await senders_of(url)
            finally:
                exits = [await run.signal(signal.SIGTERM, 15) for run in runs]
        assert sorted(slack.copies().values()) == [1] * CHANNELS
        assert states == Counter({"sent": CHANNELS})
        posts = len(slack.peer.calls_of("chat.postMessage"))
        limited = Counter(c.method for c in slack.peer.calls if c.status == 429)
        assert slack.peer.rate_limited <= posts // 100, (
            f"{slack.peer.rate_limited} of {posts} sends met a 429: {limited}"
        )
        assert len(senders) == INSTANCES, f"the work was not shared: deliveries per instance {senders}"
        for run, (status, _) in zip(runs, exits, strict=True):
            assert status == 0, run.output()[-3000:]
            assert "Traceback" not in run.output(), run.output()[-3000:]
        print(
            f"{CHANNELS} Slack channels by {INSTANCES} instances: {limited['chat.postMessage']} 429s "
            f"of {posts} sends (all 429s: {dict(limited)})"
        )
    finally:
        await slack.stop()
