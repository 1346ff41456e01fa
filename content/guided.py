"""Posts being composed step by step (``post`` without arguments), one per person and chat.

The dialog lives here, not in a process, so any instance on the same database takes the next answer and
a restart keeps it. The key is the platform, the person and the chat the dialog runs in; ``answers``
holds what was answered so far (plain JSON values), ``step`` the question asked now, ``prompt_id`` the
message that asked it (a Telegram ForceReply answer replies to it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from content.models import Base

# Claimed by a Publish: a second Publish (pressed twice, or on another instance) finds it taken.
PUBLISHING = "publishing"


class GuidedDraft(Base):
    """One dialog under way (migration 0012)."""

    __tablename__ = "guided_drafts"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    step: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]]
    prompt_id: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


async def guided_draft(session: AsyncSession, platform: str, user_id: str, chat_id: str) -> GuidedDraft | None:
    rows = await session.execute(
        select(GuidedDraft).where(
            GuidedDraft.platform == platform, GuidedDraft.user_id == user_id, GuidedDraft.chat_id == chat_id
        )
    )
    return rows.scalars().first()


async def drop_guided_draft(session: AsyncSession, platform: str, user_id: str, chat_id: str) -> None:
    await session.execute(
        delete(GuidedDraft).where(
            GuidedDraft.platform == platform, GuidedDraft.user_id == user_id, GuidedDraft.chat_id == chat_id
        )
    )


async def drop_guided_drafts_before(session: AsyncSession, before: datetime) -> None:
    """Forget dialogs last answered before ``before``: abandoned ones would otherwise stay for good."""
    await session.execute(delete(GuidedDraft).where(GuidedDraft.updated_at < before))


async def claim_guided_draft(
    session: AsyncSession, platform: str, user_id: str, chat_id: str, step: str, now: datetime
) -> bool:
    """Move the dialog from ``step`` to :data:`PUBLISHING`: True for the one caller that did (a row
    update, so a concurrent Publish waits for it and then finds the step changed)."""
    result = await session.execute(
        update(GuidedDraft)
        .where(
            GuidedDraft.platform == platform,
            GuidedDraft.user_id == user_id,
            GuidedDraft.chat_id == chat_id,
            GuidedDraft.step == step,
        )
        .values(step=PUBLISHING, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
