"""Posts composed in a form (the Slack modal) and waiting for their author's Publish (migration 0013).

A modal's ``private_metadata`` holds at most 3,000 characters and a draft's fields hold more, so the
preview's metadata carries only the draft's token and the draft waits here. Publish *claims* the draft
(:func:`claim_draft`, one conditional UPDATE): of a double click, or a submission Slack sends again,
exactly one claim wins and only that one creates the post. Drafts expire (:data:`DRAFT_TTL`); nothing
else reads them, so an expired one is deleted when the next is saved.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from content.models import Base, UTCDateTime

DRAFT_TTL = timedelta(minutes=15)  # issue 15: a started dialog expires after 15 minutes
TOKEN_LENGTH = 64


class FormDraft(Base):
    """One previewed draft: who composed it, its fields (``payload``), and what became of it."""

    __tablename__ = "form_drafts"

    token: Mapped[str] = mapped_column(String(TOKEN_LENGTH), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    post_id: Mapped[int | None] = mapped_column(Integer)


async def save_draft(session: AsyncSession, platform: str, user_id: str, payload: dict[str, Any], now: datetime) -> str:
    """Store a draft and return its token; drafts past their time go at the same moment."""
    await session.execute(delete(FormDraft).where(FormDraft.created_at < now - DRAFT_TTL))
    token = secrets.token_urlsafe(24)
    session.add(FormDraft(token=token, platform=platform, user_id=user_id, payload=payload, created_at=now))
    await session.flush()
    return token


async def draft_of(session: AsyncSession, token: str, platform: str, user_id: str, now: datetime) -> FormDraft | None:
    """The person's own draft by its token, while it has not expired (another person's token finds nothing)."""
    row = await session.get(FormDraft, token)
    if row is None or row.platform != platform or row.user_id != user_id or row.created_at < now - DRAFT_TTL:
        return None
    return row


async def claim_draft(session: AsyncSession, token: str, now: datetime) -> bool:
    """True for the one Publish that may create the post; False when another claimed it first."""
    result = await session.execute(
        update(FormDraft).where(FormDraft.token == token, FormDraft.claimed_at.is_(None)).values(claimed_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_draft(session: AsyncSession, token: str, post_id: int | None) -> None:
    """After the claimed Publish: the post it made (kept, so a late second Publish can name it), or, when
    it made none (the draft was refused), the claim undone so its author can correct and try again."""
    values: dict[str, Any] = {"post_id": post_id} if post_id is not None else {"claimed_at": None}
    await session.execute(update(FormDraft).where(FormDraft.token == token).values(**values))


async def drop_draft(session: AsyncSession, token: str, platform: str, user_id: str) -> None:
    """Cancel: the person's unpublished draft is gone."""
    await session.execute(
        delete(FormDraft).where(
            FormDraft.token == token,
            FormDraft.platform == platform,
            FormDraft.user_id == user_id,
            FormDraft.claimed_at.is_(None),
        )
    )


async def published_post(session: AsyncSession, token: str) -> int | None:
    return (await session.execute(select(FormDraft.post_id).where(FormDraft.token == token))).scalar_one_or_none()
