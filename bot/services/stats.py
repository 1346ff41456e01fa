"""Post statistics: one shape for the ``stats`` command, ``prikbord stats --json`` and the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import SOURCE, Message, Refusal, Translator
from bot.services.post_words import state_word
from content import audience, posts
from content.models import CtaKind, DeliveryState, Post, ResponseKind
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
# The words of a stats line, in the reader's language (a StrEnum key is found by its value too).
_KIND_WORDS: dict[str, Message] = {
    ResponseKind.LIKE: Message.pgettext("response kind", "like"),
    ResponseKind.ACK: Message.pgettext("response kind", "ack"),
    ResponseKind.RSVP: Message.pgettext("response kind", "rsvp"),
    ResponseKind.VOTE: Message.pgettext("response kind", "vote"),
    ResponseKind.REPLY: Message.pgettext("response kind", "reply"),
    ResponseKind.CLICK: Message.pgettext("response kind", "click"),
}
_DELIVERY_WORDS: dict[str, Message] = {
    DeliveryState.PENDING: Message.pgettext("delivery state", "pending"),
    DeliveryState.SENDING: Message.pgettext("delivery state", "sending"),
    DeliveryState.SENT: Message.pgettext("delivery state", "sent"),
    DeliveryState.FAILED: Message.pgettext("delivery state", "failed"),
    DeliveryState.RETRACTED: Message.pgettext("delivery state", "retracted"),
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


def stats_line(stats: dict[str, Any], t: Translator = SOURCE) -> str:
    """A one-line summary for chat: ``#12 Lunch (published) · like 3 · vote 4 · Pizza 3, Sushi 1 · sent 2``."""

    def word(words: dict[str, Message], key: str) -> str:
        return t.render(words.get(key) or Message(key))

    bits = [f"#{stats['id']} {stats['title']} ({t.render(state_word(stats['state']))})"]
    reach = stats["reach"]
    if reach["estimate"]:
        bits.append(t.gettext("reached about %(value)s (%(known)s known by name)", **reach))
    else:
        bits.append(t.gettext("reached %(value)s", value=reach["value"]))
    bits += [f"{word(_KIND_WORDS, kind)} {n}" for kind, n in stats["counts"].items()]
    if stats["votes"]:
        bits.append(", ".join(f"{option} {n}" for option, n in stats["votes"].items()))
    if stats["deliveries"]:
        bits.append(", ".join(f"{word(_DELIVERY_WORDS, state)} {n}" for state, n in stats["deliveries"].items()))
    return " · ".join(bits)


class NothingToMiss(Refusal, ValueError):
    """The post asks nothing that one can leave undone (no acknowledge, RSVP or poll)."""


async def missing_report(
    session: AsyncSession, post: Post, shown: int = MISSING_SHOWN_IN_CHAT, t: Translator = SOURCE
) -> str:
    """Who the post reached and has not done what it asks, for a moderator's private chat: name,
    department and the platforms they were reached on, the first ``shown`` of them."""
    kind = MISSABLE.get(post.cta_kind)
    if kind is None:
        raise NothingToMiss(
            Message(
                "#%(id)s asks for no acknowledgement, answer or vote, so nobody can have missed it "
                "(its call to action is %(cta)s)",
                id=post.id,
                cta=post.cta_kind,
            )
        )
    reach = (await audience.reach_of(session, [post.id]))[post.id]
    people = await audience.missing(session, post.id, kind)
    values = {"id": post.id, "title": post.title, "count": len(people), "known": reach.known}
    if kind == ResponseKind.ACK:
        head = t.gettext(
            "#%(id)s “%(title)s”: %(count)s of the %(known)s people known to be reached have not acknowledged", **values
        )
    elif kind == ResponseKind.RSVP:
        head = t.gettext(
            "#%(id)s “%(title)s”: %(count)s of the %(known)s people known to be reached have not answered", **values
        )
    else:
        head = t.gettext(
            "#%(id)s “%(title)s”: %(count)s of the %(known)s people known to be reached have not voted", **values
        )
    if reach.estimate:
        head += " " + t.gettext(
            "(reach is about %(value)s: the others are known only as a member count and cannot be listed)",
            value=reach.value,
        )
    from bot.services.direct_audience import unreachable_lines  # posts to people only

    unreachable = await unreachable_lines(session, post.id, shown, t)
    if not people:
        return "\n".join([head + ".", *unreachable])
    lines = [head + ":"]
    for person in people[:shown]:
        where = ", ".join(person.platforms)
        department = person.department or t.gettext("no department")
        lines.append(f"- {person.name} · {department} · {where}")
    if len(people) > shown:
        lines.append(
            t.gettext(
                "… and %(count)s more: the post's page on the dashboard lists everyone (CSV)", count=len(people) - shown
            )
        )
    return "\n".join([*lines, *unreachable])
