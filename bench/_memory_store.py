"""The store ``bench/memory.py`` measures an instance on: a fresh database per measurement, seeded with
bulk SQLAlchemy Core inserts into the model tables before the instance starts.

Per shape: Telegram groups (the same rows ``prepare_store`` makes from the config ``write_config`` writes:
``groep-<i>``, tag ``everyone``), employees with one Telegram identity each, each a member of 1–5 groups,
published posts (must-read, like, poll, RSVP, plain news in turn) with one ``sent`` delivery per group,
and responses from a share of the people per post (none on plain news).
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import Backend
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from content.db import Store, async_url, create_store
from content.migrate import upgrade
from content.models import (
    Channel,
    CtaKind,
    Delivery,
    DeliveryState,
    Employee,
    Identity,
    Membership,
    MembershipSource,
    Post,
    PostKind,
    PostState,
    Response,
    table_of,
)

FIRST_GROUP = -1009000000000
FIRST_PERSON = 5_000_000
CTAS = (CtaKind.ACKNOWLEDGE, CtaKind.LIKE, CtaKind.POLL, CtaKind.RSVP, CtaKind.NONE)
ANSWER = {CtaKind.ACKNOWLEDGE: ("ack", None), CtaKind.LIKE: ("like", None), CtaKind.RSVP: ("rsvp", "yes")}
TABLES = ("employees", "identities", "channels", "memberships", "posts", "deliveries", "responses")


@dataclass(frozen=True)
class Shape:
    name: str
    channels: int
    people: int
    posts: int


@contextlib.asynccontextmanager
async def database(backend: Backend, directory: Path) -> AsyncIterator[str]:
    """A database URL for one measurement: a new SQLite file, or a new PostgreSQL database (dropped after)."""
    if backend.name == "sqlite":
        yield f"sqlite:///{directory / 'prikbord.db'}"
        return
    assert backend.url is not None
    name = f"memory_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(async_url(backend.url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(backend.url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def group_chat(i: int) -> int:
    return FIRST_GROUP - i


def rows_of(shape: Shape, rng: random.Random, responded: float) -> dict[str, list[dict[str, Any]]]:
    """Every row to insert, by table; ids from 1, delivery of post p to group c is (p − 1) × groups + c."""
    now = datetime.now(UTC).replace(microsecond=0)
    long_ago = now - timedelta(days=90)
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    for c in range(1, shape.channels + 1):
        chat = str(group_chat(c - 1))
        rows["channels"].append({"id": c, "name": f"groep-{c - 1}", "platform": "telegram", "chat_id": chat})
        rows["channels"][-1] |= {"tags": ["everyone"], "enabled": True, "members_partial": True}
    groups_of: dict[int, list[int]] = {}
    for e in range(1, shape.people + 1):
        rows["employees"].append(
            {"id": e, "name": f"Medewerker {e}", "email": f"p{e}@example.org", "department": f"Afdeling {e % 40}"}
        )
        rows["employees"][-1] |= {"location": f"Vestiging {e % 25}", "language": "nl", "created_at": long_ago}
        user = str(FIRST_PERSON + e)
        rows["identities"].append(
            {"id": e, "platform": "telegram", "platform_user_id": user, "display_name": f"m{e}", "employee_id": e}
        )
        groups_of[e] = rng.sample(range(1, shape.channels + 1), k=min(shape.channels, rng.randint(1, 5)))
        for c in groups_of[e]:
            source = rng.choice((MembershipSource.SEEN, MembershipSource.EVENT)).value
            joined = long_ago + timedelta(minutes=rng.randint(0, 60_000))
            rows["memberships"].append(
                {"channel_id": c, "identity_id": e, "joined_at": joined, "left_at": None, "source": source}
            )
    for p in range(1, shape.posts + 1):
        cta = CTAS[(p - 1) % len(CTAS)]
        published = now - timedelta(days=30) + timedelta(hours=7 * p)
        rows["posts"].append(
            {
                "id": p,
                "kind": PostKind.NEWS.value,
                "title": f"Bericht {p}: nieuws van de organisatie",
                "body": "Een bericht voor iedereen, met wat tekst. " * 8,
                "cta_kind": cta.value,
                "cta_options": ["Ja", "Nee", "Misschien"] if cta is CtaKind.POLL else [],
                "audience": ["everyone"],
                "state": PostState.PUBLISHED.value,
                "published_at": published,
                "created_at": published,
                "updated_at": published,
            }
        )
        for c in range(1, shape.channels + 1):
            rows["deliveries"].append(
                {
                    "id": (p - 1) * shape.channels + c,
                    "post_id": p,
                    "channel_id": c,
                    "platform": "telegram",
                    "state": DeliveryState.SENT.value,
                    "attempts": 1,
                    "next_attempt_at": published,
                    "platform_message_id": str(p),
                    "extra_message_ids": [],
                    "sent_at": published + timedelta(seconds=c / 30),
                }
            )
        kind, value = ANSWER.get(cta, ("vote", None))
        if cta is CtaKind.NONE:
            continue
        for e in rng.sample(range(1, shape.people + 1), k=round(responded * shape.people)):
            c = rng.choice(groups_of[e])
            rows["responses"].append(
                {
                    "post_id": p,
                    "identity_id": e,
                    "employee_id": e,
                    "kind": kind,
                    "value": value if cta is not CtaKind.POLL else rng.choice(("Ja", "Nee", "Misschien")),
                    "platform": "telegram",
                    "delivery_id": (p - 1) * shape.channels + c,
                    "created_at": published + timedelta(minutes=rng.randint(1, 3000)),
                }
            )
    return rows


async def seed(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Migrate, then insert everything in one transaction (chunks of 5,000 rows)."""
    store = create_store(url)
    models = {t.name: t for t in map(table_of, (Employee, Identity, Channel, Membership, Post, Delivery, Response))}
    try:
        await upgrade(store)
        async with store.engine.begin() as connection:
            for name in TABLES:
                for start in range(0, len(rows[name]), 5000):
                    await connection.execute(insert(models[name]), rows[name][start : start + 5000])
            if store.is_postgres:
                for name in TABLES:  # explicit ids: move each sequence past them
                    seq = f"pg_get_serial_sequence('{name}', 'id')"
                    await connection.execute(
                        text(f"SELECT setval({seq}, (SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)")
                    )
                await connection.execute(text(f"ANALYZE {', '.join(TABLES)}"))
    finally:
        await store.close()


async def synced_channels(store: Store) -> int:
    async with store.sessions() as session:
        return int(await session.scalar(select(func.count()).where(Channel.members_synced_at.is_not(None))) or 0)
