"""The rules an image or file meets before a post carries it (bot/services/attachment_rules.py), and how
Telegram's plan sends it (adapters/telegram/media.py): each rule on its own, with the file and the
platform's limit named in the error."""

from __future__ import annotations

import dataclasses
import hashlib
import io

import pytest
from PIL import Image

from adapters.base import FILE, IMAGE, MediaLimits, OutboundAttachment, OutboundMessage
from adapters.markup import Document, MarkupParser
from adapters.telegram.media import TELEGRAM_MEDIA, captioned, media_plan
from bot.services.attachment_rules import (
    MAX_STORED,
    AttachmentError,
    file_name_of,
    inspected,
    refuse_unsendable,
    sniffed_type,
)
from content.attachments import AttachmentKind, NewFile


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "purple").save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04rest", "application/zip"),
        (b"Naam;Afdeling\nAnna;Sales\n", "text/plain"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str) -> None:
    assert sniffed_type(data) == expected


def test_an_image_is_measured_and_addressed_by_its_content() -> None:
    data = image_bytes("JPEG", (640, 480))
    found = inspected("Team Foto.JPG", data, AttachmentKind.IMAGE)
    assert (found.media_type, found.width, found.height, found.size) == ("image/jpeg", 640, 480, len(data))
    assert found.sha256 == hashlib.sha256(data).hexdigest() and found.file_name == "Team Foto.JPG"


def test_an_office_document_keeps_its_own_media_type() -> None:
    found = inspected("notulen.docx", b"PK\x03\x04word", AttachmentKind.FILE)
    assert found.media_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert found.width is None


def test_an_unknown_extension_is_taken_for_what_its_bytes_are() -> None:
    assert inspected("export.bin", b"\x00\x01", AttachmentKind.FILE).media_type == "application/octet-stream"
    assert inspected("scan", b"%PDF-1.4", AttachmentKind.FILE).media_type == "application/pdf"


