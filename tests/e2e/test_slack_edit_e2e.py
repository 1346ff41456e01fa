"""Slack end to end, issue 15: ``/prikbord edit …`` updates every copy in place with chat.update (once per
message, the same ts, the counts kept); new options after a vote are refused and update nothing; an
employee's edit is refused. The real slack_sdk against the loopback Web API peer; SQLite and PostgreSQL."""

from __future__ import annotations

from tests.e2e.test_slack_e2e import SlackE2E, slack
from tests.peers.slack import Message

__all__ = ["slack"]  # the fixture, used by name


def _buttons(message: Message) -> list[dict[str, object]]:
    return [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


async def test_an_edit_updates_every_copy_in_place_and_keeps_the_votes(slack: SlackE2E) -> None:
    post = await slack.post("Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi")
    before = {name: await slack.message_of(post.id, name) for name in ("algemeen", "amsterdam", "sales")}
    edit = f"edit {post.id} | Lunch vrijdag | Wat eten we? Stem voor 12:00 | cta: poll Pizza; Pasta"
    await slack.command("mod", edit)
    await slack.answered("mod", 2)  # the post's answer, then the edit's
    assert slack.ephemerals("mod")[-1] == f"#{post.id} is edited; 4 messages are being updated"
    await slack.app.settle()
    for name, message in before.items():
        after = await slack.message_of(post.id, name)
        assert after.ts == message.ts  # the same message, updated
        assert "Stem voor 12:00" in slack.seen(name, after)
        assert [b["text"]["text"] for b in _buttons(after)] == ["Pizza (0)", "Pasta (0)"]  # type: ignore[index]
    updates = [c for c in slack.peer.calls_of("chat.update") if c.error is None]
    assert sorted(c.args["channel"] for c in updates) == sorted(slack.channels.values())  # once per message

    channel = slack.channels["algemeen"]
    await slack.accepted(slack.peer.press("carla", channel, before["algemeen"].ts, "vote:2"))

    async def voted() -> bool:
        return len(await slack.responses(post.id, "vote")) == 1

    await slack.eventually(voted, "carla's vote")
    await slack.app.settle()
    await slack.command("mod", f"edit {post.id} | Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi")
    await slack.answered("mod", 3)
    assert slack.ephemerals("mod")[-1] == f"#{post.id} already has answers (1): its options stay as they are"
    await slack.app.settle()
    algemeen = await slack.message_of(post.id, "algemeen")
    assert "Pizza (0)  Pasta (1)" in slack.seen("algemeen", algemeen)
    assert "Stem voor 12:00" in slack.seen("algemeen", algemeen)


async def test_an_employees_edit_is_refused(slack: SlackE2E) -> None:
    post = await slack.post("Borrel | Vrijdag 16:00 | cta: like")
    updates_before = len(slack.peer.calls_of("chat.update"))
    await slack.command("erik", f"edit {post.id} | Mijn borrel")
    await slack.answered("erik", 1)
    assert "needs the moderator role" in slack.ephemerals("erik")[-1]
    await slack.app.settle()
    assert len(slack.peer.calls_of("chat.update")) == updates_before
    assert "Borrel" in slack.seen("algemeen", await slack.message_of(post.id, "algemeen"))
