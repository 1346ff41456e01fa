"""``link``, ``whoami``, ``unlink``, ``privacy``: a person's own messenger accounts and data."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError
from bot.services.linking import LinkingService, LinkUnavailable
from bot.services.privacy import PRIVACY_TEXT
from bot.services.roles import Role

PLATFORM_NAMES = ("telegram", "slack", "matrix", "console")


def _linking(ctx: CommandContext) -> LinkingService:
    linking = ctx.services.linking
    if linking is None:
        raise LinkUnavailable("linking is not available in this prikbord")
    return linking


async def link(ctx: CommandContext, args: str) -> Reply:
    try:
        url = await _linking(ctx).issue_link(ctx.command.user)
    except LinkUnavailable as exc:
        return Reply(str(exc))
    return Reply(
        "Open this link to sign in with your company account and link this messenger account to you. "
        f"It works once, for 15 minutes, and only for you — do not share it:\n{url}"
    )


async def whoami(ctx: CommandContext, args: str) -> Reply:
    try:
        found = await _linking(ctx).whoami(ctx.command.user)
    except LinkUnavailable as exc:
        return Reply(str(exc))
    if found is None or all(a.how is None for a in found.accounts):
        return Reply("this account is not linked to anyone in the company directory; /link links it")
    lines = [f"you are {found.name}" + (f" ({found.email})" if found.email else "") + "; your accounts:"]
    for account in found.accounts:
        how = {"sso": "single sign-on", "directory": "the directory", "workspace_email": "your workspace email"}.get(
            account.how or "", "not linked"
        )
        when = f", {account.linked_at:%Y-%m-%d}" if account.linked_at else ""
        lines.append(f"  {account.platform}: {account.user_id} (by {how}{when})")
    lines.append("`unlink PLATFORM` removes one")
    return Reply("\n".join(lines))


async def unlink(ctx: CommandContext, args: str) -> Reply:
    platform = args.strip().lower()
    if platform not in PLATFORM_NAMES:
        raise UsageError(f"say which account to unlink: one of {', '.join(PLATFORM_NAMES)}")
    try:
        done = await _linking(ctx).unlink(ctx.command.user, platform)
    except LinkUnavailable as exc:
        return Reply(str(exc))
    if not done:
        return Reply(f"you have no linked {platform} account")
    return Reply(f"your {platform} account is no longer linked to you; from now on it counts as a person of its own")


async def privacy(ctx: CommandContext, args: str) -> Reply:
    return Reply(PRIVACY_TEXT)


COMMANDS = [
    CommandSpec("link", Role.EMPLOYEE, "link", "link this account to you by company sign-in", link),
    CommandSpec("whoami", Role.EMPLOYEE, "whoami", "who prikbord thinks you are, and your linked accounts", whoami),
    CommandSpec("unlink", Role.EMPLOYEE, "unlink PLATFORM", "remove the link of one of your accounts", unlink),
    CommandSpec("privacy", Role.EMPLOYEE, "privacy", "what prikbord stores about you, and how to ask", privacy),
]
