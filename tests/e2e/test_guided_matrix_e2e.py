"""Posting step by step on Matrix, end to end against a real Synapse: ``!post`` in a room starts a dialog
of messages there; the moderator's next plain messages in that room are the answers, other people's are
untouched; a restart of prikbord mid-dialog continues it. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from content.db import Store
from content.guided import GuidedDraft
from content.models import Post
from tests.adapters.harnesses.matrix import Person
from tests.e2e.matrix_bridge import MODERATOR, room_channel, room_events, wait_for
from tests.e2e.test_matrix_e2e import World, stored_posts, world

__all__ = ["world"]  # the fixture, used by name


async def bot_texts(person: Person, room: str, bot_user_id: str) -> list[str]:
    """What the bot said in the room (its questions, notes and posts), oldest first."""
    return [
        str(e["content"].get("body", ""))
        for e in await room_events(person, room)
        if e.get("sender") == bot_user_id and e.get("type") == "m.room.message"
    ]


async def answer(person: Person, room: str, bot_user_id: str, text: str, expect: str) -> list[str]:
    """``person`` says ``text`` and waits until a message of the bot's after it holds ``expect``."""
    before = len(await bot_texts(person, room, bot_user_id))
    await person.say(room, text)

    async def asked() -> list[str] | None:
        said = await bot_texts(person, room, bot_user_id)
        return said if any(expect in text for text in said[before:]) else None

    return await wait_for(asked, lambda: f"the bot says {expect!r} after {text!r}")


async def dialogs(store: Store) -> list[GuidedDraft]:
    async with store.sessions() as session:
        return list((await session.execute(select(GuidedDraft))).scalars())


async def test_a_link_post_composed_in_the_room_is_published(store: Store, world: World) -> None:
    room = await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", room)]))
    mod, anna = await world.person(MODERATOR), await world.person("anna")
    await anna.join(room)
    bot = world.bot.user_id
    await answer(mod, room, bot, "!post", "What is the title?")
    await answer(mod, room, bot, "Intranet verhuist", "The text of the post?")
    await anna.say(room, "koffie iemand?")  # someone else's chat: no answer to the dialog
    await answer(mod, room, bot, "Lees waar alles nu staat.", "What should readers do?")
    said = await answer(mod, room, bot, "link", "The link readers should open")
    assert "koffie iemand?" not in said[-1]
    await answer(mod, room, bot, "ftp://intranet", "needs an http(s) URL")  # a bad answer, asked again
    await answer(mod, room, bot, "https://intranet.example/nieuw", "Who should get it?")
    await answer(mod, room, bot, "everyone", "When should it go out?")
    await answer(mod, room, bot, "now", "Is it urgent?")
    preview = await answer(mod, room, bot, "no", "Preview:")
    assert "link https://intranet.example/nieuw" in preview[-1]
    assert await stored_posts(app) == []
    await mod.say(room, "publish")  # sent twice: one post
    await answer(mod, room, bot, "publish", "is published")

    async def published() -> list[Post] | None:
        return await stored_posts(app) or None

    [post] = await wait_for(published, "the post is stored")
    assert (post.title, post.cta_kind, post.cta_url) == ("Intranet verhuist", "link", "https://intranet.example/nieuw")
    assert (post.author, post.state) == (f"matrix:@{MODERATOR}:localhost", "published")
    assert await dialogs(store) == []
    await app.settle()
    said = await bot_texts(mod, room, bot)
    assert any(text.startswith("Intranet verhuist") for text in said)
    assert sum("is published" in text for text in said) == 1 and len(await stored_posts(app)) == 1


async def test_a_restart_mid_dialog_continues_it_and_cancel_ends_it(store: Store, world: World) -> None:
    room = await world.room()
    channels = [room_channel("kantoor", room)]
    first = await world.start(world.app(store, channels))
    mod = await world.person(MODERATOR)
    bot = world.bot.user_id
    await answer(mod, room, bot, "!post", "What is the title?")
    await answer(mod, room, bot, "Na de herstart", "The text of the post?")
    await world.stop(first)
    second = await world.start(world.app(store, channels))
    await answer(mod, room, bot, "skip", "What should readers do?")
    [row] = await dialogs(store)
    assert (row.step, row.answers["title"], row.answers["body"]) == ("cta", "Na de herstart", "")
    await answer(mod, room, bot, "cancel", "cancelled; nothing was posted")
    assert await dialogs(store) == [] and await stored_posts(second) == []
