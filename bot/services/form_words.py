"""The words of the post form and of what creating a post answers, in the reader's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from adapters.slack.modal import FormWords
from bot.i18n import Translator
from bot.services.drafts import PostDraft
from content.models import PostState


def form_words(t: Translator) -> FormWords:
    return FormWords(
        title=t.gettext("New post"),
        next=t.gettext("Preview"),
        cancel=t.gettext("Cancel"),
        publish=t.gettext("Publish"),
        preview_title=t.gettext("Preview"),
        labels={
            "title": t.gettext("Title"),
            "body": t.gettext("Text"),
            "cta": t.gettext("Call to action"),
            "options": t.gettext("Options (poll, RSVP)"),
            "deadline": t.gettext("Deadline (acknowledge, RSVP, poll)"),
            "url": t.gettext("Link (call to action: link)"),
            "audience": t.gettext("To (channel tags)"),
            "schedule": t.gettext("Publish at"),
            "urgent": t.gettext("Urgency"),
        },
        hints={
            "options": t.gettext("One option per line; an RSVP without options is yes / no / maybe"),
            "deadline": t.gettext("2026-12-05, 2026-12-05 17:00, tomorrow 08:30 or in 2h"),
            "audience": t.gettext("Tags separated by commas, e.g. everyone, nl"),
            "schedule": t.gettext("Empty: now. Or 2026-12-05 17:00, tomorrow 08:30, in 2h"),
        },
        cta_labels={
            "none": t.gettext("None"),
            "like": t.gettext("Like"),
            "acknowledge": t.gettext("Acknowledge (must-read)"),
            "rsvp": t.gettext("RSVP"),
            "poll": t.gettext("Poll"),
            "reply": t.gettext("Reply"),
            "link": t.gettext("Link"),
        },
        urgent_option=t.gettext("Urgent: notify even in quiet hours"),
        buttons=t.gettext("Buttons: %(labels)s"),
    )


def summary_lines(t: Translator, draft: PostDraft, zone: ZoneInfo) -> list[str]:
    """What the preview shows under the post: who it goes to, when, and whether it is urgent."""
    lines = [t.gettext("To: %(audience)s", audience=", ".join(draft.audience))]
    if draft.publish_at is not None:
        lines.append(t.gettext("Published at %(when)s", when=t.moment(draft.publish_at, zone)))
    if draft.urgent:
        lines.append(t.gettext("Urgent"))
    return lines


def created_text(t: Translator, post_id: int, state: str, at: datetime | None = None) -> str:
    """What a new post's author is told: published, scheduled (until when) or waiting for approval."""
    if state == PostState.PENDING:
        return t.gettext("#%(id)s is waiting for a moderator's approval", id=post_id)
    if state == PostState.SCHEDULED:
        if at:
            return t.gettext("#%(id)s is scheduled for %(when)s UTC", id=post_id, when=at.strftime("%Y-%m-%d %H:%M"))
        return t.gettext("#%(id)s is scheduled", id=post_id)
    return t.gettext("#%(id)s is published", id=post_id)
