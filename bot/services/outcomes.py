"""Recording what the dispatcher's sends came to: committed as they come, never held for a group commit.

Whatever queued while the previous commit ran goes into the next one, so under load commits batch by
themselves, and a lone outcome is committed within milliseconds of its send's answer (the window in which
a crash turns a Telegram send into a second copy). A failed delivery's channel handling and the
moderators' note run beside the recording, so a slow moderator chat never holds up the next commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, stop_after_delay, wait_exponential

from bot.clock import Clock
from bot.i18n import Message
from bot.services.notify import ModeratorNotifier
from content import outbox, posts
from content.db import Store, store_error_line
from content.models import Channel, DeliveryState
from content.outbox import ClaimedDelivery, SendOutcome

log = logging.getLogger("prikbord.dispatch")

_MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class SentDelivery:
    """A delivery the platform took (from its answer on, before the outcome is committed), as its message."""

    platform: str
    chat_id: str
    message_id: str
    delivery_id: int
    post_id: int


SentHook = Callable[[SentDelivery], None]
Recorded = tuple[str, SendOutcome, ClaimedDelivery]  # platform, outcome, the claim it settles
RecordedHook = Callable[[str, SendOutcome], None]


class OutcomeRecorder:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        notifier: ModeratorNotifier,
        instance_id: str,
        recorded: RecordedHook,
        give_up_after: float = 15.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._notifier = notifier
        self._instance_id = instance_id
        self._recorded = recorded  # after each outcome's commit (or its failure): the dispatcher's bookkeeping
        self._queue: asyncio.Queue[Recorded | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._failure_tasks: set[asyncio.Task[None]] = set()
        self._sent_hooks: list[SentHook] = []
        self._give_up_after = give_up_after

    def on_sent(self, hook: SentHook) -> None:
        self._sent_hooks.append(hook)

    @property
    def busy(self) -> bool:
        """Outcomes waiting to be committed, or failures still being handled."""
        return not self._queue.empty() or bool(self._failure_tasks)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dispatch-recorder")

    async def put(self, platform: str, outcome: SendOutcome, claimed: ClaimedDelivery) -> None:
        # The message exists from the platform's answer on, so presses on it are known at once, not only
        # after the commit: a store that is full or restarting for a while holds the commit back, and
        # presses meanwhile would be answered "not a prikbord post" and lost.
        if outcome.state == DeliveryState.SENT and outcome.message_id is not None:
            sent = SentDelivery(platform, claimed.chat_id, outcome.message_id, claimed.id, claimed.post_id)
            for hook in self._sent_hooks:
                hook(sent)
        await self._queue.put((platform, outcome, claimed))

    async def stop(self) -> None:
        """Commit everything queued so far, then end (never cancelled halfway through a commit)."""
        if self._task is None:
            return
        await self._queue.put(None)
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._failure_tasks:
            await asyncio.gather(*set(self._failure_tasks), return_exceptions=True)

    async def _loop(self) -> None:
        ending = False
        while not ending:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    ending = True
                    break
                batch.append(item)
            try:
                await self._record(batch)
            except Exception as exc:
                log.error(
                    "recording %d delivery outcomes failed for good (%s); their leases will expire and retry",
                    len(batch),
                    store_error_line(exc),
                )
            finally:
                for platform, outcome, _ in batch:
                    self._recorded(platform, outcome)

    async def _record(self, batch: Sequence[Recorded]) -> None:
        outcomes = [o for _, o, _ in batch]
        await self._commit_until_the_database_answers(outcomes)
        for platform, outcome, claimed in batch:
            if outcome.state == DeliveryState.FAILED:
                task = asyncio.create_task(self._on_failed(platform, claimed, outcome))
                self._failure_tasks.add(task)
                task.add_done_callback(self._failure_tasks.discard)

    async def _commit_until_the_database_answers(self, outcomes: Sequence[SendOutcome]) -> None:
        """A database restarting or busy for a while must not turn sent messages into second copies: an
        outcome not committed lets its lease run out and the send go again. So keep trying, backing off,
        for up to ``give_up_after`` (well inside the lease), one log line when it starts and one when it ends."""

        def first_failure(state: RetryCallState) -> None:
            if state.attempt_number == 1 and state.outcome is not None:
                error = state.outcome.exception()
                assert error is not None
                log.warning(
                    "recording %d delivery outcomes failed (%s); trying again until the database answers",
                    len(outcomes),
                    store_error_line(error),
                )

        retrying = AsyncRetrying(
            stop=stop_after_delay(self._give_up_after),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            before_sleep=first_failure,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await outbox.record_outcomes(self._store, outcomes, self._instance_id, self._clock.now())
        failures = int(retrying.statistics.get("attempt_number", 1)) - 1
        if failures:
            log.info("recorded %d delivery outcomes after %d failed tries", len(outcomes), failures)

    async def _on_failed(self, platform: str, claimed: ClaimedDelivery, outcome: SendOutcome) -> None:
        error = outcome.error or "failed"
        try:
            async with self._store.transaction() as session:
                channel = await session.get(Channel, claimed.channel_id)
                name = channel.name if channel else str(claimed.channel_id)
                disabled = (
                    outcome.disable_channel
                    and channel is not None
                    and await posts.disable_channel(session, channel, error, "prikbord", self._clock.now())
                )
            values = {"id": claimed.post_id, "name": name, "platform": platform, "error": error}
            if disabled:
                note = Message(
                    "post #%(id)s could not be delivered to %(name)s (%(platform)s): %(error)s. "
                    "The channel is disabled until an operator fixes it and re-enables it.",
                    **values,
                )
            else:
                note = Message("post #%(id)s could not be delivered to %(name)s (%(platform)s): %(error)s.", **values)
            await self._notifier.tell(note)
        except Exception:
            log.exception("telling the moderators about failed delivery %d went wrong", claimed.id)
