"""The whole loop on the console: a post goes out with its call to action, people act, the acts
come back and are counted once per person. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.services.stats import post_stats
from content import posts
from content.models import DeliveryState, PostState
from tests.conftest import ConsoleApp


async def _stats(ctx: ConsoleApp, post_id: int) -> dict[str, object]:
    async with ctx.app.store.sessions() as session:
        post = await posts.get_post(session, post_id)
        assert post is not None
        return (await post_stats(session, [post]))[0]


async def test_must_read_and_poll_counted_once_per_person(console_app: ConsoleApp) -> None:
    await console_app.say(
        "mod: /post Nieuwe verlofregeling | Vanaf januari. | cta: acknowledge by 2026-12-05",
        "mod: /post Lunch vrijdag | Wat eten we? | cta: poll Pizza; Sushi; Salade",
        "anna: /like 1",
        "bram: /like #1",
        "bram: /like 1",
        "anna: /ack 1",
        "carla: /vote 2 Pizza",
        "carla: /vote 2 2",
        "dirk: /reply 2 Ik neem taart mee",
        "erik: /post Mijn post | hallo",
    )
    first, second = await _stats(console_app, 1), await _stats(console_app, 2)
    assert first["counts"] == {"ack": 1, "like": 2}
    assert first["deliveries"] == {"sent": 1}
    assert second["counts"] == {"reply": 1, "vote": 1}
    assert second["votes"] == {"Pizza": 0, "Sushi": 1, "Salade": 0}
    assert console_app.replies_to("bram")[-1] == "already counted (#1)"
    assert "needs the moderator role" in console_app.replies_to("erik")[-1]
    async with console_app.app.store.sessions() as session:
        assert len(await posts.recent_posts(session)) == 2  # erik's post was not stored


async def test_buttons_and_reactions_on_the_posted_message(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post Borrel | Vrijdag 16:00 | cta: rsvp")
    assert "m1" in console_app.console.messages
    await console_app.say(
        "anna: @m1 press rsvp:1",
        "bram: @m1 press rsvp:2",
        "bram: @m1 press rsvp:1",
        "carla: @m1 react 🎉",
        "carla: @m1 unreact 🎉",
        "dirk: @m1 react 👍",
        "erik: @m1 Ik kom wat later",
    )
    stats = await _stats(console_app, 1)
    assert stats["votes"] == {"yes": 2, "no": 0, "maybe": 0}
    assert stats["counts"] == {"like": 1, "reply": 1, "rsvp": 2}
    # The counters on the message were refreshed by an edit.
    assert "✅ Yes (2)" in console_app.console.messages["m1"]


async def test_reaction_keys_map_to_the_call_to_action(console_app: ConsoleApp) -> None:
    await console_app.say(
        "mod: /post Lees dit | Belangrijk | cta: acknowledge",
        "mod: /post Kies | A of B? | cta: poll A; B",
        "anna: @m1 react ✅",
        "anna: @m2 react 2️⃣",
        "bram: @m2 react 1️⃣",
    )
    assert (await _stats(console_app, 1))["counts"] == {"ack": 1}
    assert (await _stats(console_app, 2))["votes"] == {"A": 1, "B": 1}


async def test_replayed_event_counts_once(console_app: ConsoleApp) -> None:
    from adapters.base import ActionPressed, MessageRef, UserRef

    await console_app.say("mod: /post Like mij | x | cta: like")
    ref = MessageRef(console_app.console.chat, "m1")
    press = ActionPressed("evt-1", UserRef("console", "anna", "anna"), ref, "like")
    await console_app.app.inbound(press)
    await console_app.app.inbound(press)  # a platform retry of the same event
    await console_app.app.inbound(ActionPressed("evt-2", UserRef("console", "anna", "anna"), ref, "like"))
    assert (await _stats(console_app, 1))["counts"] == {"like": 1}


async def test_moderation_queue_with_open_posting(store, clock) -> None:  # type: ignore[no-untyped-def]
    import io

    from rich.console import Console

    from bot.app import App
    from tests.conftest import console_settings

    app = App(
        console_settings(moderation={"moderators": ["console:mod"], "open_posting": True}),
        clock=clock,
        store=store,
        console_output=Console(file=io.StringIO()),
        counter_debounce=0.0,
    )
    await app.start()
    ctx = ConsoleApp(app, io.StringIO())
    try:
        await ctx.say("erik: /post Taart | Er staat taart in de keuken | cta: like")
        assert "waiting for a moderator" in ctx.replies_to("erik")[-1]
        assert ctx.console.messages == {}
        await ctx.say("mod: /pending")
        assert "#1 Taart (pending" in ctx.replies_to("mod")[-1]
        await ctx.say("mod: /approve 1")
        assert len(ctx.console.messages) == 1
        await ctx.say("erik: /post Nog een | x | cta: like", "mod: /reject 2 dubbel")
        await ctx.say("mod: /retract 1")
        assert ctx.console.messages == {}
        async with store.sessions() as session:
            first = await posts.get_post(session, 1)
            second = await posts.get_post(session, 2)
            assert first is not None and first.state == PostState.RETRACTED
            assert second is not None and second.state == PostState.REJECTED
            assert {d.state for d in await posts.deliveries_of(session, 1)} == {DeliveryState.RETRACTED}
            actions = [(e.actor, e.action, e.post_id) for e in reversed(await posts.audit_entries(session))]
        assert ("console:mod", "approve", 1) in actions
        assert ("console:mod", "reject", 2) in actions
        assert ("console:mod", "retract", 1) in actions
    finally:
        await app.stop()
