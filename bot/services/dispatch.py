"""The dispatcher: per-platform workers that claim due deliveries, send them within the platform's
rate limits, and record what happened.

- Rate limits: one sliding window per declared global rate, and per chat per declared chat rate
  (``_Window``: a semaphore whose slots come back one period after each send finished).
- Retries (tenacity): transient errors back off with jitter; a 429 waits the platform's retry-after.
  After a few tries in process the delivery goes back to the outbox with a later ``next_attempt_at``;
  past ``max_attempts`` it fails and the moderators are told. Nothing is dropped silently.
- Permanent errors (bot removed, chat gone) fail the delivery, disable the channel and tell the
  moderators.
- Deliveries left ``sending`` by a crashed process are reconciled at start-up (``reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    wait_exponential_jitter,
)

from adapters.base import (
    Adapter,
    AdapterAuthError,
    ChatRef,
    DeliveryError,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PermanentError,
    Rate,
    RateLimited,
    TransientError,
)
from bot.clock import Clock
from bot.services.compose import Composer
from bot.services.notify import ModeratorNotifier
from content import outbox, posts
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, Post
from content.outbox import ClaimedDelivery, SendOutcome
from content.responses import counts_for

log = logging.getLogger("prikbord.dispatch")

SentHook = Callable[[str, str, str, int, int], None]  # platform, chat id, message id, delivery, post
TimedHook = Callable[[str, float], None]  # platform, seconds (a send's latency, or a 429's retry-after)


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 100
    concurrency: int = 64
    lease: timedelta = timedelta(minutes=5)
    in_process_tries: int = 4
    max_attempts: int = 8
    # A 429 asking us to wait longer than this goes back to the outbox instead of holding a slot.
    max_inline_wait: float = 30.0
    idle_poll: float = 1.0
    # First in-process backoff after a transient error (doubles, with jitter, up to 30 s).
    backoff_initial: float = 0.5


class _Window:
    """At most ``count`` sends in any ``period`` seconds, each counted until ``period`` after it *finished*.

    Telegram (and the loopback peer) count a message in a sliding window when it arrives, which is somewhere
    between our start and our finish; holding the slot until ``finish + period`` can therefore never put more
    than ``count`` into any window, whatever the latency does. aiolimiter's leaky bucket let a full burst
    through and the steady rate on top of it (up to twice ``count`` in the first period: 429s).
    """

    def __init__(self, rate: Rate) -> None:
        slots = max(1, int(rate.count))  # a fractional rate (0.5/s) becomes 1 per 2 s
        self._free = asyncio.Semaphore(slots)
        self._period = rate.period * slots / rate.count

    async def acquire(self) -> None:
        await self._free.acquire()

    def release_later(self) -> None:
        asyncio.get_running_loop().call_later(self._period, self._free.release)


class _PlatformLimiter:
    """The platform's global windows and one set of windows per chat."""

    def __init__(self, adapter: Adapter) -> None:
        limits = adapter.limits
        self._global = [_Window(r) for r in limits.global_rates]
        self._chat_rates = limits.per_chat_rates
        self._chats: dict[str, list[_Window]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: str) -> AsyncIterator[None]:
        """Hold a place in every window for one send; the places free up ``period`` after it ends."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = [_Window(r) for r in self._chat_rates]
        held: list[_Window] = []
        try:
            # Per-chat first: waiting for a chat's slot must not hold a global slot meanwhile.
            for window in (*chat, *self._global):
                await window.acquire()
                held.append(window)
            yield
        finally:
            for window in held:
                window.release_later()


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
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._composer = composer
        self._notifier = notifier
        self._clock = clock
        self.policy = policy or DispatchPolicy()
        self.instance_id = instance_id or f"prikbord-{uuid.uuid4().hex[:12]}"
        self._limiters = {p: _PlatformLimiter(a) for p, a in adapters.items()}
        self._wake = {p: asyncio.Event() for p in adapters}
        self._in_flight: dict[str, int] = defaultdict(int)
        self._outcomes: asyncio.Queue[tuple[str, SendOutcome, ClaimedDelivery]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._send_tasks: set[asyncio.Task[None]] = set()
        self._stopped_platforms: set[str] = set()
        self._sent_hooks: list[SentHook] = []
        self._timed_hooks: list[TimedHook] = []
        self._rate_limited_hooks: list[TimedHook] = []
        self._idle = asyncio.Event()
        self._backoff = wait_exponential_jitter(
            multiplier=self.policy.backoff_initial, max=30, jitter=self.policy.backoff_initial
        )

    def on_send_timed(self, hook: TimedHook) -> None:
        """Called with each send's latency (metrics)."""
        self._timed_hooks.append(hook)

    def on_rate_limited(self, hook: TimedHook) -> None:
        """Called with each 429's retry-after (metrics)."""
        self._rate_limited_hooks.append(hook)

    def on_sent(self, hook: SentHook) -> None:
        """Called for each delivery recorded as sent (engagement primes its message cache)."""
        self._sent_hooks.append(hook)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reconcile()
        self._tasks.append(asyncio.create_task(self._record_loop(), name="dispatch-recorder"))
        for platform in self._adapters:
            self._tasks.append(asyncio.create_task(self._platform_loop(platform), name=f"dispatch-{platform}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Sends under way finish (or fail) and are recorded, so nothing is left `sending` by us.
        if self._send_tasks:
            await asyncio.gather(*self._send_tasks, return_exceptions=True)
        await self._drain_outcomes()
        self._tasks.clear()

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
        if any(self._in_flight.values()) or not self._outcomes.empty():
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

    # -- reconciliation ---------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Deliveries a crashed process left in ``sending``: found on the platform → sent, else due again.

        The platforms are asked outside any store transaction: an adapter's ``find_sent`` may read the
        store itself (Matrix keeps its transaction records there) or make an HTTP call, and on SQLite
        every transaction holds the write lock. The rows are then updated only if they are still stale,
        so two instances reconciling at once cannot undo each other's work.
        """
        now = self._clock.now()
        async with self._store.sessions() as session:
            stale = [
                (delivery.id, delivery.platform, channel.chat_id if channel is not None else None)
                for delivery in await outbox.stale_sending(session, now)
                for channel in [await session.get(Channel, delivery.channel_id)]
            ]
        if not stale:
            return 0
        found: dict[int, MessageRef] = {}
        for delivery_id, platform, chat_id in stale:
            adapter = self._adapters.get(platform)
            if adapter is not None and chat_id is not None:
                with contextlib.suppress(DeliveryError):
                    ref = await adapter.find_sent(ChatRef(platform, chat_id), f"prikbord-d{delivery_id}")
                    if ref is not None:
                        found[delivery_id] = ref
        fixed = 0
        async with self._store.transaction() as session:
            for delivery_id, _platform, _chat_id in stale:
                ref = found.get(delivery_id)
                # Telegram cannot tell us; resending risks a duplicate, dropping risks a loss:
                # a post not read is worse than one read twice.
                values: dict[str, object] = (
                    {"state": DeliveryState.SENT, "platform_message_id": ref.message_id, "sent_at": now}
                    if ref is not None
                    else {"state": DeliveryState.PENDING, "next_attempt_at": now}
                )
                result = await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == delivery_id,
                        Delivery.state == DeliveryState.SENDING,
                        Delivery.lease_until < now,
                    )
                    .values(lease_until=None, **values)
                )
                fixed += int(getattr(result, "rowcount", 0) or 0)
        if fixed:
            log.info("reconciled %d deliveries left in flight by an earlier process", fixed)
        return fixed

    # -- the worker ---------------------------------------------------------------------------

    async def _platform_loop(self, platform: str) -> None:
        adapter = self._adapters[platform]
        wake = self._wake[platform]
        while True:
            try:
                if platform in self._stopped_platforms:
                    await asyncio.sleep(self.policy.idle_poll)
                    continue
                free = self.policy.concurrency - self._in_flight[platform]
                if free <= 0:
                    wake.clear()
                    await _wait(wake, self.policy.idle_poll)
                    continue
                now = self._clock.now()
                # Counted in flight while claiming too: between the claim's commit and the sends'
                # start, settle() must not see this platform as quiet.
                self._in_flight[platform] += 1
                try:
                    batch = await outbox.claim_due(
                        self._store,
                        platform,
                        self.instance_id,
                        min(free, self.policy.batch_size),
                        now,
                        self.policy.lease,
                    )
                    messages = await self._compose(batch) if batch else {}
                    for claimed in batch:
                        self._in_flight[platform] += 1
                        task = asyncio.create_task(self._send_one(platform, adapter, claimed, messages[claimed.id]))
                        self._send_tasks.add(task)
                        task.add_done_callback(self._send_tasks.discard)
                finally:
                    self._in_flight[platform] -= 1
                if not batch:
                    wake.clear()
                    await _wait(wake, await self._idle_delay(platform))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher loop for %s failed; retrying", platform)
                await asyncio.sleep(self.policy.idle_poll)

    async def _idle_delay(self, platform: str) -> float:
        async with self._store.sessions() as session:
            due = await outbox.next_due_at(session, platform)
        if due is None:
            return self.policy.idle_poll
        return max(0.0, min(self.policy.idle_poll, (due - self._clock.now()).total_seconds()))

    async def _compose(self, batch: Sequence[ClaimedDelivery]) -> dict[int, OutboundMessage]:
        post_ids = sorted({d.post_id for d in batch})
        async with self._store.sessions() as session:
            by_id: dict[int, Post] = await posts.posts_by_ids(session, post_ids)
            counts = await counts_for(session, post_ids)
        return {d.id: self._composer.compose(by_id[d.post_id], counts[d.post_id], d.id) for d in batch}

    async def _send_one(
        self, platform: str, adapter: Adapter, claimed: ClaimedDelivery, message: OutboundMessage
    ) -> None:
        chat = ChatRef(platform, claimed.chat_id)
        limiter = self._limiters[platform]
        outcome: SendOutcome
        if platform in self._stopped_platforms:
            # Claimed just before the platform refused our credentials: leave it for later.
            await self._outcomes.put(
                (platform, SendOutcome(claimed.id, DeliveryState.PENDING, refund_attempt=True), claimed)
            )
            return
        try:

            def wait(state: RetryCallState) -> float:
                error = state.outcome.exception() if state.outcome else None
                if isinstance(error, RateLimited):
                    return error.retry_after
                return float(self._backoff(state))

            def retryable(state: RetryCallState) -> bool:
                error = state.outcome.exception() if state.outcome else None
                if isinstance(error, RateLimited):
                    return error.retry_after <= self.policy.max_inline_wait
                return isinstance(error, TransientError)

            ref: MessageRef | None = None
            async for attempt in AsyncRetrying(
                retry=retryable,
                wait=wait,
                stop=stop_after_attempt(self.policy.in_process_tries),
                reraise=True,
            ):
                with attempt:
                    async with limiter.slot(claimed.chat_id):
                        ref = await self._timed_send(platform, adapter, chat, message)
            assert ref is not None
            outcome = SendOutcome(claimed.id, DeliveryState.SENT, message_id=ref.message_id)
        except RateLimited as exc:
            outcome = SendOutcome(
                claimed.id,
                DeliveryState.PENDING,
                error=str(exc),
                retry_at=self._clock.now() + timedelta(seconds=exc.retry_after),
                refund_attempt=True,
            )
        except TransientError as exc:
            outcome = self._later_or_failed(claimed, str(exc))
        except PermanentError as exc:
            outcome = SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc), disable_channel=True)
        except MessageTooLong as exc:
            outcome = SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc))
        except AdapterAuthError as exc:
            self._stopped_platforms.add(platform)
            outcome = SendOutcome(claimed.id, DeliveryState.PENDING, error=str(exc), refund_attempt=True)
            log.error("%s refused our credentials: %s; its deliveries wait until it is fixed", platform, exc)
        except DeliveryError as exc:
            # Refused for a reason of this message (not the chat's): fail it, keep the channel.
            outcome = SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc))
        except Exception as exc:  # an adapter bug must not lose the delivery
            log.exception("unexpected error sending delivery %d on %s", claimed.id, platform)
            outcome = self._later_or_failed(claimed, f"unexpected error: {type(exc).__name__}")
        await self._outcomes.put((platform, outcome, claimed))

    async def _timed_send(self, platform: str, adapter: Adapter, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        started = time.perf_counter()
        try:
            return await adapter.send(chat, message)
        except RateLimited as exc:
            for hook in self._rate_limited_hooks:
                hook(platform, exc.retry_after)
            raise
        finally:
            elapsed = time.perf_counter() - started
            for hook in self._timed_hooks:
                hook(platform, elapsed)

    def _later_or_failed(self, claimed: ClaimedDelivery, error: str) -> SendOutcome:
        if claimed.attempts >= self.policy.max_attempts:
            return SendOutcome(
                claimed.id, DeliveryState.FAILED, error=f"gave up after {claimed.attempts} tries: {error}"
            )
        delay = min(3600.0, 30.0 * 2 ** (claimed.attempts - 1))
        return SendOutcome(
            claimed.id, DeliveryState.PENDING, error=error, retry_at=self._clock.now() + timedelta(seconds=delay)
        )

    # -- recording -------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            first = await self._outcomes.get()
            batch = [first]
            while len(batch) < 500:
                try:
                    batch.append(self._outcomes.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self._record(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording %d delivery outcomes failed; their leases will expire and retry", len(batch))
            finally:
                for platform, _, _ in batch:
                    self._in_flight[platform] -= 1
                    self._wake[platform].set()

    async def _drain_outcomes(self) -> None:
        batch = []
        while not self._outcomes.empty():
            batch.append(self._outcomes.get_nowait())
        if batch:
            await self._record(batch)
            for platform, _, _ in batch:
                self._in_flight[platform] -= 1

    async def _record(self, batch: Sequence[tuple[str, SendOutcome, ClaimedDelivery]]) -> None:
        now = self._clock.now()
        await outbox.record_outcomes(self._store, [o for _, o, _ in batch], self.instance_id, now)
        for platform, outcome, claimed in batch:
            if outcome.state == DeliveryState.SENT and outcome.message_id is not None:
                for hook in self._sent_hooks:
                    hook(platform, claimed.chat_id, outcome.message_id, claimed.id, claimed.post_id)
            elif outcome.state == DeliveryState.FAILED:
                await self._on_failed(platform, claimed, outcome)

    async def _on_failed(self, platform: str, claimed: ClaimedDelivery, outcome: SendOutcome) -> None:
        error = outcome.error or "failed"
        async with self._store.transaction() as session:
            channel = await session.get(Channel, claimed.channel_id)
            name = channel.name if channel else str(claimed.channel_id)
            disabled = (
                outcome.disable_channel
                and channel is not None
                and await posts.disable_channel(session, channel, error, "prikbord", self._clock.now())
            )
        suffix = " The channel is disabled until an operator fixes it and re-enables it." if disabled else ""
        await self._notifier.tell(
            f"post #{claimed.post_id} could not be delivered to {name} ({platform}): {error}.{suffix}"
        )


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
