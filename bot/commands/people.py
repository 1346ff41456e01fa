"""``link``, ``whoami``, ``unlink``, ``privacy``: a person's own messenger accounts and data."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError
from bot.i18n import N_, Message
from bot.services.linking import LinkingService, LinkUnavailable
from bot.services.privacy import PRIVACY_TEXT
from bot.services.roles import Role

PLATFORM_NAMES = ("telegram", "slack", "matrix", "console")
HOW_LINKED = {
    "sso": N_("single sign-on"),
    "directory": N_("the directory"),
    "workspace_email": N_("your workspace email"),
}
NOT_LINKED = N_("not linked")


def _linking(ctx: CommandContext) -> LinkingService:
    linking = ctx.services.linking
    if linking is None:
        raise LinkUnavailable(Message("linking is not available in this prikbord"))
    return linking


def _unavailable(ctx: CommandContext, exc: LinkUnavailable) -> Reply:
    reason = exc.args[0] if exc.args else ""
    return Reply(ctx.render(reason) if isinstance(reason, Message) else str(exc))


async def link(ctx: CommandContext, args: str) -> Reply:
    try:
        url = await _linking(ctx).issue_link(ctx.command.user)
    except LinkUnavailable as exc:
        return _unavailable(ctx, exc)
    return Reply(
        ctx.gettext(
            "Open this link to sign in with your company account and link this messenger account to you. "
            "It works once, for 15 minutes, and only for you — do not share it:\n%(url)s",
            url=url,
        )
    )


async def whoami(ctx: CommandContext, args: str) -> Reply:
    try:
        found = await _linking(ctx).whoami(ctx.command.user)
    except LinkUnavailable as exc:
        return _unavailable(ctx, exc)
    if found is None or all(a.how is None for a in found.accounts):
        return Reply(ctx.gettext("this account is not linked to anyone in the company directory; /link links it"))
    if found.email:
        lines = [ctx.gettext("you are %(name)s (%(email)s); your accounts:", name=found.name, email=found.email)]
    else:
        lines = [ctx.gettext("you are %(name)s; your accounts:", name=found.name)]
    for account in found.accounts:
        how = ctx.gettext(HOW_LINKED.get(account.how or "", NOT_LINKED))
        if account.linked_at:
            line = ctx.gettext(
                "%(platform)s: %(user_id)s (by %(how)s, %(date)s)",
                platform=account.platform,
                user_id=account.user_id,
                how=how,
                date=account.linked_at.strftime("%Y-%m-%d"),
            )
        else:
            line = ctx.gettext(
                "%(platform)s: %(user_id)s (by %(how)s)", platform=account.platform, user_id=account.user_id, how=how
            )
        lines.append(f"  {line}")
    lines.append(ctx.gettext("`unlink PLATFORM` removes one"))
    return Reply("\n".join(lines))


async def unlink(ctx: CommandContext, args: str) -> Reply:
    platform = args.strip().lower()
    if platform not in PLATFORM_NAMES:
        raise UsageError(
            Message("say which account to unlink: one of %(platforms)s", platforms=", ".join(PLATFORM_NAMES))
        )
    try:
        done = await _linking(ctx).unlink(ctx.command.user, platform)
    except LinkUnavailable as exc:
        return _unavailable(ctx, exc)
    if not done:
        return Reply(ctx.gettext("you have no linked %(platform)s account", platform=platform))
    return Reply(
        ctx.gettext(
            "your %(platform)s account is no longer linked to you; from now on it counts as a person of its own",
            platform=platform,
        )
    )


async def privacy(ctx: CommandContext, args: str) -> Reply:
    return Reply(ctx.gettext(PRIVACY_TEXT))


COMMANDS = [
    CommandSpec("link", Role.EMPLOYEE, "link", N_("link this account to you by company sign-in"), link),
    CommandSpec("whoami", Role.EMPLOYEE, "whoami", N_("who prikbord thinks you are, and your linked accounts"), whoami),
    CommandSpec("unlink", Role.EMPLOYEE, N_("unlink PLATFORM"), N_("remove the link of one of your accounts"), unlink),
    CommandSpec("privacy", Role.EMPLOYEE, "privacy", N_("what prikbord stores about you, and how to ask"), privacy),
]
