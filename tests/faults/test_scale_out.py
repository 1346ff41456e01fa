"""Several instances on one PostgreSQL share one rate budget (#16).

Three ``prikbord run`` processes (tests/faults/scale_out.py) send one post to 600 groups behind the Bot
API peer with Telegram's flood limits (30/s per bot, 1/s and 20/min per group). Asserted: every group
gets exactly one message; the peer's limits are respected (429s at most 1 % of the sends, each one
retried until delivered); every instance sent a share; each stops cleanly. Without the shared budget
the three would send up to 90/s and meet a flood of 429s. The fan-out's time beside the 30/s bound is
measured by ``bench/scale_out.py``, not here (no timed tests).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.faults.scale_out import fan_out

pytestmark = pytest.mark.postgres

GROUPS = 600
INSTANCES = 3


async def test_three_instances_send_within_one_bots_budget(tmp_path: Path) -> None:
    require_postgres()
    run = await fan_out(tmp_path, GROUPS, INSTANCES)
    log = run.exits[0][1][-3000:] if run.exits else ""
    assert run.delivered, f"{len(run.per_group)} of {GROUPS} groups got the post;\n{log}"
    assert run.states == Counter({"sent": GROUPS})
    assert sorted(run.per_group.values()) == [1] * GROUPS, {c: n for c, n in run.per_group.items() if n != 1}
    assert len([c for c in run.sends if c.status == 200]) == GROUPS
    assert len(run.limited) <= len(run.sends) // 100, f"{len(run.limited)} of {len(run.sends)} sends met a 429"
    assert len(run.senders) == INSTANCES, f"the work was not shared: deliveries per instance {run.senders}"
    for status, output in run.exits:
        assert status == 0, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
    assert not run.unknown_params
    print(f"{GROUPS} groups by {INSTANCES} instances in {run.took:.1f}s; the 30/s bound allows {run.bound:.1f}s")
