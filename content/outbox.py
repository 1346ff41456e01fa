"""The outbox: deliveries written with the post, claimed by workers, marked after the send.

Claims are atomic: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on SQLite one
``UPDATE … RETURNING`` inside a ``BEGIN IMMEDIATE`` transaction (one writer at a time), so two
workers never hold the same delivery.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.chats import TOPIC_SEPARATOR, whole_chat_id
from content.db import Store
from content.models import Channel, Delivery, DeliveryState, UTCDateTime, table_of


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    post_id: int
    channel_id: int
    chat_id: str
    attempts: int
    platform_message_id: str | None


def add_deliveries(
    session: AsyncSession, post_id: int, channels: Iterable[Channel], now: datetime, revision: int = 0
) -> int:
    """Queue one delivery per channel (in the caller's transaction). Returns how many. ``revision``: the
    post's (edited before it was published): the copies are composed from that text."""
    rows = [
        Delivery(
            post_id=post_id,
            channel_id=c.id,
            platform=c.platform,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            extra_message_ids=[],
            shown_revision=revision,
        )
        for c in channels
    ]
    session.add_all(rows)
    return len(rows)


_CLAIM_SQLITE = text(
    """
    UPDATE deliveries
       SET state = 'sending', claimed_by = :me, lease_until = :lease, attempts = attempts + 1
     WHERE id IN (SELECT id FROM deliveries
                   WHERE platform = :platform AND state = 'pending' AND next_attempt_at <= :now
                   ORDER BY next_attempt_at, id LIMIT :n)
    RETURNING id, post_id, channel_id, attempts, platform_message_id
    """
).bindparams(bindparam("lease", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))

_CLAIM_POSTGRES = text(
    """
    UPDATE deliveries AS d
       SET state = 'sending', claimed_by = :me, lease_until = :lease, attempts = d.attempts + 1
      FROM (SELECT id FROM deliveries
             WHERE platform = :platform AND state = 'pending' AND next_attempt_at <= :now
             ORDER BY next_attempt_at, id LIMIT :n
             FOR UPDATE SKIP LOCKED) AS due
     WHERE d.id = due.id
    RETURNING d.id, d.post_id, d.channel_id, d.attempts, d.platform_message_id
    """
).bindparams(bindparam("lease", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))


async def claim_due(
    store: Store, platform: str, instance: str, limit: int, now: datetime, lease: timedelta
) -> list[ClaimedDelivery]:
    statement = _CLAIM_POSTGRES if store.is_postgres else _CLAIM_SQLITE
    params = {
        "me": instance,
        "lease": now + lease,
        "platform": platform,
        "now": now,
        "n": limit,
    }
    async with store.transaction() as session:
        rows = (await session.execute(statement, params)).all()
        if not rows:
            return []
        chats = dict(
            (
                await session.execute(
                    select(Channel.id, Channel.chat_id).where(Channel.id.in_({r.channel_id for r in rows}))
                )
            ).all()
        )
    return sorted(
        (
            ClaimedDelivery(r.id, r.post_id, r.channel_id, chats[r.channel_id], r.attempts, r.platform_message_id)
            for r in rows
        ),
        key=lambda d: d.id,
    )


@dataclass(frozen=True, slots=True)
class SendOutcome:
    delivery_id: int
    state: DeliveryState
    message_id: str | None = None
    extra_message_ids: tuple[str, ...] = ()
    error: str | None = None
    retry_at: datetime | None = None
    # Do not count this try against the delivery (a 429 is the platform pacing us, not a failure).
    refund_attempt: bool = False
    # The chat itself is gone or rejected the bot: no later post can reach it either.
    disable_channel: bool = False


async def record_outcomes(store: Store, outcomes: Sequence[SendOutcome], instance: str, now: datetime) -> None:
    """Write the results of a batch of sends in one transaction (executemany per kind)."""
    if not outcomes:
        return
    sent = [o for o in outcomes if o.state == DeliveryState.SENT]
    retry = [o for o in outcomes if o.state == DeliveryState.PENDING]
    failed = [o for o in outcomes if o.state == DeliveryState.FAILED]
    table = table_of(Delivery)
    async with store.transaction() as session:
        if sent:
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.claimed_by == instance)
                .values(
                    state=DeliveryState.SENT,
                    platform_message_id=bindparam("b_message"),
                    extra_message_ids=bindparam("b_extra"),
                    sent_at=now,
                    lease_until=None,
                    last_error=None,
                ),
                [
                    {"b_id": o.delivery_id, "b_message": o.message_id, "b_extra": list(o.extra_message_ids)}
                    for o in sent
                ],
            )
        if retry:
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.claimed_by == instance)
                .values(
                    state=DeliveryState.PENDING,
                    next_attempt_at=bindparam("b_at"),
                    last_error=bindparam("b_error"),
                    lease_until=None,
                    attempts=table.c.attempts - bindparam("b_refund"),
                ),
                [
                    {
                        "b_id": o.delivery_id,
                        "b_at": o.retry_at or now,
                        "b_error": o.error,
                        "b_refund": 1 if o.refund_attempt else 0,
                    }
                    for o in retry
                ],
            )
        if failed:
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.claimed_by == instance)
                .values(state=DeliveryState.FAILED, last_error=bindparam("b_error"), lease_until=None),
                [{"b_id": o.delivery_id, "b_error": o.error} for o in failed],
            )


