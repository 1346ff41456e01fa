"""The Slack App Home: a person's open must-reads, each with its acknowledge button, and the latest posts
they can see, each with its buttons; every item is tied to one Slack message of the post so a press there
counts like a press in the channel."""

from __future__ import annotations

from adapters.base import ChatRef, MessageRef, OutboundMessage, UserRef
from adapters.slack.translate import HomeContent, HomeWords
from bot.clock import Clock
from bot.services.compose import Composer
from bot.services.languages import PersonLanguages
from content import posts
from content.db import Store
from content.latest import latest_seen_posts
from content.people import ensure_identity
from content.posts import SentMessage
from content.responses import counts_for


async def must_reads_home(
    store: Store, clock: Clock, composer: Composer, user: UserRef, languages: PersonLanguages
) -> HomeContent:
    """The person's own view, so its words and buttons are in their language (not the channel's)."""
    t = await languages.for_user(user)
    now = clock.now()
    shown: list[tuple[MessageRef, OutboundMessage]] = []
    async with store.transaction() as session:
        person = await ensure_identity(session, user.platform, user.user_id, user.display_name, now)
        open_reads = await posts.open_must_reads(session, person.employee_id, now)
        latest = await latest_seen_posts(session, person.identity_id, user.platform)
        counts = await counts_for(session, [p.id for p in open_reads] + [p.id for p, _ in latest])
        by_post: dict[int, SentMessage] = {}
        by_delivery: dict[int, SentMessage] = {}
        ids = [p.id for p in open_reads] + [p.id for p, _ in latest]
        for sent in await posts.sent_messages(session, ids, platform=user.platform):
            by_post.setdefault(sent.post_id, sent)  # the first copy of each post on this platform
            by_delivery[sent.delivery_id] = sent
    for post in open_reads:
        if (first := by_post.get(post.id)) is not None:
            shown.append((_ref(first), composer.compose(post, counts[post.id], first.delivery_id, t)))
    newest = [
        (_ref(by_delivery[delivery]), composer.compose(post, counts[post.id], delivery, t))
        for post, delivery in latest
        if delivery in by_delivery  # the copy the person can see, so the press counts for that chat
    ]
    words = HomeWords(
        title=t.gettext("Open must-reads"),
        empty=t.gettext("Nothing open for you. 🎉"),
        more=t.gettext("…and %(count)s more: see the channels"),  # filled by the adapter
        latest=t.gettext("Latest posts"),
        latest_empty=t.gettext("No posts yet."),
    )
    return HomeContent(shown, words, latest=newest)


def _ref(sent: SentMessage) -> MessageRef:
    return MessageRef(ChatRef(sent.platform, sent.chat_id), sent.message_id)
