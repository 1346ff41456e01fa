"""Slack sends no images or files yet (issue 15): a copy with attachments that reaches a Slack channel is
failed with the reason, and nothing is posted there without its images. A post is refused for Slack when
it is stored (tests/bot/test_cli_attachments.py); this is the copy that gets there anyway — a scheduled
post whose files were added after it was checked. The console copy of the same post goes out."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FrozenClock
from bot.services.attachment_rules import inspected
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.attachments import AttachmentKind, attach
from content.models import CtaKind
from tests.e2e.test_slack_e2e import SlackE2E
from tests.e2e.test_slack_e2e import slack as slack

PDF = inspected("plan.pdf", b"%PDF-1.4\n% plan\n", AttachmentKind.FILE)


async def test_a_copy_with_files_is_failed_on_slack_not_sent_without_them(slack: SlackE2E, clock: FrozenClock) -> None:
    app = slack.app
    later = clock.now() + timedelta(hours=2)
    draft = PostDraft("Plattegrond", "De nieuwe indeling", cta=CallToAction(CtaKind.LIKE), publish_at=later)
    post = await app.publishing.create(draft, "cli", Role.ADMIN)
    async with app.store.transaction() as session:
        await attach(session, post.id, [PDF], clock.now())
    before = {name: len(slack.peer.messages(chat)) for name, chat in slack.channels.items()}

    clock.advance(hours=3)
    assert await app.publishing.publish_due() == [post.id]
    await app.settle()

    copies = await slack.deliveries(post.id)
    slack_copies = {name: d for name, d in copies.items() if name != "console"}
    assert {d.state for d in slack_copies.values()} == {"failed"}
    assert all("slack cannot carry images or files yet" in (d.last_error or "") for d in slack_copies.values())
    assert {name: len(slack.peer.messages(chat)) for name, chat in slack.channels.items()} == before
    assert copies["console"].state == "sent"
    assert any("📎 plan.pdf (16 B)" in text for text in slack.app.adapters["console"].messages.values())  # type: ignore[attr-defined]
