"""The sink every adapter delivers its events to: commands to the router, engagement to the
engagement service, the bot's own membership changes to the channel bookkeeping, and people's
memberships (joins, leaves, and everyone seen acting in a channel) to the audience service. Plain
messages, replies and presses that answer a post being composed step by step go to that dialog first
(bot/services/guided.py); what it does not take goes on as before."""

from __future__ import annotations

import logging

from adapters.base import (
    AccountClosed,
    ActionPressed,
    ChannelMembershipChanged,
    ChannelMigrated,
    CommandIssued,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    ReactionAdded,
    ReactionRemoved,
    ReplyPosted,
)
from bot.clock import Clock
from bot.commands.router import CommandRouter
from bot.i18n import Message
from bot.services.audience import AudienceService
from bot.services.engagement import EngagementService, Result
from bot.services.guided import GuidedPosting
from bot.services.notify import ModeratorNotifier
from content import direct, posts
from content.db import Store
from content.people import ensure_identity

log = logging.getLogger("prikbord.inbound")


def counts_as_seen(result: Result) -> bool:
    """Whoever acted on one of prikbord's posts, and was counted, is a member of that chat. Acts on
    messages prikbord never sent (or refused ones) say nothing about the audience and store nobody."""
    return result.outcome is not None


def speaking_is_membership(command: CommandIssued) -> bool:
    """The console's audience is the people who have spoken in it (typed locally, trusted). On the
    messengers a command is no sighting: their members come from member lists, events and acts."""
    return command.chat.platform == "console" and not command.private_chat


class InboundRouter:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        commands: CommandRouter,
        engagement: EngagementService,
        notifier: ModeratorNotifier,
        audience: AudienceService | None = None,
        guided: GuidedPosting | None = None,
    ) -> None:
        self._guided = guided
        self._store = store
        self._clock = clock
        self._commands = commands
        self._engagement = engagement
        self._notifier = notifier
        self._audience = audience
        self._private_chats: set[tuple[str, str, str]] = set()  # (platform, user, chat) already stored

    async def __call__(self, event: Event) -> None:
        if self._audience is not None and isinstance(event, MemberJoined | MemberLeft | AccountClosed):
            await self._audience.handle(event)
            return
        if isinstance(event, CommandIssued):
            if event.private_chat and event.chat.platform != "console":
                await self._remember_private_chat(event)
            if self._audience is not None and speaking_is_membership(event):
                self._audience.note_seen(event.chat, event.user)
            await self._commands.handle(event)
        elif isinstance(event, MessagePosted):
            if self._guided is not None:  # an answer to a question of a dialog; other chat stays untouched
                await self._guided.take(event)
        elif isinstance(event, ActionPressed | ReactionAdded | ReactionRemoved | ReplyPosted):
            if isinstance(event, ActionPressed | ReplyPosted) and await self._answers_dialog(event):
                return
            result = await self._engagement.handle_event(event)
            if self._audience is not None and counts_as_seen(result):
                self._audience.note_seen(event.message.chat, event.user)
        elif isinstance(event, ChannelMembershipChanged):
            await self._membership(event)
        elif isinstance(event, ChannelMigrated):
            await self._migrated(event)

    async def _answers_dialog(self, event: ActionPressed | ReplyPosted) -> bool:
        """Whether ``event`` answered a question of a post composed step by step (then it is handled)."""
        return self._guided is not None and await self._guided.take(event)

    async def _remember_private_chat(self, command: CommandIssued) -> None:
        """A command from someone's private chat with the bot (Telegram's /start) says where that chat is:
        a post's private copy to them can go there (content/direct.py)."""
        key = (command.chat.platform, command.user.user_id, command.chat.chat_id)
        if key in self._private_chats:
            return
        user = command.user
        async with self._store.transaction() as session:
            person = await ensure_identity(session, user.platform, user.user_id, user.display_name, self._clock.now())
            await direct.remember_private_chat(session, person.identity_id, command.chat.chat_id)
        self._private_chats.add(key)

    async def _membership(self, event: ChannelMembershipChanged) -> None:
        chat = event.chat
        async with self._store.transaction() as session:
            # The bot is in the whole chat: the channels on a forum's topics come and go with it.
            channels = await posts.channels_of_chat(session, chat.platform, chat.chat_id)
            name = ", ".join(c.name for c in channels) or f"{chat.platform} chat {chat.chat_id}"
            for channel in channels if not event.joined else ():
                reason = event.reason or "the bot was removed from the chat"
                await posts.disable_channel(session, channel, reason, event.user.key, self._clock.now())
        if event.joined and channels:
            await self._notifier.tell(Message("the bot was added to %(name)s.", name=name))
        elif event.joined:
            await self._notifier.tell(
                Message(
                    "the bot was added to %(name)s. It is not configured as a channel yet: add it under [[channels]].",
                    name=name,
                )
            )
        else:
            await self._notifier.tell(Message("the bot was removed from %(name)s; the channel is disabled", name=name))

    async def _migrated(self, event: ChannelMigrated) -> None:
        chat = event.chat
        async with self._store.transaction() as session:
            channel = await posts.channel_by_chat(session, chat.platform, chat.chat_id)
            if channel is None:
                return
            old = channel.chat_id
            channel.chat_id = event.new_chat_id
            posts.audit(
                session,
                self._clock.now(),
                "prikbord",
                "channel_migrated",
                None,
                channel=channel.name,
                old=old,
                new=event.new_chat_id,
            )
        log.info("channel %s moved from %s to %s", channel.name, old, event.new_chat_id)
        await self._notifier.tell(
            Message(
                "%(name)s moved to chat id %(chat_id)s: update chat_id in the config to keep it",
                name=channel.name,
                chat_id=event.new_chat_id,
            )
        )
