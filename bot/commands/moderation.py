"""``retract``, ``approve``, ``reject``, ``pending``, ``stats``."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_post_ref
from bot.services.roles import Role
from bot.services.stats import NothingToMiss, missing_report, post_stats, stats_line
from content import posts


async def retract(ctx: CommandContext, args: str) -> Reply:
    post, removed = await ctx.services.publishing.retract(parse_post_ref(args), ctx.actor)
    return Reply(f"#{post.id} is retracted; {removed} message(s) removed")


async def approve(ctx: CommandContext, args: str) -> Reply:
    post = await ctx.services.publishing.approve(parse_post_ref(args), ctx.actor)
    return Reply(f"#{post.id} approved: {post.state}")


async def reject(ctx: CommandContext, args: str) -> Reply:
    ref, _, reason = args.strip().partition(" ")
    post = await ctx.services.publishing.reject(parse_post_ref(ref), ctx.actor, reason.strip())
    return Reply(f"#{post.id} rejected" + (f": {reason.strip()}" if reason.strip() else ""))


async def pending(ctx: CommandContext, args: str) -> Reply:
    async with ctx.services.store.sessions() as session:
        waiting = await posts.pending_posts(session)
    if not waiting:
        return Reply("nothing is waiting for approval or scheduled")
    lines = []
    for post in waiting:
        when = f" at {post.publish_at:%Y-%m-%d %H:%M} UTC" if post.publish_at and post.state == "scheduled" else ""
        lines.append(f"#{post.id} {post.title} ({post.state}{when}, by {post.author})")
    return Reply("\n".join(lines))


async def stats(ctx: CommandContext, args: str) -> Reply:
    ref, _, rest = args.strip().partition(" ")
    if rest.strip() and rest.strip().lower() != "missing":
        raise UsageError(f"stats #ID [missing], not {args.strip()!r}")
    async with ctx.services.store.sessions() as session:
        if ref:
            post = await posts.get_post(session, parse_post_ref(ref))
            if post is None:
                raise UsageError(f"there is no post #{ref.lstrip('#')}")
            if rest.strip():
                try:
                    return Reply(await missing_report(session, post))  # private: names are personal data
                except NothingToMiss as exc:
                    raise UsageError(str(exc)) from None
            chosen = [post]
        else:
            chosen = await posts.recent_posts(session, 10)
        found = await post_stats(session, chosen)
    return Reply("\n".join(stats_line(s) for s in found) or "no posts yet")


COMMANDS = [
    CommandSpec(
        "retract",
        Role.MODERATOR,
        "retract #ID",
        "withdraw a post and remove its messages",
        retract,
        aliases=("cancel",),
    ),
    CommandSpec("approve", Role.MODERATOR, "approve #ID", "publish a submitted post", approve),
    CommandSpec("reject", Role.MODERATOR, "reject #ID [reason]", "turn down a submitted post", reject),
    CommandSpec("pending", Role.MODERATOR, "pending", "posts waiting for approval or scheduled", pending),
    CommandSpec(
        "stats",
        Role.MODERATOR,
        "stats [#ID [missing]]",
        "who was reached and who acted; missing: who has not acknowledged (privately)",
        stats,
    ),
]
