"""Posts composed step by step: the dialog's I/O around the pure steps of bot/services/guided_steps.py.

A dialog is one row of content/guided.py per platform, person and chat, so every instance on the
database continues it and a restart keeps it. The person's next plain messages in that chat (or
replies to the last question, or presses of its buttons) are the answers; everything else is left to
the rest of the bot. Nothing is created until Publish, and a Publish claims the row first, so pressing
it twice (or on two instances) makes one post. A dialog left alone for :data:`LIFETIME` is dropped: the
next message is treated as any other and the person is told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.base import (
    Action,
    ActionPressed,
    Adapter,
    ChatRef,
    CommandIssued,
    DeliveryError,
    MessagePosted,
    MessageRef,
    MessageTooLong,
    OutboundMessage,
    ReplyPosted,
    UserRef,
)
from adapters.markup import Document, Paragraph, Text
from bot.clock import Clock
from bot.i18n import SOURCE, Message, Translator
from bot.services import guided_steps as steps
from bot.services.drafts import DraftError
from bot.services.languages import PersonLanguages
from bot.services.publishing import NotAllowed, PublishingService
from bot.services.roles import Roles
from content import guided
from content.db import Store
from content.processed_commands import claim_command

log = logging.getLogger("prikbord.guided")

LIFETIME = timedelta(minutes=15)

Say = Callable[[ChatRef, OutboundMessage], Awaitable[MessageRef]]
"""Sends one of the dialog's messages to a chat (in the platform's rate windows) → its ref."""
CreatedText = Callable[[Translator, int, str, datetime | None], str]
StartLink = Callable[[str, str], str | None]
"""(platform, payload) → a link that opens the private chat with the bot and starts it (Adapter.start_link)."""
START_PAYLOAD = "post"  # Telegram's /start post (adapters/telegram/translate.py reads it as `post`)
"""What to tell about a new post (its number and state): the ``post`` command's own answer."""

Answer = MessagePosted | ReplyPosted | ActionPressed
# Why an event found no dialog to answer (GuidedPosting._open_dialog).
_NONE, _EXPIRED, _NOT_AN_ANSWER, _AGAIN = "none", "expired", "not an answer", "again"


def expired(updated_at: datetime, now: datetime) -> bool:
    """Whether a dialog last answered at ``updated_at`` is over."""
    return now - updated_at >= LIFETIME


def start_links(adapters: Mapping[str, Adapter]) -> StartLink:
    def start_link(platform: str, payload: str) -> str | None:
        adapter = adapters.get(platform)
        return adapter.start_link(payload) if adapter is not None else None

    return start_link


def asks_by_messages(platform: str) -> bool:
    """Where ``post`` without arguments asks step by step in messages. Slack has a form of its own (a
    modal) and delivers no plain messages to the bot, so a dialog of messages could never be answered there."""
    return platform in ("console", "matrix", "telegram")


def runs_in_private_chat(platform: str) -> bool:
    """Telegram's dialog runs in the person's private chat with the bot (ForceReply and inline buttons
    are for one person there; in a group, privacy mode hides the answers); elsewhere in the chat of ``post``."""
    return platform == "telegram"


def question_message(prompt: steps.Prompt, t: Translator, error: Message | str | None = None) -> OutboundMessage:
    """A question as a message: the error of the last answer first, then the question, with its buttons."""
    texts = ([t.render(error)] if error is not None else []) + [t.render(prompt.text)]
    actions = tuple(Action(c.action_id, t.gettext(c.label)) for c in prompt.choices)
    return OutboundMessage(markup=_lines(*texts), actions=actions, asks_reply=prompt.free_text and not actions)


def note_message(text: str) -> OutboundMessage:
    return OutboundMessage(markup=_lines(text))


def _lines(*texts: str) -> Document:
    """Each non-empty line of ``texts`` as a paragraph of its own."""
    return Document(tuple(Paragraph((Text(line),)) for text in texts for line in text.split("\n") if line.strip()))


