"""Matrix end to end, issue 15 "Images and files", against a real Synapse: a post with an image and a file
to two rooms uploads each file once (one ``mxc://`` URI per file, the same in every room, the bytes as
stored), sends them as ``m.image`` / ``m.file`` with ``info``, then the post as the text event that counts;
a retraction redacts all of them. SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from bot.services.attachment_rules import inspected
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.attachments import AttachmentKind, AttachmentUpload
from content.db import Store
from content.models import CtaKind
from tests.e2e.matrix_bridge import room_channel, room_events
from tests.e2e.test_matrix_e2e import MOD_KEY, World, sent_events, world

__all__ = ["world"]  # the fixture, used by name


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "teal").save(out, "PNG")
    return out.getvalue()


async def test_each_file_is_uploaded_once_and_shown_in_every_room(store: Store, world: World) -> None:
    kantoor, lager = await world.room(), await world.room()
    app = await world.start(world.app(store, [room_channel("kantoor", kantoor), room_channel("lager", lager)]))
    png = _png()
    files = (
        inspected("team.png", png, AttachmentKind.IMAGE),
        inspected("plan.pdf", b"%PDF-1.4\n% plan\n", AttachmentKind.FILE),
    )
    draft = PostDraft("Heidag", "Foto en plan", cta=CallToAction(CtaKind.LIKE), attachments=files)
    post = await app.publishing.create(draft, MOD_KEY, Role.MODERATOR)
    await app.settle()
    sent = await sent_events(app, post.id)
    assert set(sent) == {kantoor, lager}

    urls: dict[str, set[str]] = {"m.image": set(), "m.file": set()}
    for room in (kantoor, lager):
        events = [e for e in await room_events(world.owner, room) if e.get("sender") == world.bot.user_id]
        media = [e for e in events if e["content"].get("msgtype") in urls]
        image, document = media
        assert image["content"]["msgtype"] == "m.image" and image["content"]["body"] == "team.png"
        assert image["content"]["info"] == {"mimetype": "image/png", "size": len(png), "w": 32, "h": 24}
        assert document["content"]["msgtype"] == "m.file" and document["content"]["info"]["size"] == 16
        for e in media:
            urls[e["content"]["msgtype"]].add(e["content"]["url"])
        text = next(e for e in events if e["event_id"] == sent[room])  # the copy: the text after the files
        assert text["content"]["msgtype"] == "m.text" and text["content"]["body"].startswith("Heidag")
        assert [e["event_id"] for e in events].index(text["event_id"]) > [e["event_id"] for e in events].index(
            document["event_id"]
        )
    assert all(len(found) == 1 for found in urls.values())  # one upload per file for both rooms
    async with app.store.sessions() as session:
        uploads = await session.scalar(select(func.count()).select_from(AttachmentUpload))
    assert uploads == 2

    (image_url,) = urls["m.image"]
    downloaded = await world.owner.client.download(mxc=image_url)
    assert getattr(downloaded, "body", None) == png, downloaded  # what the homeserver holds is the stored bytes

    _, removed = await app.publishing.retract(post.id, MOD_KEY)
    assert removed == 2
    for room in (kantoor, lager):
        mine = [e for e in await room_events(world.owner, room) if e.get("sender") == world.bot.user_id]
        posted = [e for e in mine if e["type"] == "m.room.message"]
        assert len(posted) == 3 and all(not e.get("content") for e in posted)  # the image, the file, the text
