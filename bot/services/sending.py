"""One delivery's send, as the dispatcher's workers run it: within the platform's windows, retried in
process, and its error read as the outcome to record.

- Retries (tenacity): transient errors back off with jitter; a 429 waits the platform's retry-after
  (up to ``max_inline_wait``). After ``in_process_tries`` the delivery goes back to the outbox with a
  later ``next_attempt_at``; past ``max_attempts`` it fails. A platform that is down (its health) gets
  no retries: its deliveries are due again once a probe gets through.
- Permanent errors fail the delivery and disable its channel; a refused message fails only itself;
  refused credentials stop the platform's sends until restart.
- Sends the platform can neither de-duplicate nor be asked about (Telegram) hold a gate until their
  outcome is committed (``max_unrecorded``), so a crash catches few of them on their way.
- A stop: a send still waiting for its window goes back to the outbox untried; one cancelled inside the
  platform's call has an unknown outcome and is left ``sending`` for the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Set
from datetime import timedelta
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from adapters.base import (
    Adapter,
    AdapterAuthError,
    ChatRef,
    DeliveryError,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    PermanentError,
    RateLimited,
    TransientError,
    UserRef,
)
from bot.clock import Clock
from bot.services.health import PlatformHealth
from bot.services.rate_windows import RateBudget
from content.direct import unopened_user
from content.models import DeliveryState
from content.outbox import ClaimedDelivery, SendOutcome

log = logging.getLogger("prikbord.dispatch")

TimedHook = Callable[[str, float], None]  # platform, seconds (a send's latency, or a 429's retry-after)
# Stores the id of a private chat just opened (channel id, chat id), committed before the copy is sent;
# → the chat to send to (the one stored first, should another sender have opened it meanwhile).
ChatOpened = Callable[[int, str], Awaitable[str]]


class Sender:
    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        budget: RateBudget,
        health: PlatformHealth,
        clock: Clock,
        *,
        in_process_tries: int,
        max_attempts: int,
        max_inline_wait: float,
        backoff_initial: float,
        max_unrecorded: int,
        stopping: Callable[[], bool],
        max_unrecorded_paid: int = 1,
        wake: Callable[[str], None],
        chat_opened: ChatOpened | None = None,
    ) -> None:
        """The tries, waits and gate size are the dispatcher's policy (``DispatchPolicy``); ``stopping``
        tells whether the dispatcher's stop began; ``wake`` wakes a platform's worker (when the platform
        answers again after being down); ``chat_opened`` stores a private chat opened for a copy to a person."""
        self._chat_opened = chat_opened
        self._adapters = adapters
        self._budget = budget
        self._health = health
        self._clock = clock
        self._in_process_tries = in_process_tries
        self._max_attempts = max_attempts
        self._max_inline_wait = max_inline_wait
        self._stopping = stopping
        self._wake = wake
        gated = [p for p, a in adapters.items() if budget.sends_per_second(p) is not None and not _reconcilable(a)]
        self._unrecorded = {p: asyncio.Semaphore(max_unrecorded) for p in gated}
        # A paid broadcast's sends have a wider gate of their own: one at a time, a send and its commit
        # would have to take a millisecond to keep 1,000/s.
        self._unrecorded_paid = {p: asyncio.Semaphore(max_unrecorded_paid) for p in gated}
        self._holding_paid: set[int] = set()  # deliveries whose sent outcome holds the paid gate
        self._refused: set[str] = set()
        self._waiting: set[asyncio.Task[Any]] = set()  # sends not (or no longer) inside the adapter's call
        self._unknown: set[asyncio.Task[Any]] = set()  # sends cancelled inside the adapter's call
        self._timed_hooks: list[TimedHook] = []
        self._rate_limited_hooks: list[TimedHook] = []
        self._backoff_initial = backoff_initial

    @property
    def stopped_platforms(self) -> Set[str]:
        """Platforms that refused our credentials: their deliveries wait until it is fixed."""
        return self._refused

    def on_send_timed(self, hook: TimedHook) -> None:
        self._timed_hooks.append(hook)

    def on_rate_limited(self, hook: TimedHook) -> None:
        self._rate_limited_hooks.append(hook)

    def cancel_waiting(self) -> None:
        """A stop: sends not inside the platform's call give up (they come back untried)."""
        for task in list(self._waiting):
            task.cancel()

    def recorded(self, platform: str, outcome: SendOutcome) -> None:
        """An outcome was committed (or its commit failed): a sent delivery's gate opens again."""
        paid = outcome.delivery_id in self._holding_paid
        self._holding_paid.discard(outcome.delivery_id)
        gate = (self._unrecorded_paid if paid else self._unrecorded).get(platform)
        if gate is not None and outcome.state == DeliveryState.SENT:
            gate.release()

    async def send(self, platform: str, claimed: ClaimedDelivery, message: OutboundMessage) -> SendOutcome:
        """The outcome to record for ``claimed``. Raises CancelledError only when cancelled inside the
        platform's call (the outcome is unknown: the sweep settles it)."""
        untried = SendOutcome(claimed.id, DeliveryState.PENDING, refund_attempt=True)
        if platform in self._refused or self._stopping():
            # Claimed just before the platform refused our credentials, or before a stop: leave it for later.
            return untried
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            return await self._attempt(platform, self._adapters[platform], claimed, message)
        except asyncio.CancelledError:
            if not self._stopping() or task in self._unknown:
                raise  # cancelled inside the platform's call: the outcome is unknown, the sweep settles it
            return untried  # stopped while waiting for a window: due again, not counted as a try
        finally:
            self._waiting.discard(task)
            self._unknown.discard(task)

    async def _attempt(
        self, platform: str, adapter: Adapter, claimed: ClaimedDelivery, message: OutboundMessage
    ) -> SendOutcome:
        """Send within the windows, retrying in process; the outcome to record. Raises only CancelledError."""
        chat = ChatRef(platform, claimed.chat_id)
        person = unopened_user(claimed.chat_id)  # a private copy whose chat the platform must open first
        limiter = self._budget.limiter(platform)

        async def one_try() -> MessageRef:
            nonlocal chat, person
            if person is not None:
                async with limiter.opening():
                    chat = await self._open_private(adapter, claimed, person)
                person = None
            gate = self._until_recorded(platform, message.paid_broadcast, claimed.id)
            async with limiter.slot(chat.chat_id, message.paid_broadcast, ready=gate):
                return await self._timed_send(platform, adapter, chat, message)

        try:
            ref = await self._tried(platform, one_try)
            return SendOutcome(claimed.id, DeliveryState.SENT, message_id=ref.message_id)
        except _Stopping:
            return SendOutcome(claimed.id, DeliveryState.PENDING, refund_attempt=True)
        except _NoPrivateChat as exc:
            return SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc))
        except RateLimited as exc:
            return SendOutcome(
                claimed.id,
                DeliveryState.PENDING,
                error=str(exc),
                retry_at=self._clock.now() + timedelta(seconds=exc.retry_after),
                refund_attempt=True,
            )
        except TransientError as exc:
            if self._health.is_down(platform):
                # The platform is down, not this delivery: due again as soon as a probe gets through.
                return SendOutcome(claimed.id, DeliveryState.PENDING, error=str(exc), refund_attempt=True)
            return self._later_or_failed(claimed, str(exc))
        except PermanentError as exc:
            return SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc), disable_channel=True)
        except MessageTooLong as exc:
            return SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc))
        except AdapterAuthError as exc:
            self._refused.add(platform)
            log.error("%s refused our credentials: %s; its deliveries wait until it is fixed", platform, exc)
            return SendOutcome(claimed.id, DeliveryState.PENDING, error=str(exc), refund_attempt=True)
        except DeliveryError as exc:
            # Refused for a reason of this message (not the chat's): fail it, keep the channel.
            return SendOutcome(claimed.id, DeliveryState.FAILED, error=str(exc))
        except Exception as exc:  # an adapter bug must not lose the delivery
            log.exception("unexpected error sending delivery %d on %s", claimed.id, platform)
            return self._later_or_failed(claimed, f"unexpected error: {type(exc).__name__}")

    def _worth_another_try(self, platform: str, error: BaseException | None) -> bool:
        if isinstance(error, RateLimited):
            return error.retry_after <= self._max_inline_wait
        return isinstance(error, TransientError) and not self._health.is_down(platform)

    def _wait_after(self, error: BaseException | None, tries: int) -> float:
        """Seconds before the next try after ``tries`` failed ones: a 429's retry-after, else exponential
        backoff with jitter (``backoff_initial`` doubling per try, at most 30 s)."""
        if isinstance(error, RateLimited):
            return error.retry_after
        return min(30.0, self._backoff_initial * 2.0 ** (tries - 1) + random.uniform(0, self._backoff_initial))

    async def _tried(self, platform: str, one_try: Callable[[], Awaitable[MessageRef]]) -> MessageRef:
        """``one_try()``, tried again in process (up to ``in_process_tries`` in all) while it fails in a way
        worth another try. The first try runs bare and tenacity's loop only starts once it failed: at a
        paid broadcast's 1,000 sends a second, tenacity's state for every send cost ~7 % of the CPU."""
        try:
            return await one_try()
        except (RateLimited, TransientError) as exc:
            if self._in_process_tries <= 1 or not self._worth_another_try(platform, exc):
                raise
            await asyncio.sleep(self._wait_after(exc, 1))

        def retry(state: RetryCallState) -> bool:
            return self._worth_another_try(platform, state.outcome.exception() if state.outcome else None)

        def wait(state: RetryCallState) -> float:
            return self._wait_after(state.outcome.exception() if state.outcome else None, state.attempt_number + 1)

        async for attempt in AsyncRetrying(
            retry=retry, wait=wait, stop=stop_after_attempt(self._in_process_tries - 1), reraise=True
        ):
            with attempt:
                return await one_try()
        raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover

    @contextlib.asynccontextmanager
    async def _until_recorded(self, platform: str, paid: bool, delivery_id: int) -> AsyncIterator[None]:
        """A place among the sends whose outcome is not committed yet (``max_unrecorded``): taken before
        the send, given back once its outcome is committed (:meth:`recorded`), or at once when the try
        ends without a message (no outcome to commit for it)."""
        gate = (self._unrecorded_paid if paid else self._unrecorded).get(platform)
        if gate is None:
            yield
            return
        await gate.acquire()
        if paid:
            self._holding_paid.add(delivery_id)
        try:
            yield
        except BaseException:
            gate.release()
            self._holding_paid.discard(delivery_id)
            raise

    async def _timed_send(self, platform: str, adapter: Adapter, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        if self._stopping():
            raise _Stopping  # a stop began while this send waited for its window
        task = asyncio.current_task()
        assert task is not None
        started = time.perf_counter()
        self._waiting.discard(task)
        try:
            ref = await adapter.send(chat, message)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                self._unknown.add(task)
            elif isinstance(exc, TransientError) and self._health.failed(platform, str(exc), chat.chat_id):
                log.warning("%s looks down (%s): probing it with one delivery at a time", platform, exc)
            elif isinstance(exc, RateLimited):
                for hook in self._rate_limited_hooks:
                    hook(platform, exc.retry_after)
            raise
        finally:
            if task not in self._unknown:
                self._waiting.add(task)
            elapsed = time.perf_counter() - started
            for hook in self._timed_hooks:
                hook(platform, elapsed)
        if self._health.succeeded(platform):
            log.warning("%s answers again: sending what waited", platform)
            self._wake(platform)
        return ref

    async def _open_private(self, adapter: Adapter, claimed: ClaimedDelivery, person: str) -> ChatRef:
        """Open the private chat of a copy to ``person`` (a Slack DM, a Matrix direct room) and store it
        before anything is sent there: a crash after this finds the copy by the real chat. A stop does not
        cancel this (as it cancels no recording): the send then goes back to the outbox untried."""
        task = asyncio.current_task()
        if task is not None:
            self._waiting.discard(task)
        try:
            opened = await adapter.open_private(UserRef(adapter.platform, person, ""))
            if opened is None:
                raise _NoPrivateChat(f"{adapter.platform} has no private chat with {person} for the bot")
            if self._chat_opened is not None:
                opened = await self._chat_opened(claimed.channel_id, opened)
        finally:
            if task is not None:
                self._waiting.add(task)
        return ChatRef(adapter.platform, opened)

    def _later_or_failed(self, claimed: ClaimedDelivery, error: str) -> SendOutcome:
        if claimed.attempts >= self._max_attempts:
            return SendOutcome(
                claimed.id, DeliveryState.FAILED, error=f"gave up after {claimed.attempts} tries: {error}"
            )
        delay = min(3600.0, 30.0 * 2 ** (claimed.attempts - 1))
        return SendOutcome(
            claimed.id, DeliveryState.PENDING, error=error, retry_at=self._clock.now() + timedelta(seconds=delay)
        )


def _reconcilable(adapter: Adapter) -> bool:
    """Whether a send whose answer was lost cannot become a second copy: the platform de-duplicates a
    resend (Matrix's txnId) or can be asked what was sent (Slack's metadata, ``find_sent``)."""
    return adapter.limits.idempotent_send or type(adapter).find_sent is not Adapter.find_sent


class _Stopping(Exception):
    """A stop began before this send reached the platform."""


class _NoPrivateChat(Exception):
    """The platform has no private chat with the person (they cannot be written to privately)."""
