"""Attachments of posts: each file stored once (content-addressed by sha-256, in the database so every
instance on one PostgreSQL sees it), a post's ordered list of them, and each platform's upload of a file
(Telegram ``file_id``, Slack file id, Matrix ``mxc://``) remembered so a copy to another chat, or the
same copy after a restart, sends the upload instead of the bytes again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from content.models import Base


class AttachmentKind(StrEnum):
    IMAGE = "image"  # shown as a picture (Telegram sendPhoto, Matrix m.image)
    FILE = "file"  # sent as a document to download


class StoredFile(Base):
    """One file's bytes and what was read from them (never from its name)."""

    __tablename__ = "attachment_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class PostAttachment(Base):
    """A file on a post, at ``position`` (0 first), under the name it was given."""

    __tablename__ = "post_attachments"
    __table_args__ = (UniqueConstraint("post_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_files.sha256"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))


class AttachmentUpload(Base):
    """A platform's reference to a file it was sent once: what every later send of that file uses."""

    __tablename__ = "attachment_uploads"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_files.sha256"), primary_key=True)
    remote_ref: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class NewFile:
    """A checked file about to be stored."""

    sha256: str
    media_type: str
    size: int
    data: bytes
    file_name: str
    kind: AttachmentKind
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """A post's attachment without its bytes."""

    sha256: str
    file_name: str
    kind: AttachmentKind
    media_type: str
    size: int
    width: int | None
    height: int | None


async def attach(session: AsyncSession, post_id: int, files: Sequence[NewFile], now: datetime) -> None:
    """Store ``files`` on post ``post_id`` in order; a file already stored (same sha-256) is not stored again."""
    wanted = {f.sha256 for f in files}
    known = set((await session.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(wanted)))).all())
    for f in files:
        if f.sha256 not in known:
            known.add(f.sha256)
            session.add(
                StoredFile(
                    sha256=f.sha256,
                    media_type=f.media_type,
                    size=f.size,
                    width=f.width,
                    height=f.height,
                    data=f.data,
                    created_at=now,
                )
            )
    await session.flush()
    for position, f in enumerate(files):
        session.add(
            PostAttachment(post_id=post_id, position=position, sha256=f.sha256, file_name=f.file_name, kind=f.kind)
        )
    await session.flush()


async def attachments_of(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[AttachmentInfo]]:
    """Each post's attachments in order (posts without any are left out)."""
    if not post_ids:
        return {}
    rows = await session.execute(
        select(PostAttachment, StoredFile.media_type, StoredFile.size, StoredFile.width, StoredFile.height)
        .join(StoredFile, StoredFile.sha256 == PostAttachment.sha256)
        .where(PostAttachment.post_id.in_(post_ids))
        .order_by(PostAttachment.post_id, PostAttachment.position)
    )
    out: dict[int, list[AttachmentInfo]] = {}
    for item, media_type, size, width, height in rows.all():
        info = AttachmentInfo(item.sha256, item.file_name, AttachmentKind(item.kind), media_type, size, width, height)
        out.setdefault(item.post_id, []).append(info)
    return out


async def file_data(session: AsyncSession, sha256: str) -> bytes | None:
    return await session.scalar(select(StoredFile.data).where(StoredFile.sha256 == sha256))


async def upload_refs(session: AsyncSession, platform: str, shas: Sequence[str]) -> dict[str, str]:
    """sha-256 → the platform's reference, for the files it was sent before."""
    if not shas:
        return {}
    rows = await session.execute(
        select(AttachmentUpload.sha256, AttachmentUpload.remote_ref).where(
            AttachmentUpload.platform == platform, AttachmentUpload.sha256.in_(shas)
        )
    )
    return {sha: ref for sha, ref in rows.all()}


async def record_upload(session: AsyncSession, platform: str, sha256: str, remote_ref: str, now: datetime) -> None:
    """Remember the platform's reference to a file; the first one recorded stays (another instance may
    have uploaded the same file meanwhile: either reference works)."""
    try:
        async with session.begin_nested():
            session.add(AttachmentUpload(platform=platform, sha256=sha256, remote_ref=remote_ref, created_at=now))
    except IntegrityError:
        pass
