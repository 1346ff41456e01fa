"""``like``, ``ack``, ``vote``, ``reply``: the same acts as buttons and reactions, typed."""

from __future__ import annotations

from adapters.base import Acknowledge, ChooseNamed, Intent, Like
from adapters.base import Reply as ReplyIntent
from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_post_ref
from bot.i18n import N_, Message
from bot.services.engagement import Request
from bot.services.roles import Role


async def _submit(ctx: CommandContext, post_id: int, action: Intent, text: str | None = None) -> Reply:
    command = ctx.command
    result = await ctx.services.engagement.submit(
        Request(command.user.platform, command.event_id, command.user, action, post_id=post_id, text=text)
    )
    return Reply(ctx.render(result.message))


async def like(ctx: CommandContext, args: str) -> Reply:
    return await _submit(ctx, parse_post_ref(args), Like())


async def ack(ctx: CommandContext, args: str) -> Reply:
    return await _submit(ctx, parse_post_ref(args), Acknowledge())


async def vote(ctx: CommandContext, args: str) -> Reply:
    ref, _, choice = args.strip().partition(" ")
    if not choice.strip():
        raise UsageError(Message("say which option: `vote 12 2` or `vote 12 Sushi`"))
    return await _submit(ctx, parse_post_ref(ref), ChooseNamed(choice.strip()))


async def reply(ctx: CommandContext, args: str) -> Reply:
    ref, _, text = args.strip().partition(" ")
    if not text.strip():
        raise UsageError(Message("write the reply after the post number: `reply 12 I'll bring cake`"))
    return await _submit(ctx, parse_post_ref(ref), ReplyIntent(), text.strip())


COMMANDS = [
    CommandSpec("like", Role.EMPLOYEE, N_("like #ID"), N_("like a post"), like),
    CommandSpec("ack", Role.EMPLOYEE, N_("ack #ID"), N_("mark a must-read as read"), ack, aliases=("read",)),
    CommandSpec(
        "vote", Role.EMPLOYEE, N_("vote #ID OPTION"), N_("vote in a poll or answer an RSVP"), vote, aliases=("rsvp",)
    ),
    CommandSpec("reply", Role.EMPLOYEE, N_("reply #ID TEXT"), N_("answer a post"), reply),
]
