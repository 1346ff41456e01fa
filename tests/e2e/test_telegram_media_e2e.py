"""Telegram end to end, issue 15 "Images and files": through the real python-telegram-bot against the
loopback peer (which takes multipart uploads, issues file_ids and accepts only its own). A post with an
image to several chats is uploaded once and sent by file_id everywhere else, each chat getting one photo
with the post as caption and the buttons; an album goes as one media group per chat and then the text
with the buttons; a post too long for a caption goes as the photo and then the text; an edit of a photo
post edits its caption. SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from bot.clock import FrozenClock
from bot.services.attachment_rules import inspected
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.attachments import AttachmentKind, NewFile
from content.db import Store
from content.models import CtaKind, Post
from tests.e2e.test_telegram_e2e import (
    ANNA,
    BRAM,
    KANTOOR,
    LAGER,
    Harness,
    answered,
    buttons,
    data_for,
    eventually,
    peer_with_people,
    running_app,
    settings_for,
)
from tests.e2e.test_telegram_topics_e2e import FORUM, Topics
from tests.e2e.test_telegram_topics_e2e import topics as topics

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
async def polling(store: Store, clock: FrozenClock) -> AsyncIterator[Harness]:
    """Telegram (polling) and the console, the web off: no port of its own to take."""
    async with peer_with_people() as peer, running_app(settings_for(peer, public_url=None), peer, store, clock) as h:
        yield h


def picture(name: str, color: str, size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> NewFile:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return inspected(name, out.getvalue(), AttachmentKind.IMAGE)


async def publish(harness: Harness, title: str, body: str, *files: NewFile, to: str = "kantoor") -> Post:
    draft = PostDraft(title, body, cta=CallToAction(CtaKind.ACKNOWLEDGE), audience=(to,), attachments=tuple(files))
    post = await harness.app.publishing.create(draft, "console:mod", Role.ADMIN)
    await harness.app.settle()
    return post


async def test_an_image_is_uploaded_once_and_every_other_chat_gets_it_by_file_id(polling: Harness) -> None:
    peer = polling.peer
    post = await publish(polling, "Teamfoto", "Van de heidag", picture("team.png", "red"))

    assert [u.file_name for u in peer.media.uploads] == ["team.png"]  # one upload for the whole post
    sends = peer.calls_to("sendPhoto", ok=True)
    assert len(sends) == 2
    by_file_id = [c for c in sends if isinstance(c.params["photo"], str)]
    assert len(by_file_id) == 1 and by_file_id[0].params["photo"] in peer.media.files
    for chat in (KANTOOR, LAGER):
        msg = await polling.message_in(chat, post.id)
        assert msg.media is not None and "photo" in msg.media
        assert msg.text.startswith("Teamfoto") and "Van de heidag" in msg.text  # the caption
        assert buttons(msg)[0]["text"] == "✅ Read · 0"
        assert len(peer.bot_messages(chat)) == 1  # one message per chat: the photo is the post
    assert not peer.calls_to("sendMessage")
    assert "🖼 team.png (64×48," in polling.console.messages["m1"]

    # A press on the photo's button counts, and the photo's buttons show it (the caption untouched).
    kantoor = await polling.message_in(KANTOOR, post.id)
    pressed = await peer.user_presses(BRAM, KANTOOR, kantoor.message_id, data_for(kantoor, "ack"))
    await eventually(answered(peer, pressed), "Bram's press is answered")
    await polling.app.settle()
    assert buttons(await polling.message_in(KANTOOR, post.id))[0]["text"] == "✅ Read · 1"
    assert not peer.calls_to("editMessageText")


async def test_a_restart_reuses_the_upload(polling: Harness) -> None:
    """The file_id is in the store, not only in the process: a second post of the same image uploads nothing."""
    peer = polling.peer
    await publish(polling, "Eerste", "", picture("logo.png", "blue"))
    polling.telegram._messages._shown.clear()  # nothing of the first send is remembered in memory
    await publish(polling, "Tweede", "", picture("logo-again.png", "blue"))
    assert len(peer.media.uploads) == 1
    assert len(peer.calls_to("sendPhoto", ok=True)) == 4


async def test_an_album_goes_as_one_media_group_per_chat_then_the_text_with_the_buttons(polling: Harness) -> None:
    peer = polling.peer
    album = [picture(f"foto{i}.png", color) for i, color in enumerate(("red", "green", "blue"))]
    post = await publish(polling, "Heidag", "Drie foto's", *album)

    groups = peer.calls_to("sendMediaGroup", ok=True)
    assert len(groups) == 2 and len(peer.media.uploads) == 3  # three files uploaded once, in the first group
    second = groups[1].params["media"]
    assert all(item["media"] in peer.media.files for item in second)  # by file_id
    for chat in (KANTOOR, LAGER):
        msg = await polling.message_in(chat, post.id)  # the delivery's message: the text with the buttons
        assert msg.media is None and msg.text.startswith("Heidag") and buttons(msg)
        pictures = [m for m in peer.bot_messages(chat) if m.media is not None]
        assert len(pictures) == 3 and all(m.reply_markup is None for m in pictures)


async def test_a_post_too_long_for_a_caption_goes_as_the_photo_then_the_text(polling: Harness) -> None:
    peer = polling.peer
    body = "Lang verhaal. " * 120  # past 1,024 characters
    post = await publish(polling, "Verslag", body, picture("verslag.jpg", "white", fmt="JPEG"))
    for chat in (KANTOOR, LAGER):
        photo, text = peer.bot_messages(chat)
        assert photo.media is not None and photo.text == "" and photo.reply_markup is None
        assert text.message_id == (await polling.message_in(chat, post.id)).message_id and buttons(text)
    assert all("caption" not in c.params for c in peer.calls_to("sendPhoto"))
    assert len(peer.media.uploads) == 1


async def test_a_file_is_sent_as_a_document_with_the_post_as_caption(polling: Harness) -> None:
    peer = polling.peer
    pdf = inspected("plan.pdf", b"%PDF-1.4\n% prikbord\n", AttachmentKind.FILE)
    post = await publish(polling, "Plattegrond", "De nieuwe indeling", pdf)
    msg = await polling.message_in(KANTOOR, post.id)
    assert msg.media is not None and msg.media["document"]["file_name"] == "plan.pdf"
    assert len(peer.media.uploads) == 1 and len(peer.calls_to("sendDocument", ok=True)) == 2
    assert "📎 plan.pdf (20 B)" in polling.console.messages["m1"]


async def test_an_edit_of_a_photo_post_edits_its_caption(polling: Harness) -> None:
    peer = polling.peer
    post = await publish(polling, "Borrel", "Vrijdag 16:00", picture("borrel.png", "yellow"))
    await peer.user_sends(ANNA, KANTOOR, f"/edit {post.id} | Borrel (verzet) | Vrijdag 17:00")
    await eventually(lambda: bool(peer.bot_messages(ANNA)), "Anna hears back")
    await polling.app.settle()
    for chat in (KANTOOR, LAGER):
        msg = await polling.message_in(chat, post.id)
        assert msg.text.startswith("Borrel (verzet)") and "17:00" in msg.text and msg.media is not None
    assert len(peer.calls_to("editMessageCaption", ok=True)) == 2
    assert not peer.calls_to("editMessageText")


async def test_retracting_an_album_post_deletes_the_album_and_the_text(polling: Harness) -> None:
    peer = polling.peer
    post = await publish(polling, "Weg", "Per ongeluk", picture("a.png", "red"), picture("b.png", "blue"))
    await polling.console.feed(f"mod: /retract {post.id}")
    await polling.app.settle()
    for chat in (KANTOOR, LAGER):
        assert [m for m in peer.bot_messages(chat) if not m.deleted] == []  # both photos and the text


async def test_an_album_to_a_forum_topic_goes_to_that_topic(topics: Topics) -> None:
    harness, peer = topics.harness, topics.harness.peer
    post = await publish(
        harness, "Kwartaal", "De grafieken", picture("q1.png", "red"), picture("q2.png", "blue"), to="sales"
    )
    (group,) = peer.calls_to("sendMediaGroup", ok=True)
    assert (group.params["chat_id"], group.params.get("message_thread_id")) == (FORUM, topics.sales)
    text = await topics.message_in("sales", post.id)
    assert text.thread_id == topics.sales and buttons(text)
    assert all(m.thread_id == topics.sales for m in peer.bot_messages(FORUM))


async def test_a_long_photo_post_edited_short_edits_its_text_message(polling: Harness) -> None:
    """Sent as the photo and then the text, the copy stays the text message when an edit would fit a caption."""
    peer = polling.peer
    post = await publish(polling, "Verslag", "Lang verhaal. " * 120, picture("verslag.png", "white"))
    text = await polling.message_in(KANTOOR, post.id)
    await polling.console.feed(f"mod: /edit {post.id} | Verslag | Kort samengevat")
    await polling.app.settle()
    edited = await polling.message_in(KANTOOR, post.id)
    assert edited.message_id == text.message_id and edited.media is None and "Kort samengevat" in edited.text
    assert len(peer.calls_to("editMessageText", ok=True)) == 2


async def test_a_captioned_photo_is_not_edited_past_a_captions_length(polling: Harness) -> None:
    peer = polling.peer
    post = await publish(polling, "Borrel", "Vrijdag", picture("borrel.png", "yellow"))
    await polling.console.feed(f"mod: /edit {post.id} | Borrel | {'Heel lang verhaal. ' * 80}")
    await polling.app.settle()
    photo = await polling.message_in(KANTOOR, post.id)
    assert photo.media is not None and "Vrijdag" in photo.text and not photo.edits  # left as it was, not garbled
    assert not peer.calls_to("editMessageCaption", ok=True)
