"""``quiet``, ``optout``, ``optin``: people decide when work may reach them privately."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_quiet
from bot.i18n import N_, Message
from bot.services.roles import Role
from content.people import employee_of, ensure_identity


async def quiet(ctx: CommandContext, args: str) -> Reply:
    window = parse_quiet(args)
    user = ctx.command.user
    async with ctx.services.store.transaction() as session:
        person = await ensure_identity(session, user.platform, user.user_id, user.display_name, ctx.now)
        employee = await employee_of(session, person)
        employee.quiet_start, employee.quiet_end = window if window else (None, None)
    if window is None:
        return Reply(ctx.gettext("quiet hours off: private messages may reach you at any time"))
    return Reply(
        ctx.gettext(
            "quiet hours set: no private messages between %(start)s and %(end)s", start=window[0], end=window[1]
        )
    )


async def optout(ctx: CommandContext, args: str) -> Reply:
    what = args.strip().lower()
    if what not in ("reminders", "all"):
        raise UsageError(Message("say what to stop: `optout reminders` or `optout all`"))
    user = ctx.command.user
    async with ctx.services.store.transaction() as session:
        person = await ensure_identity(session, user.platform, user.user_id, user.display_name, ctx.now)
        employee = await employee_of(session, person)
        employee.optout_reminders = True
        if what == "all":
            employee.optout_all = True
    if what == "all":
        return Reply(ctx.gettext("you will get no private messages from prikbord; `optin` undoes this"))
    return Reply(ctx.gettext("you will get no reminders; `optin` undoes this"))


async def optin(ctx: CommandContext, args: str) -> Reply:
    user = ctx.command.user
    async with ctx.services.store.transaction() as session:
        person = await ensure_identity(session, user.platform, user.user_id, user.display_name, ctx.now)
        employee = await employee_of(session, person)
        employee.optout_reminders = employee.optout_all = False
    return Reply(ctx.gettext("welcome back: reminders and private messages are on again"))


COMMANDS = [
    CommandSpec("quiet", Role.EMPLOYEE, "quiet HH:MM-HH:MM | off", N_("your quiet hours for private messages"), quiet),
    CommandSpec(
        "optout", Role.EMPLOYEE, "optout reminders | all", N_("stop reminders or all private messages"), optout
    ),
    CommandSpec("optin", Role.EMPLOYEE, "optin", N_("undo optout"), optin),
]
