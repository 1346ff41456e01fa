"""The loopback Bot API's photos, documents and albums reject what Telegram rejects (raw multipart HTTP,
no SDK in between): a file_id it never issued, an empty file, a caption past 1,024 characters, a media
group of fewer than 2 or more than 10 items, documents mixed with photos, buttons on a media group, a
text edit of a photo; and it counts each upload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.peers.telegram import FloodLimits, TelegramPeer

GROUP = -1009876543210
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # the peer stores bytes; it does not decode them


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer(flood=FloodLimits.off()) as p:
        p.add_chat(GROUP, "supergroup", "Kantoor")
        yield p


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, peer: TelegramPeer, method: str, fields: dict[str, str], files: dict[str, bytes]
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, data in files.items():
        form.add_field(name, data, filename=f"{name}.png", content_type="image/png")
    async with http.post(f"{peer.base_url}/bot{peer.token}/{method}", data=form) as response:
        return response.status, await response.json()


async def upload(http: aiohttp.ClientSession, peer: TelegramPeer) -> str:
    status, body = await post(http, peer, "sendPhoto", {"chat_id": str(GROUP)}, {"photo": PNG})
    assert status == 200, body
    return str(body["result"]["photo"][-1]["file_id"])


async def test_an_upload_is_counted_and_its_file_id_works_for_the_next_send(
    peer: TelegramPeer, http: aiohttp.ClientSession
) -> None:
    file_id = await upload(http, peer)
    status, body = await post(http, peer, "sendPhoto", {"chat_id": str(GROUP), "photo": file_id}, {})
    assert status == 200 and body["result"]["photo"][-1]["file_id"] == file_id
    assert len(peer.media.uploads) == 1 and peer.media.uploads[0].size == len(PNG)


@pytest.mark.parametrize(
    ("method", "fields", "files", "description"),
    [
        ("sendPhoto", {"photo": "AgACAgQ-never-issued"}, {}, "Bad Request: wrong file identifier/HTTP URL specified"),
        ("sendPhoto", {}, {"photo": b""}, "Bad Request: file must be non-empty"),
        ("sendPhoto", {"caption": "x" * 1025}, {"photo": PNG}, "Bad Request: message caption is too long"),
        (
            "sendDocument",
            {"document": "AgACAgQ-never-issued"},
            {},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            "sendMediaGroup",
            {"media": json.dumps([{"type": "photo", "media": "attach://a"}])},
            {"a": PNG},
            "Bad Request: media group must include 2-10 items",
        ),
        (
            "sendMediaGroup",
            {"media": json.dumps([{"type": "photo", "media": f"attach://p{i}"} for i in range(11)])},
            {f"p{i}": PNG for i in range(11)},
            "Bad Request: media group must include 2-10 items",
        ),
        (
            "sendMediaGroup",
            {
                "media": json.dumps(
                    [{"type": "photo", "media": "attach://a"}, {"type": "document", "media": "attach://b"}]
                )
            },
            {"a": PNG, "b": PNG},
            "Bad Request: document can't be mixed with other media types",
        ),
        (
            "sendMediaGroup",
            {
                "media": json.dumps(
                    [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "attach://b"}]
                ),
                "reply_markup": json.dumps({"inline_keyboard": [[{"text": "👍", "callback_data": "like"}]]}),
            },
            {"a": PNG, "b": PNG},
            "Bad Request: media group messages can't have reply markup",
        ),
        (
            "sendMediaGroup",
            {
                "media": json.dumps(
                    [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "attach://gone"}]
                )
            },
            {"a": PNG},
            "Bad Request: can't parse InputMedia: media not found",
        ),
    ],
)
async def test_what_telegram_refuses_is_refused_and_nothing_is_sent(
    peer: TelegramPeer,
    http: aiohttp.ClientSession,
    method: str,
    fields: dict[str, str],
    files: dict[str, bytes],
    description: str,
) -> None:
    status, body = await post(http, peer, method, {"chat_id": str(GROUP), **fields}, files)
    assert (status, body["description"]) == (400, description)
    assert peer.bot_messages(GROUP) == []


async def test_an_album_of_two_is_two_messages_of_one_group(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    media = [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "attach://b"}]
    status, body = await post(
        http, peer, "sendMediaGroup", {"chat_id": str(GROUP), "media": json.dumps(media)}, {"a": PNG, "b": PNG}
    )
    assert status == 200 and len(body["result"]) == 2
    assert len({m["media_group_id"] for m in body["result"]}) == 1 and len(peer.media.uploads) == 2
    assert peer.unknown_params == []  # the attach:// parts are not taken for unknown parameters


async def test_a_photo_has_no_text_to_edit_but_a_caption(peer: TelegramPeer, http: aiohttp.ClientSession) -> None:
    status, body = await post(http, peer, "sendPhoto", {"chat_id": str(GROUP), "caption": "Oud"}, {"photo": PNG})
    message_id = str(body["result"]["message_id"])
    target = {"chat_id": str(GROUP), "message_id": message_id}
    status, body = await post(http, peer, "editMessageText", {**target, "text": "Nieuw"}, {})
    assert (status, body["description"]) == (400, "Bad Request: there is no text in the message to edit")
    status, body = await post(http, peer, "editMessageCaption", {**target, "caption": "Nieuw"}, {})
    assert status == 200 and body["result"]["caption"] == "Nieuw"
