"""Per-adapter harnesses for the adapter contract suite (tests/adapters/test_contract.py).

Each entry maps an adapter name to an async context manager factory yielding an
:class:`~tests.adapters.harnesses.base.AdapterHarness` whose adapter is started and talks to its
platform (or loopback peer). Platform adapters add themselves here.
"""

from __future__ import annotations

from tests.adapters.harnesses.base import HarnessFactory
from tests.adapters.harnesses.console import console_harness
from tests.adapters.harnesses.matrix import matrix_harness
from tests.adapters.harnesses.slack import slack_harness
from tests.adapters.harnesses.telegram import telegram_harness

HARNESSES: dict[str, HarnessFactory] = {
    "console": console_harness,
    "slack": slack_harness,
    "telegram": telegram_harness,
    "matrix": matrix_harness,
}
