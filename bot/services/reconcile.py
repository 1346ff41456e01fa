"""Reconciliation: deliveries left ``sending`` by a process that died (kill -9, a crash, a hung host).

Every instance keeps the leases of its own claims fresh while their sends are under way
(:meth:`LeaseKeeper.renew`) and sweeps for claims whose lease ran out, continuously, not only at
start-up (:meth:`LeaseKeeper.sweep`). A stale claim is asked about on its platform first
(``Adapter.find_sent``): Slack finds the message by the delivery in its ``metadata``, Matrix by its
transaction id; found means ``sent``, without a second copy. Telegram cannot tell: the delivery is
due again, and a send whose answer was lost is sent twice — a post not read is worse than one read
twice. Matrix resends with the same transaction id, which the homeserver de-duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import timedelta

from adapters.base import Adapter, ChatRef, DeliveryError, PermanentError
from bot.clock import Clock
from content import outbox
from content.db import Store
from content.direct import unopened_user

log = logging.getLogger("prikbord.dispatch")


def idempotency_key(delivery_id: int) -> str:
    """The key a delivery is sent with (see ``Composer.compose``) and found by after a crash."""
    return f"prikbord-d{delivery_id}"


class LeaseKeeper:
    """Renews this instance's claims and reconciles everyone's stale ones."""

    def __init__(
        self, store: Store, adapters: Mapping[str, Adapter], clock: Clock, instance_id: str, lease: timedelta
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._clock = clock
        self._instance_id = instance_id
        self._lease = lease

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: a third of the lease, so two renewals may fail before it runs out."""
        return self._lease.total_seconds() / 3

    @property
    def sweep_every(self) -> float:
        """Seconds between sweeps: a stale claim is found within a quarter of a lease after it expired."""
        return self._lease.total_seconds() / 4

    async def renew(self, under_way: Collection[int]) -> int:
        """Push the lease of the claims this instance is sending now ahead; returns how many."""
        if not under_way:
            return 0
        return await outbox.renew_leases(self._store, self._instance_id, self._clock.now() + self._lease, under_way)

    async def sweep(self) -> int:
        """Stale claims: found on the platform → sent, else due again. Returns how many were settled.

        The platforms are asked outside any store transaction: an adapter's ``find_sent`` may read the
        store itself (Matrix keeps its transaction records there) or make an HTTP call, and on SQLite
        every transaction holds the write lock.
        """
        now = self._clock.now()
        async with self._store.sessions() as session:
            stale = await outbox.stale_claims(session, now)
        if not stale:
            return 0
        found: dict[int, str | None] = {}
        for claim in stale:
            adapter = self._adapters.get(claim.platform)
            if adapter is None:
                found[claim.delivery_id] = None
                continue
            if unopened_user(claim.chat_id) is not None:
                # A private chat is stored as opened before a copy is sent there: nothing was sent yet.
                found[claim.delivery_id] = None
                continue
            try:
                chat = ChatRef(claim.platform, claim.chat_id)
                ref = await adapter.find_sent(chat, idempotency_key(claim.delivery_id))
            except PermanentError:
                ref = None  # the chat is gone: the resend fails it and tells the moderators
            except DeliveryError as exc:
                # Resending now could post a second copy; ask again at the next sweep.
                log.warning("could not ask %s whether delivery %d was sent: %s", claim.platform, claim.delivery_id, exc)
                continue
            found[claim.delivery_id] = ref.message_id if ref is not None else None
        settled = await outbox.settle_stale(self._store, found, now)
        if settled:
            already = sum(1 for m in found.values() if m is not None)
            log.info(
                "reconciled %d deliveries left in flight by a process that stopped (%d found already sent)",
                settled,
                already,
            )
        return settled
