"""Post statistics: one shape for the ``stats`` command, ``prikbord stats --json`` and the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content import audience, posts
from content.models import CtaKind, Post, ResponseKind
from content.responses import counts_for

# The response that does what each call to action asks (completion on the dashboard).
CTA_RESPONSE: dict[str, str] = {
    CtaKind.LIKE: ResponseKind.LIKE,
    CtaKind.ACKNOWLEDGE: ResponseKind.ACK,
    CtaKind.RSVP: ResponseKind.RSVP,
    CtaKind.POLL: ResponseKind.VOTE,
    CtaKind.REPLY: ResponseKind.REPLY,
    CtaKind.LINK: ResponseKind.CLICK,
}
# Those one can leave undone, for who-has-not lists (a like, reply or click is nobody's duty).
MISSABLE: dict[str, str] = {k: CTA_RESPONSE[k] for k in (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL)}
MISSING_SHOWN_IN_CHAT = 50
_DONE_WORDS: dict[str, str] = {
    ResponseKind.ACK: "acknowledged",
    ResponseKind.RSVP: "answered",
    ResponseKind.VOTE: "voted",
}


async def post_stats(
    session: AsyncSession, post_list: Sequence[Post], reach: Mapping[int, audience.Reach] | None = None
) -> list[dict[str, Any]]:
    """``id``, ``title``, ``state``, ``counts`` (kind → distinct people), ``votes`` (option → count),
    ``deliveries`` (state → count) and ``reach`` for each post, in a few queries; ``reach`` when the
    caller has read it already."""
    ids = [p.id for p in post_list]
    counts = await counts_for(session, ids)
    deliveries = await posts.delivery_states(session, ids)
    if reach is None:
        reach = await audience.reach_of(session, ids)
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
                "reach": reach[post.id].as_json(),
            }
        )
    return result


def stats_line(stats: dict[str, Any]) -> str:
    """A one-line summary for chat: ``#12 Lunch (published) · like 3 · vote 4 · Pizza 3, Sushi 1 · sent 2``."""
    bits = [f"#{stats['id']} {stats['title']} ({stats['state']})"]
    reach = stats["reach"]
    if reach["estimate"]:
        bits.append(f"reached about {reach['value']} ({reach['known']} known by name)")
    else:
        bits.append(f"reached {reach['value']}")
    bits += [f"{kind} {n}" for kind, n in stats["counts"].items()]
    if stats["votes"]:
        bits.append(", ".join(f"{option} {n}" for option, n in stats["votes"].items()))
    if stats["deliveries"]:
        bits.append(", ".join(f"{state} {n}" for state, n in stats["deliveries"].items()))
    return " · ".join(bits)


class NothingToMiss(ValueError):
    """The post asks nothing that one can leave undone (no acknowledge, RSVP or poll)."""


async def missing_report(session: AsyncSession, post: Post, shown: int = MISSING_SHOWN_IN_CHAT) -> str:
    """Who the post reached and has not done what it asks, for a moderator's private chat: name,
    department and the platforms they were reached on, the first ``shown`` of them."""
    kind = MISSABLE.get(post.cta_kind)
    if kind is None:
        raise NothingToMiss(
            f"#{post.id} asks for no acknowledgement, answer or vote, so nobody can have missed it "
            f"(its call to action is {post.cta_kind})"
        )
    reach = (await audience.reach_of(session, [post.id]))[post.id]
    people = await audience.missing(session, post.id, kind)
    done = _DONE_WORDS[kind]
    head = f"#{post.id} “{post.title}”: {len(people)} of the {reach.known} people known to be reached have not {done}"
    if reach.estimate:
        head += f" (reach is about {reach.value}: the others are known only as a member count and cannot be listed)"
    if not people:
        return head + "."
    lines = [head + ":"]
    for person in people[:shown]:
        where = ", ".join(person.platforms)
        lines.append(f"- {person.name} · {person.department or 'no department'} · {where}")
    if len(people) > shown:
        lines.append(f"… and {len(people) - shown} more: the post's page on the dashboard lists everyone (CSV)")
    return "\n".join(lines)
