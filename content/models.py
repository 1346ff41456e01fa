"""ORM models of the content store. Every change here needs an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from content.reminder_states import ReminderKind as ReminderKind
from content.reminder_states import ReminderState as ReminderState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed (``__table__`` is typed as a generic FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class PostKind(StrEnum):
    NEWS = "news"
    STATUS = "status"
    AGENDA = "agenda"
    KB = "kb"


FEED_KINDS = frozenset({PostKind.NEWS, PostKind.STATUS})


class PostState(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    RETRACTED = "retracted"
    EXPIRED = "expired"
    REJECTED = "rejected"


class CtaKind(StrEnum):
    NONE = "none"
    LIKE = "like"
    ACKNOWLEDGE = "acknowledge"
    RSVP = "rsvp"
    POLL = "poll"
    REPLY = "reply"
    LINK = "link"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    RETRACTED = "retracted"


class ResponseKind(StrEnum):
    LIKE = "like"
    ACK = "ack"
    RSVP = "rsvp"
    VOTE = "vote"
    REPLY = "reply"
    CLICK = "click"


# One of these per person and post; the latest RSVP or vote replaces the earlier one.
SINGLE_KINDS = frozenset({ResponseKind.LIKE, ResponseKind.ACK, ResponseKind.RSVP, ResponseKind.VOTE})


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    department: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))  # "nl", "en", … (from the directory)
    # Personal quiet hours for private messages, "HH:MM" local time; None means none.
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    optout_reminders: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    optout_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime]


class Identity(Base):
    """A messenger account. Each belongs to an employee (created on first sight if unlinked)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"), index=True)
    # The private chat with the bot, where one exists (Telegram after /start, Matrix DM room).
    private_chat_id: Mapped[str | None] = mapped_column(String(255))
    # How this account came to belong to its employee (LinkedHow); None: an employee of its own, unlinked.
    linked_how: Mapped[str | None] = mapped_column(String(20))
    linked_at: Mapped[datetime | None]


class LinkedHow(StrEnum):
    DIRECTORY = "directory"
    WORKSPACE_EMAIL = "workspace_email"
    SSO = "sso"


class LinkToken(Base):
    """A one-time ``/link`` link (only its SHA-256 is stored), bound to one messenger account; once
    opened it also holds that sign-in's OpenID Connect state, nonce and PKCE verifier."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    state: Mapped[str | None] = mapped_column(String(64), unique=True)
    nonce: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(String(128))


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    member_count: Mapped[int | None] = mapped_column(Integer)
    # True where the platform cannot list members (Telegram): memberships hold only the people seen.
    members_partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    members_synced_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(8), default="group", server_default=text("'group'"))  # or "direct":
    identity_id: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)  # whose (content/direct.py)


class MembershipSource(StrEnum):
    LIST = "list"  # the platform's member list (Slack conversations.members, Matrix joined members)
    EVENT = "event"  # a join or leave event
    SEEN = "seen"  # the person acted in the chat (a message, a press, a reaction)


class Membership(Base):
    """One period of an identity's membership of a channel (``left_at`` None while it lasts); a rejoin is a 2nd."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_channel_period", "channel_id", "joined_at", "left_at"),
        Index(
            "uq_memberships_open",
            "channel_id",
            "identity_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(8))


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=PostKind.NEWS)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    cta_kind: Mapped[str] = mapped_column(String(16), default=CtaKind.NONE)
    cta_options: Mapped[list[str]] = mapped_column(JSON, default=list)
    cta_url: Mapped[str | None] = mapped_column(Text)
    cta_deadline: Mapped[datetime | None]
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default=PostState.DRAFT, index=True)
    publish_at: Mapped[datetime | None] = mapped_column(index=True)
    published_at: Mapped[datetime | None]
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    direct: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # to people
    paid_broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # Telegram
    # Raised by every edit of a published post; each delivery records the revision its message shows (0010).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"), index=True)
    author: Mapped[str | None] = mapped_column(String(300))  # "platform:user_id" or "cli", "api"
    reject_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    source_key: Mapped[str | None] = mapped_column(String(500), unique=True)
    click_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """The outbox: one row per (post, channel)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_message", "channel_id", "platform_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))  # denormalized: workers claim per platform
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    platform_message_id: Mapped[str | None] = mapped_column(String(255))
    # Extra message ids when a long post was split into several messages (JSON list).
    extra_message_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    shown_revision: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # of posts.revision
    # The edit worker's claim on a copy behind its post's revision, and its backoff after a 429 or an outage.
    edit_after: Mapped[datetime | None]


class Response(Base):
    __tablename__ = "responses"
    __table_args__ = (
        # One like/ack/rsvp/vote per identity and post; replies and clicks may repeat.
        Index(
            "uq_responses_single",
            "post_id",
            "identity_id",
            "kind",
            unique=True,
            sqlite_where=text("kind IN ('like','ack','rsvp','vote')"),
            postgresql_where=text("kind IN ('like','ack','rsvp','vote')"),
        ),
        Index("ix_responses_post_kind", "post_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class ProcessedEvent(Base):
    """Inbound platform event ids already handled: a retry or replay is recognised here."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(50))
    post_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AdapterState(Base):
    """Small durable key/value state of adapters (Matrix next_batch, tokens obtained by login)."""

    __tablename__ = "adapter_state"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateSlot(Base):
    """A rate limit all instances share, as a generic cell rate and a 429's pause (content/rate_slots.py)."""

    __tablename__ = "rate_slots"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)


class RateLease(Base):
    """A place of a shared "n per period" limit, free a period after its send (content/rate_slots.py)."""

    __tablename__ = "rate_leases"

    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    place: Mapped[int] = mapped_column(Integer, primary_key=True)
    free_at: Mapped[float] = mapped_column(Float, default=0.0)


class Reminder(Base):
    """Private reminders and deadline summaries, recorded before they are sent so that a restart or a
    second instance never sends one twice. ``key`` is ``round:{post}``, ``reminder:{post}:{employee}``
    or ``summary:{post}``."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_post_state_due", "post_id", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class SchedulerJob(Base):
    """APScheduler's job table (its SQLAlchemyJobStore layout), declared here so the migrations own it.
    Only APScheduler reads and writes it: pickled jobs that name a job function and ids, never objects."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(index=True)
    job_state: Mapped[bytes]