class GuidedPosting:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        zone: ZoneInfo,
        publishing: PublishingService,
        roles: Roles,
        say: Say,
        created_text: CreatedText,
        languages: PersonLanguages | None = None,
        start_link: StartLink | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone
        self._publishing = publishing
        self._roles = roles
        self._say = say
        self._created_text = created_text
        self._languages = languages
        self._start_link = start_link

    async def _send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef | None:
        """One of the dialog's messages → its ref, or None when the platform refused it (logged, not raised:
        the answer is stored either way, and a raise would only make Matrix replay the sync for nothing)."""
        try:
            return await self._say(chat, message)
        except DeliveryError as exc:
            log.warning("a question of the post being composed in %s could not be sent: %s", chat.chat_id, exc)
            return None

    def _rules(self) -> steps.Rules:
        return steps.Rules(self._zone, self._clock.now(), self._publishing.requires_call_to_action)

    async def _translator(self, user: UserRef) -> Translator:
        return SOURCE if self._languages is None else await self._languages.for_user(user)

    async def begin(self, command: CommandIssued, t: Translator) -> str:
        """``post`` without arguments: start the dialog where it runs → what to answer the command with
        ("" when the first question is the answer). Raises NotAllowed for who may not post."""
        self._publishing.check_may_post(self._roles.role_of(command.user))
        if command.private_chat or not runs_in_private_chat(command.chat.platform):
            await self.start(command.user, command.chat)
            return ""
        link = self._start_link(command.chat.platform, START_PAYLOAD) if self._start_link else None
        if link:
            return t.gettext("let's write the post together in a private chat: %(link)s", link=link)
        return t.gettext("let's write the post together in a private chat: open a chat with me and send /post")

    async def start(self, user: UserRef, chat: ChatRef) -> None:
        """Begin a dialog in ``chat`` (a dialog already there starts over). Raises NotAllowed for who may not post."""
        self._publishing.check_may_post(self._roles.role_of(user))
        now = self._clock.now()
        async with self._store.transaction() as session:
            await guided.drop_guided_draft(session, user.platform, user.user_id, chat.chat_id)
            await guided.drop_guided_drafts_before(session, now - LIFETIME)  # abandoned ones, anyone's
            await session.flush()
            session.add(
                guided.GuidedDraft(
                    platform=user.platform,
                    user_id=user.user_id,
                    chat_id=chat.chat_id,
                    step=steps.Step.TITLE.value,
                    answers={},
                    started_at=now,
                    updated_at=now,
                )
            )
        await self._ask(user, chat, steps.Step.TITLE, {}, await self._translator(user))

    async def take(self, event: Answer) -> bool:
        """Whether ``event`` was an answer to this person's dialog in that chat (then it is handled here)."""
        chat = event.chat if isinstance(event, MessagePosted) else event.message.chat
        pressed = isinstance(event, ActionPressed)
        if isinstance(event, ActionPressed) and not steps.is_choice(event.action_id):
            return False  # a post's own button
        found = await self._open_dialog(event, chat)
        if found == _NOT_AN_ANSWER:
            return False
        t = await self._translator(event.user)
        if found == _AGAIN:
            await self._answer_press(event, "")
            return True
        if not isinstance(found, guided.GuidedDraft):  # none open (any more): the message is no answer
            if found == _EXPIRED:
                gone = t.gettext("your post draft expired after 15 minutes; nothing was posted")
                await self._send(chat, note_message(gone))
            if pressed:
                await self._answer_press(event, t.gettext("this post draft is no longer open"))
            return pressed
        await self._answer_press(event, "")
        text = event.action_id if isinstance(event, ActionPressed) else event.text
        await self._step(event.user, chat, found.step, dict(found.answers), text, t)
        return True

    async def _open_dialog(self, event: Answer, chat: ChatRef) -> guided.GuidedDraft | str:
        """The dialog ``event`` answers, with the event claimed (so a redelivery is not read twice), or why none."""
        user, now = event.user, self._clock.now()
        # Every plain message and reply comes here: most belong to no dialog, and are told so by a read,
        # without a write transaction (on SQLite: the store's one write lock).
        async with self._store.sessions() as session:
            if await guided.guided_draft(session, user.platform, user.user_id, chat.chat_id) is None:
                return _NONE
        async with self._store.transaction() as session:
            row = await guided.guided_draft(session, user.platform, user.user_id, chat.chat_id)
            if row is None:
                return _NONE
            if expired(row.updated_at, now):
                await guided.drop_guided_draft(session, user.platform, user.user_id, chat.chat_id)
                return _EXPIRED
            if isinstance(event, ReplyPosted) and row.prompt_id not in (None, event.message.message_id):
                return _NOT_AN_ANSWER  # a reply to a post, not to the question
            if not await claim_command(session, user.platform, event.event_id, "post", user.key, now):
                return _AGAIN  # delivered again (a replayed sync, a webhook retry): read once already
            session.expunge(row)
            return row

    async def _step(
        self, user: UserRef, chat: ChatRef, step_name: str, answers: dict[str, Any], text: str, t: Translator
    ) -> None:
        if step_name == guided.PUBLISHING:
            await self._send(chat, note_message(t.gettext("the post is being published already")))
            return
        step = steps.Step(step_name)
        if steps.is_cancel(text):
            await self._drop(user, chat)
            await self._send(chat, note_message(t.gettext("cancelled; nothing was posted")))
        elif steps.wants_publish(step, text):
            await self._publish(user, chat, answers, t)
        else:
            outcome = steps.answer(step, answers, text, self._rules())
            if isinstance(outcome, steps.Refused):
                await self._ask(user, chat, step, answers, t, outcome.error)
                return
            await self._save(user, chat, outcome.step, outcome.answers)
            await self._ask(user, chat, outcome.step, outcome.answers, t)

    async def _answer_press(self, event: Answer, text: str) -> None:
        if isinstance(event, ActionPressed):
            try:
                await event.answer(text)
            except Exception:  # the press is handled either way; Telegram only stops its spinner later
                log.warning("answering a press of %s failed", event.user.key, exc_info=True)

    async def _ask(
        self,
        user: UserRef,
        chat: ChatRef,
        step: steps.Step,
        answers: dict[str, Any],
        t: Translator,
        error: Message | str | None = None,
    ) -> None:
        ref = await self._send(chat, question_message(steps.prompt(step, answers, self._zone), t, error))
        if ref is None:
            return
        async with self._store.transaction() as session:
            row = await guided.guided_draft(session, user.platform, user.user_id, chat.chat_id)
            if row is not None:
                row.prompt_id = ref.message_id

    async def _save(self, user: UserRef, chat: ChatRef, step: steps.Step, answers: dict[str, Any]) -> None:
        async with self._store.transaction() as session:
            row = await guided.guided_draft(session, user.platform, user.user_id, chat.chat_id)
            if row is not None:
                row.step, row.answers, row.updated_at = step.value, answers, self._clock.now()

    async def _drop(self, user: UserRef, chat: ChatRef) -> None:
        async with self._store.transaction() as session:
            await guided.drop_guided_draft(session, user.platform, user.user_id, chat.chat_id)

    async def _publish(self, user: UserRef, chat: ChatRef, answers: dict[str, Any], t: Translator) -> None:
        now = self._clock.now()
        async with self._store.transaction() as session:
            claimed = await guided.claim_guided_draft(
                session, user.platform, user.user_id, chat.chat_id, steps.Step.PREVIEW.value, now
            )
        if not claimed:  # a second Publish (pressed twice, or handled by another instance)
            await self._send(chat, note_message(t.gettext("the post is being published already")))
            return
        error: Message | str | None = None
        try:
            draft = steps.final_draft(answers, self._rules())
            post = await self._publishing.create(draft, user.key, self._roles.role_of(user))
        except (DraftError, NotAllowed) as exc:
            error = exc.message
        except MessageTooLong as exc:
            error = str(exc)
        except Exception:
            log.exception("publishing the composed post of %s failed", user.key)
            error = Message("something went wrong; the operator can find the details in the log")
        if error is not None:
            # Nothing was created: back to the preview, so the person can cancel or try again.
            await self._save(user, chat, steps.Step.PREVIEW, answers)
            await self._ask(user, chat, steps.Step.PREVIEW, answers, t, error)
            return
        await self._drop(user, chat)
        await self._send(chat, note_message(self._created_text(t, post.id, post.state, post.publish_at)))
