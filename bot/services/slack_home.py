"""The Slack App Home: a person's open must-reads, each with its acknowledge button, tied to one Slack
message of the post so a press there counts like a press in the channel."""

from __future__ import annotations

from adapters.base import ChatRef, MessageRef, OutboundMessage, UserRef
from adapters.slack.translate import HomeContent, HomeWords
from bot.clock import Clock
from bot.services.compose import Composer
from bot.services.languages import PersonLanguages
from content import posts
from content.db import Store
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
        counts = await counts_for(session, [p.id for p in open_reads])
        by_post: dict[int, SentMessage] = {}
        for sent in await posts.sent_messages(session, [p.id for p in open_reads], platform=user.platform):
            by_post.setdefault(sent.post_id, sent)  # the first copy of each post on this platform
    for post in open_reads:
        if (first := by_post.get(post.id)) is not None:
            ref = MessageRef(ChatRef(first.platform, first.chat_id), first.message_id)
            shown.append((ref, composer.compose(post, counts[post.id], first.delivery_id, t)))
    words = HomeWords(
        title=t.gettext("Open must-reads"),
        empty=t.gettext("Nothing open for you. 🎉"),
        more=t.gettext("…and %(count)s more: see the channels"),  # filled by the adapter
    )
    return HomeContent(shown, words)
