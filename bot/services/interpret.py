"""What an act means for a post: the rules that turn an intent (a press, a reaction, a typed command)
into a response kind and value, or into a refusal to show the person. Pure: no store, no clock.

The counting rules that follow (one like/ack per person, latest RSVP/vote wins, removal unlikes) are
applied by :func:`content.responses.apply_batch`; :func:`describe` words their outcome. Refusals and
outcomes are :class:`~bot.i18n.Message` s, worded in the person's language where they are answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.base import (
    Acknowledge,
    ChoiceKind,
    Choose,
    ChooseNamed,
    Intent,
    Like,
    OpenLink,
    React,
    Reply,
)
from bot.i18n import Message
from bot.services.compose import ACK_EMOJI, option_emoji
from content.models import CtaKind, Post, PostState, ResponseKind
from content.responses import Outcome


@dataclass(frozen=True, slots=True)
class Meaning:
    """The response an act stores: its kind and, for RSVPs, votes and clicks, its value."""

    kind: ResponseKind
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the act counts for nothing, in words for the person."""

    text: Message


def reaction_intent(post: Post, key: str) -> Like | Acknowledge | Choose:
    """What a reaction stands for on this post: ✅ acknowledges a must-read, an option's key chooses
    that option, any other reaction is a like (people react with ❤️ and 🎉 too)."""
    if key == ACK_EMOJI and post.cta_kind == CtaKind.ACKNOWLEDGE:
        return Acknowledge()
    if post.cta_kind in (CtaKind.RSVP, CtaKind.POLL):
        for number in range(1, len(post.cta_options or []) + 1):
            if key == option_emoji(post, number):
                return Choose(ChoiceKind.VOTE, number)
    return Like()


def interpret(post: Post, intent: Intent, now_open: bool) -> Meaning | Refusal:
    """What ``intent`` means for ``post``; ``now_open`` is False once the call to action's deadline passed."""
    if post.state == PostState.RETRACTED:
        return Refusal(Message("#%(id)s was retracted", id=post.id))
    if post.state not in (PostState.PUBLISHED, PostState.EXPIRED):
        return Refusal(Message("there is no published post #%(id)s", id=post.id))
    if isinstance(intent, React):
        intent = reaction_intent(post, intent.key)
    # Likes, replies and clicks stay welcome after the call to action closed.
    if isinstance(intent, Like):
        return Meaning(ResponseKind.LIKE)
    if isinstance(intent, Reply):
        return Meaning(ResponseKind.REPLY)
    if isinstance(intent, OpenLink):
        return Meaning(ResponseKind.CLICK, post.cta_url)
    if post.state == PostState.EXPIRED or not now_open:
        return Refusal(Message("#%(id)s is closed", id=post.id))
    if isinstance(intent, Acknowledge):
        if post.cta_kind != CtaKind.ACKNOWLEDGE:
            return Refusal(Message("#%(id)s asks for no acknowledgement", id=post.id))
        return Meaning(ResponseKind.ACK)
    if post.cta_kind not in (CtaKind.RSVP, CtaKind.POLL):
        return Refusal(Message("#%(id)s has no options to choose from", id=post.id))
    return _choice(post, intent)


def _choice(post: Post, intent: Choose | ChooseNamed) -> Meaning | Refusal:
    options = list(post.cta_options or [])
    kind = ResponseKind.RSVP if post.cta_kind == CtaKind.RSVP else ResponseKind.VOTE
    if isinstance(intent, Choose):
        asked = str(intent.number)
        if intent.number <= len(options):
            return Meaning(kind, options[intent.number - 1])
    else:
        asked = intent.text.strip()
        if asked.isascii() and asked.isdigit() and 1 <= int(asked) <= len(options):
            return Meaning(kind, options[int(asked) - 1])
        for option in options:
            if option.lower() == asked.lower():
                return Meaning(kind, option)
    listed = ", ".join(f"{i} {o}" for i, o in enumerate(options, start=1))
    return Refusal(
        Message("#%(id)s has no option %(asked)r; choose one of: %(options)s", id=post.id, asked=asked, options=listed)
    )


def describe(outcome: Outcome, meaning: Meaning, post_id: int) -> Message:
    """The answer to the person once the act is stored."""
    if outcome in (Outcome.ALREADY, Outcome.DUPLICATE_EVENT):
        return Message("already counted (#%(id)s)", id=post_id)
    if outcome == Outcome.REMOVED:
        return {
            ResponseKind.LIKE: Message("like removed (#%(id)s)", id=post_id),
            ResponseKind.ACK: Message("ack removed (#%(id)s)", id=post_id),
            ResponseKind.RSVP: Message("rsvp removed (#%(id)s)", id=post_id),
            ResponseKind.VOTE: Message("vote removed (#%(id)s)", id=post_id),
            ResponseKind.REPLY: Message("reply removed (#%(id)s)", id=post_id),
            ResponseKind.CLICK: Message("click removed (#%(id)s)", id=post_id),
        }[meaning.kind]
    if outcome == Outcome.NOTHING:
        return Message("nothing to remove (#%(id)s)", id=post_id)
    if outcome == Outcome.CHANGED:
        return Message("changed to %(value)s (#%(id)s)", value=meaning.value, id=post_id)
    value = meaning.value
    return {
        ResponseKind.LIKE: Message("👍 counted (#%(id)s)", id=post_id),
        ResponseKind.ACK: Message("✅ thanks, #%(id)s is marked as read", id=post_id),
        ResponseKind.RSVP: Message("RSVP %(value)s noted (#%(id)s)", value=value, id=post_id),
        ResponseKind.VOTE: Message("vote for %(value)s counted (#%(id)s)", value=value, id=post_id),
        ResponseKind.REPLY: Message("reply saved (#%(id)s)", id=post_id),
        ResponseKind.CLICK: Message("click counted (#%(id)s)", id=post_id),
    }[meaning.kind]
