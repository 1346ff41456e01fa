"""``edit``, ``retract``, ``approve``, ``reject``, ``pending``, ``stats``."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError, parse_edit, parse_post_ref
from bot.i18n import N_, Message
from bot.services.post_words import state_word
from bot.services.roles import Role
from bot.services.stats import NothingToMiss, missing_report, post_stats, stats_line
from content import posts
from content.models import PostState


def state_name(ctx: CommandContext, state: str) -> str:
    """A post's state in the words moderators read."""
    return ctx.render(state_word(state))


async def edit(ctx: CommandContext, args: str) -> Reply:
    post_id, change = parse_edit(args, ctx.services.zone, ctx.now)
    editing = ctx.services.editing
    if editing is None:
        raise UsageError(Message("editing is not available here"))
    done = await editing.edit(post_id, change, ctx.actor, ctx.role)
    return Reply(
        ctx.ngettext(
            "#%(id)s is edited; %(count)s message is being updated",
            "#%(id)s is edited; %(count)s messages are being updated",
            done.copies,
            id=done.post.id,
            count=done.copies,
        )
    )


async def retract(ctx: CommandContext, args: str) -> Reply:
    post, removed = await ctx.services.publishing.retract(parse_post_ref(args), ctx.actor)
    return Reply(
        ctx.ngettext(
            "#%(id)s is retracted; %(count)s message removed",
            "#%(id)s is retracted; %(count)s messages removed",
            removed,
            id=post.id,
            count=removed,
        )
    )


async def approve(ctx: CommandContext, args: str) -> Reply:
    post = await ctx.services.publishing.approve(parse_post_ref(args), ctx.actor)
    return Reply(ctx.gettext("#%(id)s approved: %(state)s", id=post.id, state=state_name(ctx, post.state)))


async def reject(ctx: CommandContext, args: str) -> Reply:
    ref, _, reason = args.strip().partition(" ")
    post = await ctx.services.publishing.reject(parse_post_ref(ref), ctx.actor, reason.strip())
    if reason.strip():
        return Reply(ctx.gettext("#%(id)s rejected: %(reason)s", id=post.id, reason=reason.strip()))
    return Reply(ctx.gettext("#%(id)s rejected", id=post.id))


async def pending(ctx: CommandContext, args: str) -> Reply:
    async with ctx.services.store.sessions() as session:
        waiting = await posts.pending_posts(session)
    if not waiting:
        return Reply(ctx.gettext("nothing is waiting for approval or scheduled"))
    lines = []
    for post in waiting:
        state = state_name(ctx, post.state)
        if post.publish_at and post.state == PostState.SCHEDULED:
            line = ctx.gettext(
                "#%(id)s %(title)s (%(state)s at %(when)s UTC, by %(author)s)",
                id=post.id,
                title=post.title,
                state=state,
                when=post.publish_at.strftime("%Y-%m-%d %H:%M"),
                author=post.author,
            )
        else:
            line = ctx.gettext(
                "#%(id)s %(title)s (%(state)s, by %(author)s)",
                id=post.id,
                title=post.title,
                state=state,
                author=post.author,
            )
        lines.append(line)
    return Reply("\n".join(lines))


async def stats(ctx: CommandContext, args: str) -> Reply:
    ref, _, rest = args.strip().partition(" ")
    if rest.strip() and rest.strip().lower() != "missing":
        raise UsageError(Message("stats #ID [missing], not %(args)r", args=args.strip()))
    async with ctx.services.store.sessions() as session:
        if ref:
            post = await posts.get_post(session, parse_post_ref(ref))
            if post is None:
                raise UsageError(Message("there is no post #%(id)s", id=ref.lstrip("#")))
            if rest.strip():
                try:
                    # private: names are personal data
                    return Reply(await missing_report(session, post, t=ctx.translator))
                except NothingToMiss as exc:
                    raise UsageError(exc.message) from None
            chosen = [post]
        else:
            chosen = await posts.recent_posts(session, 10)
        found = await post_stats(session, chosen)
    return Reply("\n".join(stats_line(s, ctx.translator) for s in found) or ctx.gettext("no posts yet"))


COMMANDS = [
    CommandSpec(
        "edit",
        Role.MODERATOR,
        N_("edit #ID | TITLE | BODY [| cta: poll A; B]"),
        N_("change a published post in every chat; its responses stay"),
        edit,
    ),
    CommandSpec(
        "retract",
        Role.MODERATOR,
        N_("retract #ID"),
        N_("withdraw a post and remove its messages"),
        retract,
        aliases=("cancel",),
    ),
    CommandSpec("approve", Role.MODERATOR, N_("approve #ID"), N_("publish a submitted post"), approve),
    CommandSpec("reject", Role.MODERATOR, N_("reject #ID [reason]"), N_("turn down a submitted post"), reject),
    CommandSpec("pending", Role.MODERATOR, "pending", N_("posts waiting for approval or scheduled"), pending),
    CommandSpec(
        "stats",
        Role.MODERATOR,
        N_("stats [#ID [missing]]"),
        N_("who was reached and who acted; missing: who has not acknowledged (privately)"),
        stats,
    ),
]
