"""``post`` and ``schedule``."""

from __future__ import annotations

from datetime import datetime

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_post, parse_schedule
from bot.i18n import N_, Message, Translator
from bot.services.guided import asks_by_messages
from bot.services.roles import Role
from content.models import PostState

POST_USAGE = N_(
    "post TITLE | BODY | cta: like|acknowledge [by WHEN]|rsvp|poll A; B|reply|link URL | to: TAG, TAG | urgent "
    "(post alone: step by step)"
)
SCHEDULE_USAGE = N_("schedule WHEN | TITLE | BODY | cta: … (WHEN: 2026-12-05 17:00, tomorrow 08:30, in 2h)")


async def post(ctx: CommandContext, args: str) -> Reply:
    guided = ctx.services.guided
    if not args.strip() and guided is not None and asks_by_messages(ctx.command.chat.platform):
        return Reply(await guided.begin(ctx.command, ctx.translator), private=False)  # step by step
    if not args.strip():
        raise UsageError(
            Message(
                "write the post after the command, e.g. `post Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi`"
            )
        )
    draft = parse_post(args, ctx.services.zone, ctx.now)
    created = await ctx.services.publishing.create(draft, ctx.actor, ctx.role)
    # A post held for quiet hours is scheduled: say until when.
    return Reply(created_text(ctx.translator, created.id, created.state, created.publish_at))


async def schedule(ctx: CommandContext, args: str) -> Reply:
    draft = parse_schedule(args, ctx.services.zone, ctx.now)
    created = await ctx.services.publishing.create(draft, ctx.actor, ctx.role)
    return Reply(created_text(ctx.translator, created.id, created.state, created.publish_at))


def created_text(t: Translator, post_id: int, state: str, at: datetime | None = None) -> str:
    """What ``post`` answers about the post it made (its number, and whether it waits or when it goes out)."""
    if state == PostState.PENDING:
        return t.gettext("#%(id)s is waiting for a moderator's approval", id=post_id)
    if state == PostState.SCHEDULED:
        if at:
            return t.gettext("#%(id)s is scheduled for %(when)s UTC", id=post_id, when=at.strftime("%Y-%m-%d %H:%M"))
        return t.gettext("#%(id)s is scheduled", id=post_id)
    return t.gettext("#%(id)s is published", id=post_id)


COMMANDS = [
    # Employees may call `post`: the publishing service sends it for approval with open posting,
    # and refuses with the role needed otherwise.
    CommandSpec("post", Role.EMPLOYEE, POST_USAGE, N_("publish a post (moderators) or submit one"), post),
    CommandSpec("schedule", Role.MODERATOR, SCHEDULE_USAGE, N_("publish a post later"), schedule),
]
