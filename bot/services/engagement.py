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
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import (
    ActionPressed,
    BadIntent,
    Intent,
    MessageRef,
    React,
    ReactionAdded,
    ReactionRemoved,
    Reply,
    ReplyPosted,
    UserRef,
    parse_intent,
)
from bot.clock import Clock
from bot.i18n import SOURCE, Message
from bot.services.counters import CounterRefresher
from bot.services.dispatch import SentDelivery
from bot.services.interpret import Meaning, Refusal, describe, interpret
from bot.services.languages import PersonLanguages
from content import outbox, posts
from content.chats import whole_chat_id
from content.db import Store, fails_alone, store_unavailable
from content.people import Person, ensure_identities
from content.responses import Interaction, Op, Outcome, apply_batch

log = logging.getLogger("prikbord.engagement")

# While the store cannot be written (disk full, server restarting) a batch is tried again this often.
STORE_RETRY_FIRST = 0.5
STORE_RETRY_MAX = 10.0


@dataclass(frozen=True, slots=True)
class Request:
    """One act to store. Either ``post_id`` (commands) or ``message`` (platform events) says where.

    ``action`` is the :data:`~adapters.base.Intent`, or its wire form (``"like"``, ``"option:Sushi"``),
    read once here into :attr:`intent` (a :class:`~adapters.base.BadIntent` for junk)."""

    platform: str
    event_id: str | None
    user: UserRef
    action: Intent | str
    op: Op = Op.ADD
    post_id: int | None = None
    message: MessageRef | None = None
    text: str | None = None
    intent: Intent = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        intent = parse_intent(self.action) if isinstance(self.action, str) else self.action
        object.__setattr__(self, "intent", intent)


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome | None  # None when refused (see ``message``)
    message: Message  # what to tell the person, worded in their language where it is answered
    post_id: int | None = None

    @property
    def text(self) -> str:  # the answer in the source language, English
        return str(self.message)


