"""Who a post reached and who has not done what it asks, for the API, the post page and their CSV:
the reach (exact, or an estimate with the part known by name), the people missing, and completion
per department and location. Personal data: only behind the admin token or a signed-in session."""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bot.i18n import SOURCE
from bot.services.direct_audience import reason_words
from bot.services.stats import MISSABLE
from bot.web.exports import cell
from content import audience, direct
from content.models import Post

MISSING_COLUMNS = ("employee_id", "name", "email", "department", "location", "platforms")


class ReachOut(BaseModel):
    value: int = Field(description="distinct people reached (a linked person once across platforms)")
    estimate: bool = Field(description="true when a partial channel's member count (Telegram) stands in")
    known: int = Field(description="the people reached known by name")


class PersonOut(BaseModel):
    employee_id: int
    name: str
    email: str | None
    department: str | None
    location: str | None
    platforms: list[str] = Field(description="where the post reached them")


class SegmentOut(BaseModel):
    value: str = Field(description=f"the directory's value, or {audience.UNKNOWN_SEGMENT!r} for people without one")
    reached: int
    engaged: int = Field(description="responded in any way")
    completed: int | None = Field(description="did what the call to action asks; null without one")
    completion_rate: float | None


class UnreachableOut(BaseModel):
    employee_id: int
    name: str
    platform: str | None = Field(description="where a private copy was tried and failed; null: none was possible")
    reason: str


class AudienceOut(BaseModel):
    post_id: int
    reach: ReachOut
    done: str | None = Field(description="the response that completes the post (ack, rsvp, vote); null: none")
    missing: list[PersonOut] | None = Field(
        description="the people reached (known by name) who have not done it, by name; null when nothing can be missed"
    )
    segments: dict[str, list[SegmentOut]] = Field(
        description="per department and location, over the people reached known by name, largest first"
    )
    unreachable: list[UnreachableOut] = Field(
        default_factory=list,
        description="a post to people (a segment, or direct): who got no private copy, with the reason",
    )


def _person(person: audience.ReachedPerson) -> PersonOut:
    return PersonOut(
        employee_id=person.employee_id,
        name=person.name,
        email=person.email,
        department=person.department,
        location=person.location,
        platforms=list(person.platforms),
    )


async def post_audience(session: AsyncSession, post: Post) -> AudienceOut:
    reach = (await audience.reach_of(session, [post.id]))[post.id]
    done = MISSABLE.get(post.cta_kind)
    people = await audience.reached_people(session, post.id)
    engaged = await audience.responders(session, post.id)
    completed = await audience.responders(session, post.id, [done]) if done else None
    missing = None if completed is None else [_person(p) for p in people if p.employee_id not in completed]
    segments = {
        attribute: [
            SegmentOut(
                value=s.value,
                reached=s.reached,
                engaged=s.engaged,
                completed=s.completed,
                completion_rate=round(s.completed / s.reached, 4) if s.completed is not None and s.reached else None,
            )
            for s in found
        ]
        for attribute, found in audience.segments(people, engaged, completed).items()
    }
    return AudienceOut(
        post_id=post.id,
        reach=ReachOut(value=reach.value, estimate=reach.estimate, known=reach.known),
        done=done,
        missing=missing,
        segments=segments,
        unreachable=[
            UnreachableOut(
                employee_id=u.employee_id,
                name=u.name,
                platform=u.platform,
                reason=SOURCE.render(reason_words(u.reason)),  # the API and the dashboard speak English
            )
            for u in await direct.unreachable(session, post.id)
        ],
    )


def missing_csv(view: AudienceOut) -> Response:
    """The people missing as CSV (one row per person; platforms joined with ``;``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MISSING_COLUMNS)
    for person in view.missing or []:
        row = person.model_dump()
        row["platforms"] = ";".join(person.platforms)
        writer.writerow([cell(row[column]) for column in MISSING_COLUMNS])
    name = f"missing-post-{view.post_id}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
