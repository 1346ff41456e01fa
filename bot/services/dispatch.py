"""The dispatcher: per-platform workers that claim due deliveries, send them within the platform's
rate limits, and record what happened.

- Rate limits: the shared :class:`~bot.services.rate_windows.RateBudget` (sliding windows per global
  and per chat rate); command answers wait in the same windows. One send, its retries and what its
  error means: :mod:`bot.services.sending`.
- Claims are sized to what is really in flight: what the platform's tightest rate sends within
  ``claim_horizon`` seconds. A crash therefore leaves few claims behind, and outcomes are committed as
  soon as they arrive (no long group commits), so a send whose answer was never recorded is rare.
- Retries (tenacity): transient errors back off with jitter; a 429 waits the platform's retry-after.
  After a few tries in process the delivery goes back to the outbox with a later ``next_attempt_at``;
  past ``max_attempts`` it fails and the moderators are told. Nothing is dropped silently.
- Permanent errors (bot removed, chat gone) fail the delivery, disable the channel and tell the
  moderators.
- Leases are short and renewed while sends are under way; claims whose lease ran out (their process
  died) are reconciled by every instance, continuously (:mod:`bot.services.reconcile`).
- A clean stop records every outcome: sends not started yet go back to the outbox untried, sends under
  way finish and are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from adapters.base import Adapter, OutboundMessage
from bot.clock import Clock
from bot.services.compose import Composer
from bot.services.health import PlatformHealth
from bot.services.notify import ModeratorNotifier
from bot.services.outcomes import OutcomeRecorder, SentDelivery, SentHook
from bot.services.rate_windows import RateBudget, in_flight_cap
from bot.services.reconcile import LeaseKeeper
from bot.services.sending import Sender, TimedHook
from bot.services.uploads import UploadOnce, cannot_carry, outbound_attachments, with_attachments
from content import direct, outbox, posts
from content.db import Store, store_error_line, store_unavailable
from content.models import DeliveryState, Post
from content.outbox import ClaimedDelivery, SendOutcome
from content.responses import counts_for

log = logging.getLogger("prikbord.dispatch")

__all__ = ["DispatchPolicy", "Dispatcher", "SentDelivery", "SentHook", "TimedHook"]


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 100
    # The most deliveries one platform holds claimed at once (platforms without a declared rate).
    concurrency: int = 64
    # How long a claim is ours without renewal; renewed every third of it while sends are under way.
    # After a crash, its claims are sent again within about 1.25 leases.
    lease: timedelta = timedelta(seconds=30)
    # Claims per platform: what its tightest global rate sends in this many seconds.
    claim_horizon: float = 1.0
    # Sends whose request is out or whose outcome is not committed yet, on a platform with a declared rate
    # that can neither de-duplicate a resend nor tell what was sent (Telegram): after a crash each of them
    # is sent again. One keeps that to at most one copy per crash; it costs no rate while a send and its
    # commit take less than the rate's interval (33 ms at Telegram's 30/s).
    max_unrecorded: int = 1
    # The same gate for a paid broadcast's sends (Telegram's allow_paid_broadcast, up to 1,000/s): one at a
    # time cannot keep that rate, so up to this many are out at once, and a crash during a paid broadcast can
    # send as many second copies. At 1,000/s, 32 allow a send and its commit 32 ms: with 16 (16 ms) the
    # send, the wait for the outcome writer and its commit often took longer, and a broadcast reached only
    # ~0.9 of the bound (bench/README.md, paid_broadcast). 32 second copies at most, of 10,000: ~0.3 %.
    max_unrecorded_paid: int = 32
    # The most deliveries one platform holds claimed at once while it sends a paid broadcast.
    paid_concurrency: int = 256
    in_process_tries: int = 4
    max_attempts: int = 8
    # A 429 asking us to wait longer than this goes back to the outbox instead of holding a slot.
    max_inline_wait: float = 30.0
    idle_poll: float = 1.0
    # First in-process backoff after a transient error (doubles, with jitter, up to 30 s).
    backoff_initial: float = 0.5
    # A clean stop waits this long for sends whose request is on its way (then leaves them to the sweep).
    stop_timeout: float = 8.0


class Dispatcher:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Adapter],
        composer: Composer,
        notifier: ModeratorNotifier,
        clock: Clock,
        policy: DispatchPolicy | None = None,
        instance_id: str | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._composer = composer
        self._notifier = notifier
        self._clock = clock
        self.policy = policy or DispatchPolicy()
        self.instance_id = instance_id or f"prikbord-{uuid.uuid4().hex[:12]}"
        self._budget = budget or RateBudget(adapters)
        self._uploads = UploadOnce(store, clock)
        self._keeper = LeaseKeeper(store, adapters, clock, self.instance_id, self.policy.lease)
        self._wake = {p: asyncio.Event() for p in adapters}
        self.health = PlatformHealth(clock)  # down after transient failures in a row: probes, no hot loop
        self._sender = Sender(
            adapters,
            self._budget,
            self.health,
            clock,
            in_process_tries=self.policy.in_process_tries,
            max_attempts=self.policy.max_attempts,
            max_inline_wait=self.policy.max_inline_wait,
            backoff_initial=self.policy.backoff_initial,
            max_unrecorded=self.policy.max_unrecorded,
            max_unrecorded_paid=self.policy.max_unrecorded_paid,
            stopping=lambda: self._stopping,
            wake=self.wake,
            chat_opened=self._chat_opened,
        )
        self._in_flight: dict[str, int] = defaultdict(int)
        # Deliveries whose send task runs (claimed, composed, not yet recorded): the leases renewed.
        self._under_way: set[int] = set()
        # Platforms whose last claim held a paid broadcast's deliveries: they claim at the paid rate.
        self._paid_lane: set[str] = set()
        self._outcomes = OutcomeRecorder(store, clock, notifier, self.instance_id, self._recorded)
        self._loops: list[asyncio.Task[None]] = []
        self._running = False
        self._keepers: list[asyncio.Task[None]] = []
        self._send_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stop_sweeping = asyncio.Event()
        self._stop_renewing = asyncio.Event()
        # Platforms that refused our credentials (the sender sees it): nothing more is claimed for them.
        self._stopped_platforms = self._sender.stopped_platforms

    def on_send_timed(self, hook: TimedHook) -> None:
        """Called with each send's latency (metrics)."""
        self._sender.on_send_timed(hook)

    def on_rate_limited(self, hook: TimedHook) -> None:
        """Called with each 429's retry-after (metrics)."""
        self._sender.on_rate_limited(hook)

    def on_sent(self, hook: SentHook) -> None:
        """Called for each delivery recorded as sent (engagement primes its message cache)."""
        self._outcomes.on_sent(hook)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._stop_sweeping.clear()
        self._stop_renewing.clear()
        await self.reconcile()
        self._running = True
        self._outcomes.start()
        self._keepers = [
            asyncio.create_task(self._renew_loop(), name="dispatch-lease-renewal"),
            asyncio.create_task(self._sweep_loop(), name="dispatch-stale-sweep"),
        ]
        self._loops = [
            asyncio.create_task(self._platform_loop(platform), name=f"dispatch-{platform}")
            for platform in self._adapters
        ]

    async def stop(self) -> None:
        """Stop claiming and record every outcome.

        Nothing is cancelled in the middle of a claim or of recording (a claim committed with no send
        behind it stayed ``sending``): the workers finish the claim in hand and leave; sends still
        waiting for a window go back to the outbox untried; sends whose request is on its way finish
        (within ``stop_timeout``) and are recorded; then the recorder writes what is queued and ends.
        """
        if not self._running:
            return
        self._running = False
        self._stopping = True
        self._stop_sweeping.set()
        self.wake()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._sender.cancel_waiting()
        if self._send_tasks:
            _, late = await asyncio.wait(set(self._send_tasks), timeout=self.policy.stop_timeout)
            for task in late:  # no answer in time: left `sending`, for the sweep to settle
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._outcomes.stop()
        self._stop_renewing.set()
        await asyncio.gather(*self._keepers, return_exceptions=True)
        self._loops, self._keepers = [], []

    def wake(self, platform: str | None = None) -> None:
        for name, event in self._wake.items():
            if platform is None or name == platform:
                event.set()

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is due or in flight on any running platform (scripts, tests)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if await self._quiet():
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("deliveries still outstanding after settle timeout")
            self.wake()
            await asyncio.sleep(0.005)

    async def _quiet(self) -> bool:
        if any(self._in_flight.values()) or self._outcomes.busy:
            return False
        platforms = [p for p in self._adapters if p not in self._stopped_platforms]
        if not platforms:
            return True
        now = self._clock.now()
        async with self._store.sessions() as session:
            for platform in platforms:
                due = await outbox.next_due_at(session, platform)
                if due is not None and due <= now:
                    return False
            return await outbox.sending_count(session, platforms) == 0

    # -- leases ---------------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Claims whose lease ran out (their process died): found on the platform → sent, else due again."""
        settled = await self._keeper.sweep()
        if settled:
            self.wake()
        return settled

    async def _sweep_loop(self) -> None:
        while not await _wait(self._stop_sweeping, self._keeper.sweep_every):
            try:
                await self.reconcile()
            except Exception as exc:
                every = self._keeper.sweep_every
                _log_failure(exc, "sweeping for stale deliveries failed; trying again in %.1fs", every)

    async def _renew_loop(self) -> None:
        while not await _wait(self._stop_renewing, self._keeper.renew_every):
            try:
                await self._keeper.renew(self._under_way)
            except Exception as exc:
                _log_failure(exc, "renewing the leases of deliveries under way failed; trying again")

    # -- the worker ---------------------------------------------------------------------------

    async def _platform_loop(self, platform: str) -> None:
        wake = self._wake[platform]
        caps = {
            paid: in_flight_cap(
                self._budget.sends_per_second(platform, paid),
                self.policy.claim_horizon,
                self.policy.paid_concurrency if paid else self.policy.concurrency,
            )
            for paid in (False, True)
        }
        while not self._stopping:
            try:
                wake.clear()  # before looking: a wake-up from now on is not missed
                cap = caps[platform in self._paid_lane]
                step = max(1, cap // 4)  # claim in steps, not one delivery per outcome recorded
                in_flight = self._in_flight[platform]
                free = cap - in_flight
                if platform in self._stopped_platforms or free <= 0 or (free < step and in_flight > 0):
                    await _wait(wake, self.policy.idle_poll)
                    continue
                limit = min(free, self.policy.batch_size)
                if self.health.is_down(platform):
                    # Down: one delivery at a time as a probe, spaced by the health's backoff.
                    delay = self.health.probe_delay(platform)
                    if in_flight > 0 or delay > 0:
                        await _wait(wake, delay or self.policy.idle_poll)
                        continue
                    self.health.probe_sent(platform)
                    limit = 1
                if not await self._claim_and_send(platform, limit):
                    await _wait(wake, await self._idle_delay(platform))
            except Exception as exc:
                _log_failure(exc, "dispatcher loop for %s failed; retrying", platform)
                await asyncio.sleep(self.policy.idle_poll)

    async def _claim_and_send(self, platform: str, limit: int) -> bool:
        # Counted in flight while claiming too: between the claim's commit and the sends' start,
        # settle() must not see this platform as quiet.
        self._in_flight[platform] += 1
        try:
            now = self._clock.now()
            batch = await outbox.claim_due(self._store, platform, self.instance_id, limit, now, self.policy.lease)
            messages = await self._compose(platform, batch) if batch else {}
            if any(m.paid_broadcast for m in messages.values()):
                self._paid_lane.add(platform)
            elif batch:
                self._paid_lane.discard(platform)
            for claimed in batch:
                self._in_flight[platform] += 1
                self._under_way.add(claimed.id)
                task = asyncio.create_task(self._send_one(platform, claimed, messages[claimed.id]))
                self._send_tasks.add(task)
                task.add_done_callback(self._send_tasks.discard)
        finally:
            self._in_flight[platform] -= 1
        return bool(batch)

    async def _idle_delay(self, platform: str) -> float:
        async with self._store.sessions() as session:
            due = await outbox.next_due_at(session, platform)
        if due is None:
            return self.policy.idle_poll
        return max(0.0, min(self.policy.idle_poll, (due - self._clock.now()).total_seconds()))

    async def _compose(self, platform: str, batch: Sequence[ClaimedDelivery]) -> dict[int, OutboundMessage]:
        post_ids = sorted({d.post_id for d in batch})
        async with self._store.sessions() as session:
            by_id: dict[int, Post] = await posts.posts_by_ids(session, post_ids)
            counts = await counts_for(session, post_ids)
            files = await outbound_attachments(session, platform, post_ids)
        compose = self._composer.compose_for_chat
        return {
            d.id: with_attachments(compose(platform, d.chat_id, by_id[d.post_id], counts[d.post_id], d.id), files)
            for d in batch
        }

    async def _send_one(self, platform: str, claimed: ClaimedDelivery, message: OutboundMessage) -> None:
        # Cancelled inside the platform's call, the send raises: its outcome is unknown, the sweep settles it.
        refused = cannot_carry(self._adapters[platform], message)
        if refused is not None:  # e.g. a scheduled post whose audience reached such a channel later
            outcome = SendOutcome(claimed.id, DeliveryState.FAILED, error=refused)
        else:
            async with self._uploads.ready(platform, message) as ready:  # one upload per post, then its reference
                outcome = await self._sender.send(platform, claimed, ready)
        await self._outcomes.put(platform, outcome, claimed)

    # -- recording -------------------------------------------------------------------------------

    async def _chat_opened(self, channel_id: int, chat_id: str) -> str:
        """A private copy's chat was just opened (content/direct.py): stored before the copy goes there."""
        async with self._store.transaction() as session:
            return await direct.record_opened(session, channel_id, chat_id)

    def _recorded(self, platform: str, outcome: SendOutcome) -> None:
        """An outcome was committed (or its commit failed): the send no longer counts as in flight."""
        self._in_flight[platform] -= 1
        self._under_way.discard(outcome.delivery_id)
        self._sender.recorded(platform, outcome)
        self._wake[platform].set()


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` passed; True when it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
    return event.is_set()


def _log_failure(exc: Exception, what: str, *args: object) -> None:
    """A loop's failure: one line with the driver's reason when the store is only unavailable for now
    (restarting, full, unreachable: nothing to debug), the traceback for anything else."""
    if store_unavailable(exc):
        log.warning(what + " (the store: %s)", *args, store_error_line(exc))
    else:
        log.exception(what, *args)
