"""Linking messenger accounts to employees (by the directory, a workspace email or single sign-on),
one count per person when that happens, and the one-time ``/link`` links."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from content.models import SINGLE_KINDS, Employee, Identity, LinkedHow, LinkToken, Response
from content.people import storable_name


@dataclass(frozen=True, slots=True)
class AccountChange:
    linked: bool  # the account is now linked where it was not (or was linked to someone else)
    moved: bool  # it belonged to another employee before: caches keyed by it are stale


async def find_account(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    rows = await session.execute(
        select(Identity).where(Identity.platform == platform, Identity.platform_user_id == user_id)
    )
    return rows.scalars().first()


async def attach_account(
    session: AsyncSession,
    platform: str,
    user_id: str,
    display_name: str,
    employee_id: int,
    how: LinkedHow,
    now: datetime,
) -> AccountChange:
    """Link one account to an employee. An account that acted before brings its responses along,
    merged with the employee's own: one like and one acknowledgement per post, the latest RSVP or vote."""
    identity = await find_account(session, platform, user_id)
    if identity is None:
        session.add(
            Identity(
                platform=platform,
                platform_user_id=user_id,
                display_name=storable_name(display_name),
                employee_id=employee_id,
                linked_how=how,
                linked_at=now,
            )
        )
        await session.flush()
        return AccountChange(linked=True, moved=False)
    if identity.employee_id == employee_id:
        if identity.linked_how is None:  # its own employee, adopted by the directory: linked now
            identity.linked_how, identity.linked_at = how, now
        return AccountChange(linked=False, moved=False)
    await _move(session, identity, employee_id)
    identity.linked_how, identity.linked_at = how, now
    await merge_responses(session, employee_id)
    return AccountChange(linked=True, moved=True)


async def _move(session: AsyncSession, identity: Identity, employee_id: int) -> None:
    """Move an account, and the responses it gave, to another employee. The employee it leaves stays:
    a running process may still hold its id, and a response naming it must not fail."""
    identity.employee_id = employee_id
    await session.execute(update(Response).where(Response.identity_id == identity.id).values(employee_id=employee_id))
    await session.flush()


async def merge_responses(session: AsyncSession, employee_id: int) -> int:
    """One like/ack/RSVP/vote per post for this employee: the latest of each stays, the others go.
    Returns how many went."""
    rows = await session.execute(
        select(Response.id, Response.post_id, Response.kind)
        .where(Response.employee_id == employee_id, Response.kind.in_([k.value for k in SINGLE_KINDS]))
        .order_by(Response.created_at.desc(), Response.id.desc())
    )
    seen: set[tuple[int, str]] = set()
    extra: list[int] = []
    for response_id, post_id, kind in rows.all():
        if (post_id, kind) in seen:
            extra.append(response_id)
        else:
            seen.add((post_id, kind))
    if extra:
        await session.execute(delete(Response).where(Response.id.in_(extra)))
    return len(extra)


async def detach_account(session: AsyncSession, platform: str, user_id: str, now: datetime) -> bool:
    """Undo a link: the account becomes a person of its own again and takes its own responses along.
    False when it was not linked."""
    identity = await find_account(session, platform, user_id)
    if identity is None or identity.linked_how is None:
        return False
    own = Employee(name=identity.display_name or storable_name(f"{platform}:{user_id}"), created_at=now)
    session.add(own)
    await session.flush()
    await _move(session, identity, own.id)
    identity.linked_how, identity.linked_at = None, None
    return True


async def accounts_of(session: AsyncSession, employee_id: int) -> list[Identity]:
    rows = await session.execute(
        select(Identity).where(Identity.employee_id == employee_id).order_by(Identity.platform, Identity.id)
    )
    return list(rows.scalars())


async def employee_by_email(session: AsyncSession, email: str) -> Employee | None:
    rows = await session.execute(select(Employee).where(Employee.email == email.strip().lower()))
    return rows.scalars().first()


# -- one-time links ------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


async def issue_link_token(
    session: AsyncSession, platform: str, user_id: str, display_name: str, now: datetime, lifetime: timedelta
) -> str:
    """A new random one-time token for this account; only its hash is stored."""
    raw = secrets.token_urlsafe(32)
    session.add(
        LinkToken(
            token_hash=_digest(raw),
            platform=platform,
            platform_user_id=user_id,
            display_name=storable_name(display_name),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return raw


async def link_token(session: AsyncSession, raw: str) -> LinkToken | None:
    rows = await session.execute(select(LinkToken).where(LinkToken.token_hash == _digest(raw)))
    return rows.scalars().first()


async def link_token_for_state(session: AsyncSession, state: str) -> LinkToken | None:
    rows = await session.execute(select(LinkToken).where(LinkToken.state == state))
    return rows.scalars().first()


async def purge_link_tokens(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(LinkToken).where(LinkToken.expires_at < before))
