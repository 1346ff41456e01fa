"""``post`` and ``schedule``."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_post, parse_schedule
from bot.services.roles import Role
from content.models import PostState

POST_USAGE = "post TITLE | BODY | cta: like|acknowledge [by WHEN]|rsvp|poll A; B|reply|link URL | to: TAG, TAG | urgent"
SCHEDULE_USAGE = "schedule WHEN | TITLE | BODY | cta: … (WHEN: 2026-12-05 17:00, tomorrow 08:30, in 2h)"


async def post(ctx: CommandContext, args: str) -> Reply:
    if not args.strip():
        raise UsageError(
            "write the post after the command, e.g. `post Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi`"
        )
    draft = parse_post(args, ctx.services.zone, ctx.now)
    created = await ctx.services.publishing.create(draft, ctx.actor, ctx.role)
    # A post held for quiet hours is scheduled: say until when.
    return Reply(_created_text(created.id, created.state, created.publish_at))


async def schedule(ctx: CommandContext, args: str) -> Reply:
    draft = parse_schedule(args, ctx.services.zone, ctx.now)
    created = await ctx.services.publishing.create(draft, ctx.actor, ctx.role)
    return Reply(_created_text(created.id, created.state, created.publish_at))


def _created_text(post_id: int, state: str, at: object = None) -> str:
    if state == PostState.PENDING:
        return f"#{post_id} is waiting for a moderator's approval"
    if state == PostState.SCHEDULED:
        return f"#{post_id} is scheduled for {at:%Y-%m-%d %H:%M} UTC" if at else f"#{post_id} is scheduled"
    return f"#{post_id} is published"


COMMANDS = [
    # Employees may call `post`: the publishing service sends it for approval with open posting,
    # and refuses with the role needed otherwise.
    CommandSpec("post", Role.EMPLOYEE, POST_USAGE, "publish a post (moderators) or submit one", post),
    CommandSpec("schedule", Role.MODERATOR, SCHEDULE_USAGE, "publish a post later", schedule),
]
