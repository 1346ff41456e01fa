"""Engagement: inbound presses, reactions, replies and engagement commands become responses.

Requests queue up and one writer stores them in batches (group commit): one transaction and a
handful of statements per batch, so a burst of thousands of presses costs tens of commits, not
thousands. Each caller still gets its own outcome once its batch is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import ActionPressed, MessageRef, ReactionAdded, ReactionRemoved, ReplyPosted, UserRef
from bot.clock import Clock
from bot.services.compose import ACK_EMOJI, option_emoji
from bot.services.counters import CounterRefresher
from content import posts
from content.db import Store
from content.models import Channel, CtaKind, Delivery, Post, PostState, ResponseKind
from content.people import Person, ensure_identities
from content.responses import Interaction, Op, Outcome, apply_batch

log = logging.getLogger("prikbord.engagement")

LIKE_REACTIONS = frozenset({"👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿", "+1", "thumbsup", "like"})


@dataclass(frozen=True, slots=True)
class Request:
    """One act to store. Either ``post_id`` (commands) or ``message`` (platform events) says where."""

    platform: str
    event_id: str | None
    user: UserRef
    action: str  # like | ack | rsvp:N | vote:N | option:TEXT | link | reaction:EMOJI | reply
    op: Op = Op.ADD
    post_id: int | None = None
    message: MessageRef | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome | None  # None when refused (see ``text``)
    text: str  # what to tell the person
    post_id: int | None = None


def request_for(event: ActionPressed | ReactionAdded | ReactionRemoved | ReplyPosted) -> Request:
    platform = event.user.platform
    if isinstance(event, ActionPressed):
        return Request(platform, event.event_id, event.user, event.action_id, message=event.message)
    if isinstance(event, ReactionAdded):
        return Request(platform, event.event_id, event.user, f"reaction:{event.reaction}", message=event.message)
    if isinstance(event, ReactionRemoved):
        return Request(
            platform, event.event_id, event.user, f"reaction:{event.reaction}", Op.REMOVE, message=event.message
        )
    return Request(platform, event.event_id, event.user, "reply", message=event.message, text=event.text)


def interpret(post: Post, action: str, now_open: bool) -> tuple[ResponseKind, str | None] | str:
    """What an action means for this post: (kind, value), or a refusal to show the person."""
    if post.state == PostState.RETRACTED:
        return f"#{post.id} was retracted"
    if post.state not in (PostState.PUBLISHED, PostState.EXPIRED):
        return f"there is no published post #{post.id}"
    options = list(post.cta_options or [])
    choice_kind = ResponseKind.RSVP if post.cta_kind == CtaKind.RSVP else ResponseKind.VOTE
    if action.startswith("reaction:"):
        key = action.removeprefix("reaction:")
        if key == ACK_EMOJI and post.cta_kind == CtaKind.ACKNOWLEDGE:
            action = "ack"
        elif post.cta_kind in (CtaKind.RSVP, CtaKind.POLL) and any(
            key == option_emoji(post, i) for i in range(1, len(options) + 1)
        ):
            index = next(i for i in range(1, len(options) + 1) if key == option_emoji(post, i))
            action = f"vote:{index}"
        else:
            # Any other reaction on a post is a like: people react with ❤️ and 🎉 too.
            action = "like"
    if action == "like":
        return ResponseKind.LIKE, None
    if action == "reply":
        return ResponseKind.REPLY, None
    if action == "link":
        return ResponseKind.CLICK, post.cta_url
    if post.state == PostState.EXPIRED or not now_open:
        return f"#{post.id} is closed"
    if action == "ack":
        if post.cta_kind != CtaKind.ACKNOWLEDGE:
            return f"#{post.id} asks for no acknowledgement"
        return ResponseKind.ACK, None
    if post.cta_kind not in (CtaKind.RSVP, CtaKind.POLL):
        return f"#{post.id} has no options to choose from"
    prefix, _, pick = action.partition(":")
    if prefix in ("rsvp", "vote") and pick.isdigit() and 1 <= int(pick) <= len(options):
        return choice_kind, options[int(pick) - 1]
    if prefix == "option":
        if pick.isdigit() and 1 <= int(pick) <= len(options):
            return choice_kind, options[int(pick) - 1]
        for option in options:
            if option.lower() == pick.strip().lower():
                return choice_kind, option
    listed = ", ".join(f"{i} {o}" for i, o in enumerate(options, start=1))
    return f"#{post.id} has no option {pick!r}; choose one of: {listed}"


def describe(outcome: Outcome, kind: ResponseKind, value: str | None, post_id: int) -> str:
    if outcome in (Outcome.ALREADY, Outcome.DUPLICATE_EVENT):
        return f"already counted (#{post_id})"
    if outcome == Outcome.REMOVED:
        return f"{kind.value} removed (#{post_id})"
    if outcome == Outcome.NOTHING:
        return f"nothing to remove (#{post_id})"
    if outcome == Outcome.CHANGED:
        return f"changed to {value} (#{post_id})"
    return {
        ResponseKind.LIKE: f"👍 counted (#{post_id})",
        ResponseKind.ACK: f"✅ thanks, #{post_id} is marked as read",
        ResponseKind.RSVP: f"RSVP {value} noted (#{post_id})",
        ResponseKind.VOTE: f"vote for {value} counted (#{post_id})",
        ResponseKind.REPLY: f"reply saved (#{post_id})",
        ResponseKind.CLICK: f"click counted (#{post_id})",
    }[kind]


_Item = tuple[Request, "asyncio.Future[Result]"]


class EngagementService:
    def __init__(self, store: Store, clock: Clock, counters: CounterRefresher | None, max_batch: int = 256) -> None:
        self._store = store
        self._clock = clock
        self._counters = counters
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        # (platform, chat id, message id) → (delivery id, post id); sent messages never move.
        self._messages: OrderedDict[tuple[str, str, str], tuple[int, int]] = OrderedDict()
        self._people: OrderedDict[tuple[str, str], Person] = OrderedDict()
        self._cache_size = 100_000

    async def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="engagement-writer")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    def remember_message(self, platform: str, chat_id: str, message_id: str, delivery_id: int, post_id: int) -> None:
        """Dispatcher hook: a delivery was sent as this message."""
        self._remember(self._messages, (platform, chat_id, message_id), (delivery_id, post_id))

    def forget_people(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop cached (platform, user id) → person entries after identities moved to another employee."""
        for key in keys:
            self._people.pop(key, None)

    def _remember(self, cache: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
        cache[key] = value
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    async def submit(self, request: Request) -> Result:
        """Queue one request and wait until its batch is committed."""
        await self.start()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def handle_event(self, event: ActionPressed | ReactionAdded | ReactionRemoved | ReplyPosted) -> Result:
        result = await self.submit(request_for(event))
        if isinstance(event, ActionPressed):
            try:
                await event.answer(result.text)
            except Exception:  # the count is stored; a failed toast is not worth an error
                log.warning("answering a button press on %s failed", event.user.platform, exc_info=True)
        return result

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                results, touched = await self._process([r for r, _ in batch])
            except Exception as exc:
                log.exception("storing %d engagement events failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            if touched and self._counters is not None:
                self._counters.touch(touched)

    async def _process(self, requests: Sequence[Request]) -> tuple[list[Result], set[int]]:
        now = self._clock.now()
        async with self._store.transaction() as session:
            await self._resolve_messages(session, requests)
            people = await self._resolve_people(session, requests)
            post_ids: list[int] = []
            deliveries: list[int | None] = []
            for request in requests:
                post_id, delivery_id = self._locate(request)
                post_ids.append(post_id or 0)
                deliveries.append(delivery_id)
            by_id = await posts.posts_by_ids(session, [p for p in post_ids if p])
            results: list[Result | None] = []
            interactions: list[Interaction] = []
            meaning: list[tuple[ResponseKind, str | None]] = []
            for request, post_id, delivery_id in zip(requests, post_ids, deliveries, strict=True):
                post = by_id.get(post_id)
                if post is None:
                    results.append(
                        Result(None, "that is not a prikbord post" if request.message else f"no post #{post_id}")
                    )
                    continue
                open_now = post.cta_deadline is None or post.cta_deadline > now
                interpreted = interpret(post, request.action, open_now)
                if isinstance(interpreted, str):
                    results.append(Result(None, interpreted, post.id))
                    continue
                kind, value = interpreted
                person = people[(request.user.platform, request.user.user_id)]
                interactions.append(
                    Interaction(
                        platform=request.platform,
                        event_id=request.event_id,
                        post_id=post.id,
                        identity_id=person.identity_id,
                        employee_id=person.employee_id,
                        kind=kind,
                        op=request.op,
                        value=value,
                        text=request.text,
                        delivery_id=delivery_id,
                    )
                )
                meaning.append((kind, value))
                results.append(None)
            outcomes = await apply_batch(session, interactions, now)
        # Cached only now: a person created in a batch that rolled back does not exist.
        for key, person in people.items():
            if key not in self._people:
                self._remember(self._people, key, person)
        touched: set[int] = set()
        applied = iter(zip(interactions, outcomes, meaning, strict=True))
        final: list[Result] = []
        for result in results:
            if result is not None:
                final.append(result)
                continue
            interaction, outcome, (kind, value) = next(applied)
            if outcome in (Outcome.COUNTED, Outcome.CHANGED, Outcome.REMOVED):
                touched.add(interaction.post_id)
            final.append(Result(outcome, describe(outcome, kind, value, interaction.post_id), interaction.post_id))
        return final, touched

    def _locate(self, request: Request) -> tuple[int | None, int | None]:
        if request.post_id is not None:
            return request.post_id, None
        assert request.message is not None
        found = self._messages.get((request.platform, request.message.chat.chat_id, request.message.message_id))
        if found is None:
            return None, None
        return found[1], found[0]

    async def _resolve_messages(self, session: AsyncSession, requests: Sequence[Request]) -> None:
        missing = {
            (r.platform, r.message.chat.chat_id, r.message.message_id)
            for r in requests
            if r.message is not None and r.post_id is None
        } - set(self._messages)
        if not missing:
            return
        rows = await session.execute(
            select(Channel.platform, Channel.chat_id, Delivery.platform_message_id, Delivery.id, Delivery.post_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(tuple_(Channel.platform, Channel.chat_id, Delivery.platform_message_id).in_(list(missing)))
        )
        for platform, chat_id, message_id, delivery_id, post_id in rows.all():
            if message_id is not None:
                self.remember_message(platform, chat_id, message_id, delivery_id, post_id)

    async def _resolve_people(
        self, session: AsyncSession, requests: Sequence[Request]
    ) -> dict[tuple[str, str], Person]:
        found: dict[tuple[str, str], Person] = {}
        unknown: dict[tuple[str, str], str] = {}
        for request in requests:
            key = (request.user.platform, request.user.user_id)
            cached = self._people.get(key)
            if cached is not None:
                found[key] = cached
            else:
                unknown.setdefault(key, request.user.display_name)
        if unknown:
            accounts = [(platform, user_id, name) for (platform, user_id), name in unknown.items()]
            found.update(await ensure_identities(session, accounts, self._clock.now()))
        return found
