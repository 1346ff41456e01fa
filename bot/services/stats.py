"""Post statistics: one shape for the ``stats`` command, ``prikbord stats --json`` and the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content import posts
from content.models import CtaKind, Post
from content.responses import counts_for


async def post_stats(session: AsyncSession, post_list: Sequence[Post]) -> list[dict[str, Any]]:
    """``id``, ``title``, ``state``, ``counts`` (kind → distinct people), ``votes`` (option → count)
    and ``deliveries`` (state → count) for each post, in three queries."""
    ids = [p.id for p in post_list]
    counts = await counts_for(session, ids)
    deliveries = await posts.delivery_states(session, ids)
    result = []
    for post in post_list:
        votes: dict[str, int] = {}
        if post.cta_kind in (CtaKind.POLL, CtaKind.RSVP):
            votes = {option: counts[post.id].by_value.get(option, 0) for option in post.cta_options or []}
        result.append(
            {
                "id": post.id,
                "title": post.title,
                "kind": post.kind,
                "state": post.state,
                "call_to_action": post.cta_kind,
                "deadline": post.cta_deadline.isoformat() if post.cta_deadline else None,
                "publish_at": post.publish_at.isoformat() if post.publish_at else None,
                "counts": dict(sorted(counts[post.id].by_kind.items())),
                "votes": votes,
                "deliveries": dict(sorted(deliveries[post.id].items())),
            }
        )
    return result


def stats_line(stats: dict[str, Any]) -> str:
    """A one-line summary for chat: ``#12 Lunch (published) · like 3 · vote 4 · Pizza 3, Sushi 1 · sent 2``."""
    bits = [f"#{stats['id']} {stats['title']} ({stats['state']})"]
    bits += [f"{kind} {n}" for kind, n in stats["counts"].items()]
    if stats["votes"]:
        bits.append(", ".join(f"{option} {n}" for option, n in stats["votes"].items()))
    if stats["deliveries"]:
        bits.append(", ".join(f"{state} {n}" for state, n in stats["deliveries"].items()))
    return " · ".join(bits)
