"""``post`` and ``schedule``."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_post, parse_schedule
from bot.i18n import N_, Message
from bot.services.form_words import created_text
from bot.services.guided import asks_by_messages
from bot.services.roles import Role

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
        forms = ctx.services.post_forms
        if forms is not None and await forms.open(ctx.command, ctx.role, ctx.translator):
            return Reply("")  # the form is the answer (Slack's modal)
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


COMMANDS = [
    # Employees may call `post`: the publishing service sends it for approval with open posting,
    # and refuses with the role needed otherwise.
    CommandSpec("post", Role.EMPLOYEE, POST_USAGE, N_("publish a post (moderators) or submit one"), post),
    CommandSpec("schedule", Role.MODERATOR, SCHEDULE_USAGE, N_("publish a post later"), schedule),
]
