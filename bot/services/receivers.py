"""One receiver per platform among several instances (PostgreSQL): Telegram's polling and the Matrix sync
loop run in the instance that holds the platform's advisory lock, and another takes over within
``retry`` seconds when that one dies (its lock connection closes and PostgreSQL frees the lock). Webhooks
need none of this: every instance serves them and the store counts each event once.

The receiving adapters keep their position where every instance sees it: Telegram confirms updates to
Telegram itself (the next poller's offset starts after the last one confirmed, so updates fetched but
not confirmed by a dead owner come again and are de-duplicated by their update id), the Matrix sync
token is in the store (adapter_state).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from adapters.base import Adapter
from content.db import Store
from scheduler.leader import LeaderElection

log = logging.getLogger("prikbord.receivers")
Hook = Callable[[], Awaitable[None]]


def lock_name(platform: str) -> str:
    return f"prikbord-receive-{platform}"


class ReceiverOwnership:
    def __init__(self, store: Store, adapters: Iterable[Adapter], retry: float) -> None:
        self._store = store
        self._adapters = [a for a in adapters if a.single_receiver]
        self._retry = retry
        self._others: list[tuple[str, str, str, Hook, Hook]] = []  # (key, lock name, role, on, off)
        self.elections: dict[str, LeaderElection] = {}

    def also(self, name: str, role: str, on_elected: Hook, on_deposed: Hook) -> None:
        """Another job for one instance at a time (the member-list refresh), under its own lock."""
        self._others.append((name, name, role, on_elected, on_deposed))

    async def start(self) -> None:
        receivers = [
            (a.platform, lock_name(a.platform), f"the {a.platform} receiver", a.start_receiving, a.stop_receiving)
            for a in self._adapters
        ]
        # After the receivers: a first member-list read needs the rooms the first sync joins.
        for key, name, role, on_elected, on_deposed in [*receivers, *self._others]:
            election = LeaderElection(
                self._store.engine,
                on_elected=on_elected,
                on_deposed=on_deposed,
                retry=self._retry,
                name=name,
                role=role,
            )
            self.elections[key] = election
            await election.start()

    async def stop(self) -> None:
        for election in self.elections.values():
            await election.stop()
        self.elections.clear()

    def receiving(self) -> list[str]:
        """The platforms this instance receives for now."""
        return sorted(p for p, e in self.elections.items() if e.is_leader and not p.startswith("prikbord-"))
