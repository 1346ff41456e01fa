"""Posts to people on the console (content/direct.py): `to: department=…` selects people from the
directory, `| direct` sends a must-read privately to the channel's members; each gets one private copy,
counted in reach and who-has-not; people who cannot be written to are listed with the reason."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.drafts import CallToAction, DraftError, PostDraft
from bot.services.roles import Role
from content import audience, direct, posts
from content.models import Channel, CtaKind, Delivery, Employee
from content.people import find_identity
from tests.conftest import ConsoleApp


async def _set(console_app: ConsoleApp, user: str, **fields: str) -> None:
    async with console_app.app.store.transaction() as session:
        identity = await find_identity(session, "console", user)
        assert identity is not None
        employee = await session.get(Employee, identity.employee_id)
        assert employee is not None
        for name, value in fields.items():
            setattr(employee, name, value)


async def _copies(console_app: ConsoleApp, post_id: int) -> dict[str, str]:
    """Chat of each private copy of the post → its delivery state."""
    async with console_app.app.store.sessions() as session:
        rows = await session.execute(
            select(Channel.chat_id, Delivery.state)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(Delivery.post_id == post_id, Channel.kind == direct.DIRECT)
        )
        return {str(c): str(s) for c, s in rows.all()}


async def test_a_segment_is_sent_privately_to_its_people(console_app: ConsoleApp) -> None:
    await console_app.say("anna: /mine", "bram: /mine", "carla: /mine")
    await _set(console_app, "anna", department="Sales", location="Utrecht")
    await _set(console_app, "bram", department="sales", location="Delft")
    await _set(console_app, "carla", department="Support")
    async with console_app.app.store.transaction() as session:  # in the directory, on no messenger
        session.add(Employee(name="Dirk", department="Sales", created_at=console_app.app.clock.now()))

    await console_app.say("mod: /post Nieuwe prijzen | Lees dit. | cta: acknowledge | to: department=Sales")
    await console_app.app.settle()

    async with console_app.app.store.sessions() as session:
        (post,) = await posts.list_posts(session)
        assert post.audience == ["department=sales"]
        deliveries = await posts.deliveries_of(session, post.id)
        reach = (await audience.reach_of(session, [post.id]))[post.id]
        unreachable = await direct.unreachable(session, post.id)
        channels = [c.name for c in await posts.all_channels(session)]
    assert await _copies(console_app, post.id) == {"@anna": "sent", "@bram": "sent"}
    assert len(deliveries) == 2  # nothing to the console channel: a segment selects people
    assert channels == ["console"]  # private chats are no configured channels
    assert reach == audience.Reach(2, False, 2)
    assert [(u.name, u.platform) for u in unreachable] == [("Dirk", None)]
    assert unreachable[0].reason == direct.NO_ACCOUNT  # recorded as a code, worded for each reader

    await console_app.say("anna: /ack 1", "mod: /stats 1 missing")
    await console_app.app.answer_tasks.idle(10)
    answer = console_app.replies_to("mod")[-1]
    assert "1 of the 2 people known to be reached have not acknowledged" in answer.splitlines()[0]
    assert "- bram · sales · console" in answer
    assert "Dirk" in answer and "no messenger account linked" in answer

    # Both attributes: a person must match each (Sales people in Utrecht).
    await console_app.say("mod: /post Borrel | Kom je? | cta: acknowledge | to: department=sales, location=utrecht")
    await console_app.app.settle()
    assert await _copies(console_app, 2) == {"@anna": "sent"}

    # The next post reuses each person's private chat: one channel per account.
    await console_app.say("mod: /post Herhaling | Nog eens. | cta: acknowledge | to: department=sales")
    await console_app.app.settle()
    async with console_app.app.store.sessions() as session:
        count = len((await session.execute(select(Channel).where(Channel.kind == direct.DIRECT))).scalars().all())
    assert count == 2


async def test_direct_sends_a_must_read_to_each_member_privately(console_app: ConsoleApp) -> None:
    await console_app.say("anna: /mine", "bram: /mine", "mod: /mine")
    await console_app.say("mod: /post Verlof | Lees dit. | cta: acknowledge | direct")
    await console_app.app.settle()
    async with console_app.app.store.sessions() as session:
        (post,) = await posts.list_posts(session)
        reach = (await audience.reach_of(session, [post.id]))[post.id]
    assert post.direct
    assert await _copies(console_app, post.id) == {"@anna": "sent", "@bram": "sent", "@mod": "sent"}
    assert reach.value == 3


async def test_posts_to_people_are_refused_where_they_cannot_be(console_app: ConsoleApp) -> None:
    publishing = console_app.app.publishing
    await console_app.say("anna: /mine")
    refusals = []
    for draft in (
        PostDraft(title="Lunch", cta=CallToAction(CtaKind.LIKE), direct=True),
        PostDraft(title="Lunch", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=sales", "everyone")),
        PostDraft(title="Lunch", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("floor=3",)),
        PostDraft(title="Lunch", cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=("department=nobody",)),
    ):
        try:
            await publishing.create(draft, "cli", Role.ADMIN)
        except DraftError as exc:
            refusals.append(str(exc))
    assert len(refusals) == 4
    assert "only a must-read goes `direct`" in refusals[0]
    assert "either channel tags or people" in refusals[1]
    assert "department=NAME" in refusals[2]
    assert "nobody in the directory has department=nobody" in refusals[3]
    async with console_app.app.store.sessions() as session:
        assert await posts.list_posts(session) == []
