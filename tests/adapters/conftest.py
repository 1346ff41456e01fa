"""Fixtures of the adapter tests: the real Synapse homeserver for the Matrix tests.

The fixtures live in ``tests/matrix_server.py`` and are registered for every test by
``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from tests.matrix_server import SYNAPSES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How long Synapse took to start (the Matrix tests' fixed cost), when it was started."""
    for line in SYNAPSES.report:
        terminalreporter.write_line(line)
