"""Editing what was published (issue 15): the rules of an edit, the copies edited in place through the
outbox, responses kept, a crash halfway finished by the next run without editing a copy twice, 429s and
outages retried, and the "withdrawn" placeholder where a platform refuses a delete. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from rich.console import Console

from adapters.base import (
    ActionPressed,
    ChatRef,
    MessageRef,
    OutboundMessage,
    PermanentError,
    RateLimited,
    TransientError,
    UserRef,
)
from adapters.markup import render_plain
from bot.app import App
from bot.clock import FrozenClock
from bot.services.editing import EditRefused, PostEdit
from bot.services.publishing import NotAllowed
from bot.services.roles import Role
from content import posts
from content.db import Store
from content.models import Delivery, Post
from tests.bot.test_counters import RecordingAdapter
from tests.conftest import ConsoleApp, console_settings

MOD = UserRef("console", "mod", "Mod")
CHATS = ("kantoor", "lager", "werkplaats")


def text_of(message: OutboundMessage) -> str:
    return render_plain(message.markup)


async def post_of(app: App, post_id: int) -> Post:
    async with app.store.sessions() as session:
        post = await posts.get_post(session, post_id)
        assert post is not None
        return post


# -- on the console, as people type ---------------------------------------------------------------


async def test_a_moderator_edits_a_published_post_in_place_and_its_counts_stay(console_app: ConsoleApp) -> None:
    await console_app.say(
        "mod: /post Borrel vrijdag | Om 16:00 in de kantine | cta: acknowledge",
        "anna: /ack 1",
        "bram: /like 1",
        "mod: /edit 1 | Borrel vrijdag (verzet) | Om 17:00 in de kantine",
    )
    assert console_app.replies_to("mod")[-1] == "#1 is edited; 1 message is being updated"
    shown = console_app.console.messages["m1"]
    assert "verzet" in shown and "17:00" in shown and "16:00" not in shown
    assert "✎ m1 updated" in console_app.output.getvalue()
    post = await post_of(console_app.app, 1)
    assert (post.title, post.body, post.revision) == ("Borrel vrijdag (verzet)", "Om 17:00 in de kantine", 1)
    async with console_app.app.store.sessions() as session:
        stats = await posts.audit_entries(session, post_id=1)
        delivery = await session.get(Delivery, 1)
    edit = next(e for e in stats if e.action == "edit")
    assert edit.actor == "console:mod"
    assert edit.detail["old"]["title"] == "Borrel vrijdag" and edit.detail["old"]["body"] == "Om 16:00 in de kantine"
    assert edit.detail["new"]["title"] == "Borrel vrijdag (verzet)"
    assert delivery is not None and delivery.shown_revision == 1
    await console_app.say("carla: /ack 1", "mod: /stats 1")
    assert "2" in console_app.replies_to("mod")[-1]  # anna's acknowledgement survived the edit; carla's counts


async def test_edit_only_the_body_keeps_the_title(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post Dagstart | Koffie staat klaar | cta: like", "mod: /edit 1 | body: Thee ook")
    post = await post_of(console_app.app, 1)
    assert (post.title, post.body) == ("Dagstart", "Thee ook")
    await console_app.say("mod: /edit 1", "mod: /help", "anna: /help")
    assert console_app.replies_to("mod")[-2].startswith("say what #1 should say now")
    assert "edit #ID | TITLE | BODY [| cta: poll A; B]" in console_app.replies_to("mod")[-1]
    assert "edit #ID" not in console_app.replies_to("anna")[-1]  # employees see their own commands


async def test_the_refusals(console_app: ConsoleApp) -> None:
    await console_app.say(
        "mod: /post Lees dit | Belangrijk | cta: acknowledge",
        "mod: /edit 1 | Lees dit | Belangrijk | cta: poll Ja; Nee",
        "anna: /edit 1 | Mijn versie",
        "mod: /post Lunch | Wat eten we? | cta: poll Pizza; Sushi",
        "mod: /edit 2 | Lunch | Wat eten we vrijdag? | cta: poll Pizza; Sushi; Salade",  # nobody voted: fine
        "carla: /vote 2 Sushi",
        "mod: /edit 2 | Lunch | Wat eten we? | cta: poll Pizza; Pasta",
        "mod: /edit 2 | Lunch | Wat eten we nu? | cta: poll Pizza; Sushi; Salade",  # the same options: fine
        "mod: /retract 1",
        "mod: /edit 1 | Te laat",
    )
    mod = console_app.replies_to("mod")
    assert "cannot change that to poll" in mod[1]
    assert "needs the moderator role" in console_app.replies_to("anna")[-1]
    assert mod[3] == "#2 is edited; 1 message is being updated"
    assert mod[4] == "#2 already has answers (1): its options stay as they are"
    assert mod[5] == "#2 is edited; 1 message is being updated"
    assert mod[-1] == "#1 is retracted: it can no longer be edited"
    first, second = await post_of(console_app.app, 1), await post_of(console_app.app, 2)
    assert (first.cta_kind, first.revision, first.title) == ("acknowledge", 0, "Lees dit")
    assert (second.cta_options, second.body, second.revision) == (["Pizza", "Sushi", "Salade"], "Wat eten we nu?", 2)


# -- through the outbox: crash, restart, 429s -------------------------------------------------------


@dataclass
class Held(RecordingAdapter):
    """Edits of the messages in ``stuck`` wait until the test says (or the process dies)."""

    stuck: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        if ref.message_id in self.stuck:
            self.edits.append(ref)
            await self.release.wait()
            self.shown[ref] = message
            return
        await super().edit(ref, message)


def three_chats() -> list[dict[str, object]]:
    return [{"name": c, "platform": "console", "chat_id": c, "tags": ["everyone"]} for c in CHATS]


@pytest.fixture
async def new_app(store: Store, clock: FrozenClock) -> AsyncIterator[list[App]]:
    made: list[App] = []
    yield made
    for app in made:
        await app.stop()


def app_on(store: Store, clock: FrozenClock, adapter: RecordingAdapter, made: list[App]) -> App:
    app = App(
        console_settings(channels=three_chats()),
        clock=clock,
        store=store,
        adapters={"console": adapter},
        console_output=Console(file=io.StringIO()),
        counter_debounce=3600.0,
    )
    made.append(app)
    return app


async def publish(app: App) -> tuple[Post, list[MessageRef]]:
    draft_cmd = "Storing | De printer is stuk | cta: acknowledge"
    from adapters.base import CommandIssued

    await app.inbound(CommandIssued("c1", MOD, ChatRef("console", "kantoor"), "post", draft_cmd))
    await app.settle()
    async with app.store.sessions() as session:
        post = (await posts.recent_posts(session, 1))[0]
        sent = await posts.sent_messages(session, [post.id])
    return post, [MessageRef(ChatRef(s.platform, s.chat_id), s.message_id) for s in sent]


async def until(condition: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


async def test_a_crash_halfway_is_finished_by_the_next_run_and_no_copy_is_edited_twice(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    first = Held()
    app = app_on(store, clock, first, new_app)
    await app.start()
    post, refs = await publish(app)
    assert len(refs) == 3
    first.stuck = {refs[1].message_id}
    await app.editing.edit(post.id, PostEdit(body="De printer doet het weer"), "console:mod", Role.MODERATOR)
    await until(lambda: len(first.edits) == 2, "the first copy is edited and the second under way")
    # The process dies while the second copy's edit is on its way: nothing after it is recorded.
    await app.edit_sync.stop()
    assert "weer" in text_of(first.shown[refs[0]]) and "weer" not in text_of(first.shown[refs[2]])

    second = RecordingAdapter()
    second.shown = dict(first.shown)
    restarted = app_on(store, clock, second, new_app)
    await restarted.start()
    await restarted.settle()
    assert second.edits == []  # the dead process's claims hold until their lease runs out
    clock.advance(seconds=61)
    await restarted.settle()
    assert second.edits == [refs[1], refs[2]]  # the first copy was recorded: not edited again
    assert all("weer" in text_of(second.shown[r]) for r in refs)
    async with store.sessions() as session:
        shown = [(await session.get(Delivery, i)) for i in (1, 2, 3)]
    assert [d.shown_revision for d in shown if d is not None] == [1, 1, 1]


async def test_a_429_and_an_outage_postpone_the_copy_and_it_is_edited_later(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    adapter = RecordingAdapter()
    app = app_on(store, clock, adapter, new_app)
    await app.start()
    post, refs = await publish(app)
    adapter.failures = {refs[0].message_id: [RateLimited(5)], refs[1].message_id: [TransientError("502")]}
    result = await app.editing.edit(post.id, PostEdit(title="Storing voorbij"), "console:mod", Role.MODERATOR)
    assert result.copies == 3
    await app.settle()
    assert [adapter.edits.count(r) for r in refs] == [1, 1, 1]
    assert "voorbij" not in text_of(adapter.shown[refs[0]]) and "voorbij" in text_of(adapter.shown[refs[2]])
    clock.advance(seconds=6)
    await app.settle()
    assert [adapter.edits.count(r) for r in refs] == [2, 2, 1]
    assert all("voorbij" in text_of(adapter.shown[r]) for r in refs)


async def test_responses_given_before_an_edit_still_count_on_the_edited_copy(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    adapter = RecordingAdapter()
    app = app_on(store, clock, adapter, new_app)
    await app.start()
    post, refs = await publish(app)
    await app.inbound(ActionPressed("p1", UserRef("console", "anna", "Anna"), refs[0], "ack"))
    await app.settle()
    await app.editing.edit(post.id, PostEdit(title="Storing (update)"), "console:mod", Role.MODERATOR)
    await app.settle()
    ack = next(a for a in adapter.shown[refs[0]].actions if a.action_id == "ack")
    assert ack.count == 1 and "update" in text_of(adapter.shown[refs[0]])


async def test_without_the_role_or_with_a_new_kind_nothing_changes(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    adapter = RecordingAdapter()
    app = app_on(store, clock, adapter, new_app)
    await app.start()
    post, _ = await publish(app)
    with pytest.raises(NotAllowed):
        await app.editing.edit(post.id, PostEdit(title="x"), "console:anna", Role.EMPLOYEE)
    from bot.services.drafts import CallToAction
    from content.models import CtaKind

    with pytest.raises(EditRefused) as refused:
        await app.editing.edit(post.id, PostEdit(cta=CallToAction(CtaKind.LIKE)), "console:mod", Role.MODERATOR)
    assert refused.value.field == "call_to_action.kind"
    await app.settle()
    assert adapter.edits == [] and (await post_of(app, post.id)).revision == 0


async def test_where_a_delete_is_refused_the_copy_becomes_a_withdrawn_placeholder_without_buttons(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    @dataclass
    class Undeletable(RecordingAdapter):
        async def delete(self, ref: MessageRef) -> None:
            raise PermanentError("cant_delete_message")

    adapter = Undeletable()
    app = app_on(store, clock, adapter, new_app)
    await app.start()
    post, refs = await publish(app)
    _, removed = await app.publishing.retract(post.id, "console:mod")
    assert removed == 3
    for ref in refs:
        assert text_of(adapter.shown[ref]) == f"#{post.id} was retracted"
        assert adapter.shown[ref].actions == ()


async def test_two_instances_on_one_store_edit_each_copy_once(
    store: Store, clock: FrozenClock, new_app: list[App]
) -> None:
    first, second = RecordingAdapter(), RecordingAdapter()
    one, two = app_on(store, clock, first, new_app), app_on(store, clock, second, new_app)
    await one.start()
    await two.start()
    post, refs = await publish(one)
    for n in range(4):
        await one.editing.edit(post.id, PostEdit(body=f"Stand {n}"), "console:mod", Role.MODERATOR)
        two.edit_sync.wake()
        await asyncio.gather(one.settle(), two.settle())
    edits = first.edits + second.edits
    assert sorted(edits, key=lambda r: r.message_id) == sorted(refs * 4, key=lambda r: r.message_id)
    async with store.sessions() as session:
        shown = [(await session.get(Delivery, i)) for i in (1, 2, 3)]
    assert [d.shown_revision for d in shown if d is not None] == [4, 4, 4]
