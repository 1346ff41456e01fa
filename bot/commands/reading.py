"""``search``, ``agenda``, ``kb``, ``mine``: answers instead of timeline posts."""

from __future__ import annotations

from bot.commands.base import CommandContext, CommandSpec, Reply
from bot.commands.grammar import UsageError
from bot.i18n import N_, Message
from bot.services.roles import Role
from content import posts
from content.models import PostKind
from content.people import ensure_identity


def _snippet(body: str, limit: int = 80) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def search(ctx: CommandContext, args: str) -> Reply:
    if not args.strip():
        raise UsageError(Message("say what to look for: `search verlof`"))
    async with ctx.services.store.sessions() as session:
        found = await posts.search_posts(session, args)
    if not found:
        return Reply(ctx.gettext("nothing found for %(words)r", words=args.strip()))
    return Reply("\n".join(f"#{p.id} {p.title} — {_snippet(p.body)}" for p in found))


async def agenda(ctx: CommandContext, args: str) -> Reply:
    async with ctx.services.store.sessions() as session:
        items = await posts.reference_posts(session, PostKind.AGENDA, ctx.now)
    if not items:
        return Reply(ctx.gettext("the agenda is empty"))
    return Reply("\n".join(f"#{p.id} {p.title}" + (f" — {_snippet(p.body)}" if p.body else "") for p in items))


async def kb(ctx: CommandContext, args: str) -> Reply:
    async with ctx.services.store.sessions() as session:
        if args.strip():
            items = await posts.search_posts(session, args, kinds=[PostKind.KB])
        else:
            items = await posts.reference_posts(session, PostKind.KB, ctx.now)
    if not items:
        if args.strip():
            return Reply(ctx.gettext("no knowledge-base articles about %(words)r", words=args.strip()))
        return Reply(ctx.gettext("no knowledge-base articles"))
    return Reply("\n".join(f"#{p.id} {p.title} — {_snippet(p.body)}" for p in items))


async def mine(ctx: CommandContext, args: str) -> Reply:
    user = ctx.command.user
    async with ctx.services.store.transaction() as session:
        person = await ensure_identity(session, user.platform, user.user_id, user.display_name, ctx.now)
        open_reads = await posts.open_must_reads(session, person.employee_id, ctx.now)
    if not open_reads:
        return Reply(ctx.gettext("you have no open must-reads 🎉"))
    lines = [
        ctx.gettext(
            "#%(id)s %(title)s (by %(deadline)s UTC)",
            id=p.id,
            title=p.title,
            deadline=p.cta_deadline.strftime("%Y-%m-%d %H:%M"),
        )
        if p.cta_deadline
        else f"#{p.id} {p.title}"
        for p in open_reads
    ]
    return Reply(ctx.gettext("open must-reads (answer with `ack ID`):") + "\n" + "\n".join(lines))


COMMANDS = [
    CommandSpec(
        "search",
        Role.EMPLOYEE,
        N_("search WORDS"),
        N_("find posts, agenda items and articles"),
        search,
        aliases=("zoek",),
    ),
    CommandSpec("agenda", Role.EMPLOYEE, "agenda", N_("what is coming up"), agenda),
    CommandSpec("kb", Role.EMPLOYEE, N_("kb [WORDS]"), N_("the knowledge base"), kb),
    CommandSpec("mine", Role.EMPLOYEE, "mine", N_("your open must-reads"), mine),
]