async def renew_leases(store: Store, instance: str, until: datetime, delivery_ids: Collection[int]) -> int:
    """Extend the lease of the deliveries ``instance`` is sending now (``delivery_ids``, still in
    ``sending`` and claimed by it); returns how many. Only those: a claim the instance dropped (its batch
    failed before the sends started, the database gone mid-claim) must run out and be swept, not be kept
    alive for as long as the process lives. A delivery another instance reclaimed stays as it is."""
    ids = sorted(delivery_ids)
    renewed = 0
    async with store.transaction() as session:
        for start in range(0, len(ids), _RENEW_CHUNK):
            result = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(ids[start : start + _RENEW_CHUNK]),
                    Delivery.state == DeliveryState.SENDING,
                    Delivery.claimed_by == instance,
                )
                .values(lease_until=until)
            )
            renewed += int(getattr(result, "rowcount", 0) or 0)
    return renewed


_RENEW_CHUNK = 500  # ids per UPDATE: well inside SQLite's and asyncpg's parameter limits


@dataclass(frozen=True, slots=True)
class StaleClaim:
    """A delivery left in ``sending`` by a process whose lease ran out, and where it was going."""

    delivery_id: int
    platform: str
    chat_id: str


async def stale_claims(session: AsyncSession, now: datetime, limit: int = 1000) -> list[StaleClaim]:
    """Deliveries in ``sending`` whose lease ran out (their process died or hung), oldest lease first."""
    rows = await session.execute(
        select(Delivery.id, Delivery.platform, Channel.chat_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.lease_until < now)
        .order_by(Delivery.lease_until, Delivery.id)
        .limit(limit)
    )
    return [StaleClaim(r.id, r.platform, r.chat_id) for r in rows.all()]


async def settle_stale(store: Store, found: dict[int, str | None], now: datetime) -> int:
    """Close stale claims: a delivery found on the platform (``found[id]`` = its message id) is ``sent``,
    any other is due again at once. Only rows still stale change, so two instances reconciling at once
    cannot undo each other's work. Returns how many changed."""
    if not found:
        return 0
    changed = 0
    stale = (Delivery.state == DeliveryState.SENDING) & (Delivery.lease_until < now)
    sent = {d: m for d, m in found.items() if m is not None}
    again = [d for d, m in found.items() if m is None]
    async with store.transaction() as session:
        for delivery_id, message_id in sent.items():
            result = await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, stale)
                .values(state=DeliveryState.SENT, platform_message_id=message_id, sent_at=now, lease_until=None)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
        if again:
            result = await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(again), stale)
                .values(state=DeliveryState.PENDING, next_attempt_at=now, lease_until=None)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
    return changed


async def fail_pending_for_channel(session: AsyncSession, channel_id: int, reason: str) -> int:
    result = await session.execute(
        update(Delivery)
        .where(Delivery.channel_id == channel_id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.FAILED, last_error=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def outstanding(session: AsyncSession, platforms: Sequence[str]) -> int:
    """Deliveries still to send on these platforms (pending or in flight)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.platform.in_(platforms),
                Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENDING)),
            )
        )
        or 0
    )


async def sending_count(session: AsyncSession, platforms: Sequence[str]) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.platform.in_(platforms), Delivery.state == DeliveryState.SENDING)
        )
        or 0
    )


async def next_due_at(session: AsyncSession, platform: str) -> datetime | None:
    return await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.platform == platform, Delivery.state == DeliveryState.PENDING
        )
    )


async def deliveries_for_messages(
    session: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str, int, int]]:
    """(platform, whole chat id, message id, delivery id, post id) of the sent messages among ``keys``
    (platform, chat id, message id), oldest delivery first, so a later copy wins where ids repeat. A message is
    found by its whole chat (content/chats.py): a key from a topic, or from no topic, finds a copy sent to any
    topic of that chat."""
    if not keys:
        return []
    wanted = {(p, whole_chat_id(c), m) for p, c, m in keys}
    # The channels on topics (few; "/" is in no other chat id), so each key also asks for its chat's topics.
    topics: dict[tuple[str, str], list[str]] = {}
    for platform, chat_id in await session.execute(
        select(Channel.platform, Channel.chat_id).where(Channel.chat_id.like(f"%{TOPIC_SEPARATOR}%"))
    ):
        topics.setdefault((platform, whole_chat_id(chat_id)), []).append(chat_id)
    asked = wanted | {(p, t, m) for p, c, m in wanted for t in topics.get((p, c), ())}
    rows = await session.execute(
        select(Channel.platform, Channel.chat_id, Delivery.platform_message_id, Delivery.id, Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(tuple_(Channel.platform, Channel.chat_id, Delivery.platform_message_id).in_(list(asked)))
        .order_by(Delivery.id)
    )
    return [(p, whole_chat_id(c), m, d, post) for p, c, m, d, post in rows.all() if m is not None]