def request_for(event: ActionPressed | ReactionAdded | ReactionRemoved | ReplyPosted) -> Request:
    """The request an inbound event makes. Raises :class:`~adapters.base.BadIntent` for a button
    that is none of prikbord's."""
    platform = event.user.platform
    if isinstance(event, ActionPressed):
        return Request(platform, event.event_id, event.user, parse_intent(event.action_id), message=event.message)
    if isinstance(event, ReactionAdded):
        return Request(platform, event.event_id, event.user, React(event.reaction), message=event.message)
    if isinstance(event, ReactionRemoved):
        return Request(platform, event.event_id, event.user, React(event.reaction), Op.REMOVE, message=event.message)
    return Request(platform, event.event_id, event.user, Reply(), message=event.message, text=event.text)


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A request that will be stored: its post, the delivery it came through and what it means."""

    request: Request
    post_id: int
    delivery_id: int | None
    meaning: Meaning


_Item = tuple[Request, "asyncio.Future[Result]"]


class EngagementService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        counters: CounterRefresher | None,
        max_batch: int = 256,
        languages: PersonLanguages | None = None,  # None: button presses are answered in English
    ) -> None:
        self._store = store
        self._languages = languages
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

    def remember_message(self, sent: SentDelivery) -> None:
        """Dispatcher hook: a delivery was sent as this message (known by its whole chat: content/chats.py)."""
        key = (sent.platform, whole_chat_id(sent.chat_id), sent.message_id)
        self._remember(self._messages, key, (sent.delivery_id, sent.post_id))

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
        try:
            request = request_for(event)
        except BadIntent as exc:
            log.info(
                "ignored %s event %s: %s",
                event.user.platform,
                _printable(event.event_id, 80),
                _printable(str(exc), 120),
            )
            result = Result(None, Message("that button is not one of prikbord's"))
        else:
            result = await self.submit(request)
        if isinstance(event, ActionPressed):
            words = SOURCE if self._languages is None else await self._languages.for_user(event.user)
            try:
                await event.answer(words.render(result.message))
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
                results, touched = await self._process_when_writable([r for r, _ in batch])
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

    async def _process_when_writable(self, requests: Sequence[Request]) -> tuple[list[Result], set[int]]:
        """``_process``, waiting out a store that cannot be written now: the events wait here (and the
        platform holds the ones after them: the poller waits for this answer) instead of being lost."""
        delay, waited = STORE_RETRY_FIRST, 0.0
        while True:
            try:
                stored = await self._process(requests)
            except Exception as exc:
                if not store_unavailable(exc):
                    raise
                if waited == 0.0:
                    log.warning(
                        "the store cannot be written now (%s): %d engagement events wait and are tried again",
                        _cause(exc),
                        len(requests),
                    )
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, STORE_RETRY_MAX)
                continue
            if waited:
                log.warning("the store takes writes again: %d engagement events stored", len(requests))
            return stored

    async def _process(self, requests: Sequence[Request]) -> tuple[list[Result], set[int]]:
        """Store a batch together; when one of its events cannot be stored, the others still are."""
        try:
            return await self._store_batch(requests)
        except (DBAPIError, UnicodeError) as exc:
            if not fails_alone(exc):
                raise
            if len(requests) == 1:
                return [_unstorable(requests[0], exc)], set()
            log.info("%d engagement events failed together (%s); storing them one by one", len(requests), _cause(exc))
        results: list[Result] = []
        touched: set[int] = set()
        for request in requests:
            try:
                stored, hit = await self._store_batch([request])
            except (DBAPIError, UnicodeError) as exc:
                if not fails_alone(exc):
                    raise
                stored, hit = [_unstorable(request, exc)], set()
            results.extend(stored)
            touched |= hit
        return results, touched

    async def _store_batch(self, requests: Sequence[Request]) -> tuple[list[Result], set[int]]:
        """One transaction for the whole batch: resolve, interpret, then store what counts."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            await self._resolve_messages(session, requests)
            located = [self._locate(request) for request in requests]
            by_id = await posts.posts_by_ids(session, [post_id for post_id, _ in located if post_id is not None])
            results: list[Result | None] = []
            accepted: list[_Accepted] = []
            for request, (post_id, delivery_id) in zip(requests, located, strict=True):
                post = by_id.get(post_id) if post_id is not None else None
                if post is None:
                    missing = Message("no post #%(id)s", id=post_id)
                    results.append(Result(None, Message("that is not a prikbord post") if request.message else missing))
                    continue
                open_now = post.cta_deadline is None or post.cta_deadline > now
                meaning = interpret(post, request.intent, open_now)
                if isinstance(meaning, Refusal):
                    results.append(Result(None, meaning.text, post.id))
                    continue
                accepted.append(_Accepted(request, post.id, delivery_id, meaning))
                results.append(None)
            # Only now, and only for acts that count, is anyone's identity ensured: a press on a
            # message prikbord never sent (or on a retracted post) creates no employee.
            people = await self._resolve_people(session, [item.request.user for item in accepted])
            interactions = [self._interaction(item, people) for item in accepted]
            outcomes = await apply_batch(session, interactions, now)
        # Cached only now: a person created in a batch that rolled back does not exist.
        for key, person in people.items():
            if key not in self._people:
                self._remember(self._people, key, person)
        touched: set[int] = set()
        applied = iter(zip(accepted, outcomes, strict=True))
        final: list[Result] = []
        for result in results:
            if result is not None:
                final.append(result)
                continue
            item, outcome = next(applied)
            if outcome in (Outcome.COUNTED, Outcome.CHANGED, Outcome.REMOVED):
                touched.add(item.post_id)
            final.append(Result(outcome, describe(outcome, item.meaning, item.post_id), item.post_id))
        return final, touched

    @staticmethod
    def _interaction(item: _Accepted, people: dict[tuple[str, str], Person]) -> Interaction:
        request = item.request
        person = people[(request.user.platform, request.user.user_id)]
        return Interaction(
            platform=request.platform,
            event_id=request.event_id,
            post_id=item.post_id,
            identity_id=person.identity_id,
            employee_id=person.employee_id,
            kind=item.meaning.kind,
            op=request.op,
            value=item.meaning.value,
            text=request.text,
            delivery_id=item.delivery_id,
        )

    def _locate(self, request: Request) -> tuple[int | None, int | None]:
        if request.post_id is not None:
            return request.post_id, None
        assert request.message is not None
        message = request.message
        found = self._messages.get((request.platform, whole_chat_id(message.chat.chat_id), message.message_id))
        if found is None:
            return None, None
        return found[1], found[0]

    async def _resolve_messages(self, session: AsyncSession, requests: Sequence[Request]) -> None:
        missing = {
            (r.platform, whole_chat_id(r.message.chat.chat_id), r.message.message_id)
            for r in requests
            if r.message is not None and r.post_id is None
        } - set(self._messages)
        if not missing:
            return
        for platform, chat_id, message_id, delivery_id, post_id in await outbox.deliveries_for_messages(
            session, list(missing)
        ):
            self.remember_message(SentDelivery(platform, chat_id, message_id, delivery_id, post_id))

    async def _resolve_people(self, session: AsyncSession, users: Sequence[UserRef]) -> dict[tuple[str, str], Person]:
        found: dict[tuple[str, str], Person] = {}
        unknown: dict[tuple[str, str], str] = {}
        for user in users:
            key = (user.platform, user.user_id)
            cached = self._people.get(key)
            if cached is not None:
                found[key] = cached
            else:
                unknown.setdefault(key, user.display_name)
        if unknown:
            accounts = [(platform, user_id, name) for (platform, user_id), name in unknown.items()]
            found.update(await ensure_identities(session, accounts, self._clock.now()))
        return found


def _cause(exc: BaseException) -> str:
    """The driver's complaint in one short line (SQLAlchemy's own text repeats the statement and its values)."""
    orig = getattr(exc, "orig", None) or exc
    text = _printable(" ".join(str(orig).split()), 160)
    return f"{type(orig).__name__}: {text}"


def _printable(text: str, limit: int) -> str:
    """Safe to write to any log: at most ``limit`` characters, anything unencodable escaped."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _unstorable(request: Request, exc: BaseException) -> Result:
    log.warning(
        "engagement event %s from %s:%s could not be stored and was not counted: %s",
        _printable(request.event_id or "-", 80),
        request.user.platform,
        _printable(request.user.user_id, 80),
        _cause(exc),
    )
    return Result(None, Message("sorry, that could not be counted: it arrived in a form prikbord cannot store"))
