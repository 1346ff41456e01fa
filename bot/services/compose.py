"""Post → OutboundMessage: the title, the body parsed once, a context line, and the buttons of the
call to action with their live counts. Every adapter renders the same message its own way.

A post in a group is read by many people at once, so its labels and context line are in the channel's
language (``[[channels]] language``, else ``[i18n] default``); a private copy (the Slack App Home) in its
reader's. The caller passes the translator."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from adapters.base import Acknowledge, Action, ActionStyle, ChoiceKind, Choose, Like, OpenLink, OutboundMessage
from adapters.markup import Bold, Document, MarkupParser, Paragraph, Text
from bot.i18n import N_, SOURCE, Translator
from content.models import CtaKind, Post, ResponseKind
from content.responses import Counts

RSVP_LABELS = {"yes": ("✅", N_("Yes")), "no": ("❌", N_("No")), "maybe": ("🤔", N_("Maybe"))}
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
LIKE_EMOJI = "👍"
ACK_EMOJI = "✅"

ChatLanguage = Callable[[str, str], Translator]
"""(platform, chat id) → the translator of that channel's language (bot/services/languages.py, ChannelLanguages)."""
ClickUrl = Callable[[Post], str | None]
"""The tracked address of a link post's button, or None where clicks cannot come back to us."""


def click_url_for(public_url: str | None) -> ClickUrl:
    """Clicks come back only through the web app's public URL; pass None when the web is off."""
    base = (public_url or "").rstrip("/")

    def click_url(post: Post) -> str | None:
        if not (base and post.click_token):
            return None
        return f"{base}/r/{post.click_token}"

    return click_url


def option_emoji(post: Post, index: int) -> str:
    """The reaction key of option ``index`` (1-based): ✅/❌/🤔 for a default RSVP, else keycaps."""
    options = list(post.cta_options or [])
    if post.cta_kind == CtaKind.RSVP and options == ["yes", "no", "maybe"]:
        return RSVP_LABELS[options[index - 1]][0]
    return KEYCAPS[index - 1]


def actions_for(post: Post, counts: Counts, click_url: str | None, t: Translator = SOURCE) -> tuple[Action, ...]:
    kind = post.cta_kind
    if kind == CtaKind.LIKE:
        likes = counts.by_kind.get(ResponseKind.LIKE, 0)
        return (Action(Like().encode(), t.gettext("👍 Like"), count=likes, emoji=LIKE_EMOJI),)
    if kind == CtaKind.ACKNOWLEDGE:
        return (
            Action(
                Acknowledge().encode(),
                t.gettext("✅ Read"),
                ActionStyle.PRIMARY,
                count=counts.by_kind.get(ResponseKind.ACK, 0),
                emoji=ACK_EMOJI,
            ),
        )
    if kind in (CtaKind.RSVP, CtaKind.POLL):
        choice = ChoiceKind.RSVP if kind == CtaKind.RSVP else ChoiceKind.VOTE
        default_rsvp = kind == CtaKind.RSVP and list(post.cta_options) == ["yes", "no", "maybe"]
        actions = []
        for index, option in enumerate(post.cta_options or [], start=1):
            emoji = option_emoji(post, index)
            label = f"{emoji} {t.gettext(RSVP_LABELS[option][1])}" if default_rsvp else option
            actions.append(
                Action(Choose(choice, index).encode(), label, count=counts.by_value.get(option, 0), emoji=emoji)
            )
        return tuple(actions)
    if kind == CtaKind.LINK:
        return (Action(OpenLink().encode(), t.gettext("🔗 Open"), url=click_url or post.cta_url),)
    return ()


class Composer:
    def __init__(
        self, parser: MarkupParser, zone: ZoneInfo, click_url: ClickUrl, chat_language: ChatLanguage | None = None
    ) -> None:
        self._parser = parser
        self._chat_language = chat_language
        self._zone = zone
        self._click_url = click_url
        # Parsed bodies keyed by the body text itself: a post is parsed once, not once per channel,
        # and an edited (or re-used id) body can never be served from a stale entry.
        self._parsed: dict[str, Document] = {}

    @property
    def click_url(self) -> ClickUrl:
        return self._click_url

    def body(self, post: Post) -> Document:
        source = post.body or ""
        doc = self._parsed.get(source)
        if doc is None:
            if len(self._parsed) > 2048:
                self._parsed.clear()
            doc = self._parser.parse(source)
            self._parsed[source] = doc
        return doc

    def context_line(self, post: Post, counts: Counts, t: Translator = SOURCE) -> str:
        bits = [f"#{post.id}"]
        if post.urgent:
            bits.append(t.gettext("⚠ urgent"))
        deadline = t.moment(post.cta_deadline, self._zone) if post.cta_deadline else None
        kind = post.cta_kind
        if kind == CtaKind.ACKNOWLEDGE:
            bits.append(
                t.gettext("must read by %(deadline)s", deadline=deadline) if deadline else t.gettext("must read")
            )
        elif kind == CtaKind.RSVP:
            bits.append(t.gettext("RSVP by %(deadline)s", deadline=deadline) if deadline else t.gettext("RSVP"))
        elif kind == CtaKind.POLL:
            bits.append(t.gettext("poll, closes %(deadline)s", deadline=deadline) if deadline else t.gettext("poll"))
        elif kind == CtaKind.REPLY:
            bits.append(t.gettext("reply to this message to answer"))
        likes = counts.by_kind.get(ResponseKind.LIKE, 0)
        if likes and kind != CtaKind.LIKE:
            bits.append(f"{LIKE_EMOJI} {likes}")
        replies = counts.by_kind.get(ResponseKind.REPLY, 0)
        if replies:
            bits.append(f"💬 {replies}")
        return " · ".join(bits)

    def compose(
        self, post: Post, counts: Counts, delivery_id: int | None = None, t: Translator = SOURCE
    ) -> OutboundMessage:
        """``post`` worded in ``t``'s language: the channel's (:class:`ChannelLanguages`) or its private reader's."""
        title = Paragraph((Bold((Text(post.title),)),))
        context = Paragraph((Text(self.context_line(post, counts, t)),))
        markup = Document((title,)) + self.body(post) + Document((context,))
        return OutboundMessage(
            markup=markup,
            actions=actions_for(post, counts, self._click_url(post), t),
            reaction_prompt=t.gettext("React with:"),
            idempotency_key=f"prikbord-d{delivery_id}" if delivery_id is not None else f"prikbord-p{post.id}",
            post_id=post.id,
            delivery_id=delivery_id,
            paid_broadcast=post.paid_broadcast,
        )

    def compose_for_chat(
        self, platform: str, chat_id: str, post: Post, counts: Counts, delivery_id: int | None = None
    ) -> OutboundMessage:
        """``post`` as it goes to (or is edited in) one channel: in that channel's language."""
        t = SOURCE if self._chat_language is None else self._chat_language(platform, chat_id)
        return self.compose(post, counts, delivery_id, t)

    def compose_retracted_for_chat(self, platform: str, chat_id: str, post: Post) -> OutboundMessage:
        """The short "withdrawn" placeholder, without buttons, in the channel's language."""
        t = SOURCE if self._chat_language is None else self._chat_language(platform, chat_id)
        return self.compose_retracted(post, t)

    def compose_retracted(self, post: Post, t: Translator = SOURCE) -> OutboundMessage:
        retracted = t.gettext("#%(id)s was retracted", id=post.id)
        return OutboundMessage(markup=Document((Paragraph((Text(retracted),)),)))
