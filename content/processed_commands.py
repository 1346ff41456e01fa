"""Commands already run, keyed by the platform's own event id, so a redelivered command runs once.

Telegram redelivers an update whose webhook answer was not 2xx, and after a restart polling hands out
again what it had not confirmed; Matrix may replay a sync. A command is claimed here *before* it runs:
the first delivery to claim it runs it, every later or concurrent one is told it already ran. That
makes commands at most once: a crash between the claim and the command's effect loses the command (its
sender gets no answer and can send it again) rather than publishing a post to everyone twice.
``finished_at`` tells an operator which claims never finished.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from content.models import Base, table_of

EVENT_ID_LENGTH = 255
COMMAND_LENGTH = 64
ACTOR_LENGTH = 300
ERROR_LENGTH = 500


class ProcessedCommand(Base):
    """One command event that was claimed to run (migration 0004)."""

    __tablename__ = "processed_commands"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    command: Mapped[str] = mapped_column(String(COMMAND_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    received_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    answer_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))


def storable(text: str, limit: int) -> str:
    """``text`` as every backend stores it: no NUL, no lone surrogate, at most ``limit`` characters."""
    cleaned = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return cleaned[:limit]


def event_key(event_id: str) -> str:
    """The stored key of an event id; ids that would not be stored as given are hashed, never cut, so
    two different ids never share a key."""
    if len(event_id) <= EVENT_ID_LENGTH and storable(event_id, EVENT_ID_LENGTH) == event_id:
        return event_id
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


async def claim_command(
    session: AsyncSession, platform: str, event_id: str, command: str, actor: str, now: datetime
) -> bool:
    """Record that this command event runs now: True for the first delivery of the event, False when
    it was claimed before (a redelivery, or a concurrent delivery of the same event)."""
    table = table_of(ProcessedCommand)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(
            platform=platform,
            event_id=event_key(event_id),
            command=storable(command, COMMAND_LENGTH),
            actor=storable(actor, ACTOR_LENGTH),
            received_at=now,
        )
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    return (await session.execute(statement)).first() is not None


async def finish_command(
    session: AsyncSession, platform: str, event_id: str, now: datetime, answer_error: str | None = None
) -> None:
    """The command ran; ``answer_error`` says why its answer could not be sent, if it could not."""
    await session.execute(
        update(ProcessedCommand)
        .where(ProcessedCommand.platform == platform, ProcessedCommand.event_id == event_key(event_id))
        .values(finished_at=now, answer_error=None if answer_error is None else storable(answer_error, ERROR_LENGTH))
    )


async def processed_command(session: AsyncSession, platform: str, event_id: str) -> ProcessedCommand | None:
    rows = await session.execute(
        select(ProcessedCommand).where(
            ProcessedCommand.platform == platform, ProcessedCommand.event_id == event_key(event_id)
        )
    )
    return rows.scalars().first()
