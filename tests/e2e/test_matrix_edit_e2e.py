"""Matrix end to end, issue 15, against a real Synapse: a moderator's ``!edit`` replaces every copy with one
``m.replace`` per room (the same event, its reactions and counts kept), and an employee's ``!edit`` is
refused and replaces nothing. SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from typing import Any

from content.db import Store
from tests.e2e.matrix_bridge import room_channel, room_events, wait_for
from tests.e2e.test_matrix_e2e import (
    MODERATOR,
    POLL,
    World,
    _visible_if,
    bot_notices,
    count_of,
    publish,
    sent_events,
    world,
)

__all__ = ["world"]  # the fixture, used by name


async def replaces_of(world: World, room: str, event_id: str) -> list[dict[str, Any]]:
    owner = world.owner
    return [
        e
        for e in await room_events(owner, room)
        if e.get("sender") == world.bot.user_id
        and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
        and e["content"]["m.relates_to"].get("event_id") == event_id
    ]


async def test_a_moderators_edit_replaces_every_copy_once_and_keeps_the_reactions(store: Store, world: World) -> None:
    kantoor, lager = await world.room(), await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", kantoor), room_channel("lager", lager)]))
    post_id = await publish(app, "Lunch vrijdag", "Wat eten we?", POLL)
    await app.settle()
    sent = await sent_events(app, post_id)
    anna = await world.person("anna")
    await anna.react(kantoor, sent[kantoor], "👍")
    await wait_for(lambda: count_of(app, post_id, "like", 1), "anna's 👍 counted")
    await app.settle()
    before = {room: len(await replaces_of(world, room, sent[room])) for room in (kantoor, lager)}

    mod = await world.person(MODERATOR)
    await mod.say(kantoor, f"!edit {post_id} | Lunch vrijdag (verzet) | Wat eten we zaterdag?")
    answer = await wait_for(lambda: bot_notices(mod, kantoor, world.bot.user_id), "the bot answers the moderator")
    assert answer[-1] == f"#{post_id} is edited; 2 messages are being updated"
    await app.settle()
    for room in (kantoor, lager):
        shown = await wait_for(lambda r=room: _visible_if(anna, r, sent[r], "zaterdag"), "the edit is visible")
        assert "Lunch vrijdag (verzet)" in shown and "👍 1" in shown and "React with: 1️⃣ Pizza (0)" in shown
        assert len(await replaces_of(world, room, sent[room])) == before[room] + 1  # one m.replace per copy
    assert (await sent_events(app, post_id)) == sent  # the same events, edited
    assert await count_of(app, post_id, "like", 1)


async def test_an_employees_edit_is_refused_and_replaces_nothing(store: Store, world: World) -> None:
    room = await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", room)]))
    post_id = await publish(app, "Borrel", "Vrijdag 16:00")
    await app.settle()
    event_id = (await sent_events(app, post_id))[room]
    anna = await world.person("anna")
    await anna.say(room, f"!edit {post_id} | Mijn borrel")
    [refusal] = await wait_for(lambda: bot_notices(anna, room, world.bot.user_id), "the bot answers the refusal")
    assert "needs the moderator role" in refusal
    await app.settle()
    assert await replaces_of(world, room, event_id) == []
    assert "Borrel" in str((await anna.visible_content(room, event_id) or {}).get("body"))