@pytest.mark.parametrize(
    ("name", "data", "kind", "message"),
    [
        ("leeg.jpg", b"", AttachmentKind.IMAGE, "leeg.jpg is empty (0 bytes)"),
        ("foto.jpg", image_bytes("PNG"), AttachmentKind.IMAGE, "foto.jpg is not what its extension says: it holds PNG"),
        ("plan.pdf", b"GIF89a....", AttachmentKind.FILE, "plan.pdf is not what its extension says: it holds GIF"),
        ("plan.pdf", b"%PDF-1.4", AttachmentKind.IMAGE, "plan.pdf is not an image (it holds PDF document)"),
        ("kapot.png", image_bytes("PNG")[:40], AttachmentKind.IMAGE, "kapot.png is a damaged image"),
        # A PNG signature and then rubbish: the signature alone does not make an image.
        ("nep.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, AttachmentKind.IMAGE, "nep.png is a damaged image"),
        (
            "groot.txt",
            b"a" * (MAX_STORED + 1),
            AttachmentKind.FILE,
            "groot.txt is 50.1 MB, more than any messenger takes (at most 50 MB)",
        ),
        ("\u202e", b"x", AttachmentKind.FILE, "an attachment needs a file name"),
    ],
)
def test_bad_files_are_refused_with_what_is_wrong(name: str, data: bytes, kind: AttachmentKind, message: str) -> None:
    with pytest.raises(AttachmentError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        inspected(name, data, kind)


def test_a_file_name_is_its_last_path_part_cleaned_and_bounded() -> None:
    assert file_name_of("C:\\Users\\anna\\plan.pdf") == "plan.pdf"
    assert file_name_of("../../etc/pass\u0007wd.txt") == "passwd.txt"
    long = file_name_of("x" * 300 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


def _file(kind: AttachmentKind, size: int, media_type: str = "image/png", dims: tuple[int, int] = (10, 10)) -> NewFile:
    return NewFile("0" * 64, media_type, size, b"", f"f.{media_type.split('/')[1]}", kind, *dims)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([_file(AttachmentKind.IMAGE, 11 * 1024 * 1024)], "f.png is 11 MB; telegram takes images of at most 10 MB"),
        (
            [_file(AttachmentKind.FILE, 51 * 1024 * 1024, "application/pdf")],
            "f.pdf is 51 MB; telegram takes files of at most 50 MB",
        ),
        ([_file(AttachmentKind.IMAGE, 10, "image/gif")], "f.gif is a GIF image; telegram shows only these as images"),
        ([_file(AttachmentKind.IMAGE, 10, dims=(9000, 1200))], "takes images whose width and height add up to at most"),
        ([_file(AttachmentKind.IMAGE, 10, dims=(4200, 200))], "takes images at most 20 times as wide as high"),
        ([_file(AttachmentKind.IMAGE, 10)] * 11, "telegram takes at most 10 images in one album, not 11"),
    ],
)
def test_telegrams_limits_are_checked_before_anything_is_sent(files: list[NewFile], message: str) -> None:
    with pytest.raises(AttachmentError, match=message):
        refuse_unsendable(files, "telegram", TELEGRAM_MEDIA, "kantoor")


def test_within_the_limits_nothing_is_refused() -> None:
    refuse_unsendable([_file(AttachmentKind.IMAGE, 10 * 1024 * 1024)] * 10, "telegram", TELEGRAM_MEDIA, "kantoor")
    refuse_unsendable([_file(AttachmentKind.FILE, 40 * 1024 * 1024, "application/zip")], "console", MediaLimits(), "c")
    refuse_unsendable([], "matrix", None, "lobby")  # no attachments: any platform


def test_a_platform_without_attachments_refuses_them_naming_its_channels() -> None:
    with pytest.raises(AttachmentError, match="matrix cannot carry images or files yet, and the post goes to lobby"):
        refuse_unsendable([_file(AttachmentKind.IMAGE, 10)], "matrix", None, "lobby")


# -- Telegram's plan ------------------------------------------------------------------------------


def _message(body: str, *kinds: str) -> OutboundMessage:
    items = tuple(
        OutboundAttachment(f"{i:064d}", f"f{i}", kind, "image/png" if kind == IMAGE else "application/pdf", 9)
        for i, kind in enumerate(kinds)
    )
    doc: Document = MarkupParser().parse(body)
    return OutboundMessage(markup=doc, attachments=items, delivery_id=7)


def test_one_image_with_a_short_post_is_a_captioned_photo() -> None:
    message = _message("Kort", IMAGE)
    sends, parts = media_plan(message)
    assert captioned(message) and parts == []
    assert [(s.method, s.caption) for s in sends] == [("sendPhoto", "Kort")]


def test_a_post_past_1024_characters_is_the_photo_then_the_text() -> None:
    message = _message("woord " * 200, IMAGE)
    sends, parts = media_plan(message)
    assert not captioned(message) and sends[0].caption is None and sends[0].reply_markup is None
    assert len(parts) == 1


def test_images_go_as_an_album_and_files_as_a_group_of_documents_then_the_text() -> None:
    sends, parts = media_plan(_message("Tekst", IMAGE, IMAGE, FILE, FILE, IMAGE))
    assert [(s.method, len(s.items)) for s in sends] == [("sendMediaGroup", 3), ("sendMediaGroup", 2)]
    assert {i.kind for i in sends[0].items} == {IMAGE} and {i.kind for i in sends[1].items} == {FILE}
    assert len(parts) == 1 and all(s.reply_markup is None for s in sends)


def test_an_image_and_a_file_go_each_alone_then_the_text() -> None:
    message = dataclasses.replace(_message("Tekst", IMAGE, FILE))
    sends, parts = media_plan(message)
    assert [s.method for s in sends] == ["sendPhoto", "sendDocument"] and len(parts) == 1
