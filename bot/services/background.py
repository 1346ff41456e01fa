"""Work that must not hold up the event that caused it, and that a clean stop still finishes.

A command's answer is sent after the command ran and was recorded. Sent inline, an answer waiting out a
platform's ``retry_after`` held back every later update of the same poll or webhook queue, so presses and
commands that arrived meanwhile were not yet stored when a reminder round picked its people. Answers go
here instead: the event is done as soon as its effect is stored, the answer follows in its turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("prikbord.background")


class BackgroundTasks:
    """Runs coroutines beside the caller; ``drain`` waits for them (bounded) and cancels the rest."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=self._name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The work logs its own failures; this is the last net, so nothing fails unseen.
            log.error("%s failed: %s: %s", self._name, type(error).__name__, error)

    async def idle(self, timeout: float) -> set[asyncio.Task[None]]:
        """Wait up to ``timeout`` seconds for what runs now → the tasks still unfinished."""
        pending = set(self._tasks)
        if not pending:
            return set()
        _, unfinished = await asyncio.wait(pending, timeout=timeout)
        return unfinished

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for what runs, then cancel the rest → how many were cancelled."""
        unfinished = await self.idle(timeout)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if unfinished:
            log.warning("%d %s were still waiting at stop and were given up", len(unfinished), self._name)
        return len(unfinished)
