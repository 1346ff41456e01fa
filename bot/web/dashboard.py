"""The dashboard (``/``): sign-in, the timeline with reach and engagement, one post in detail,
channels, search. Server-rendered; no script runs in the browser."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from markupsafe import Markup
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from bot.services.drafts import DraftError
from bot.services.publishing import NotFound, WrongState
from bot.services.stats import CTA_RESPONSE
from bot.web.audience import missing_csv, post_audience
from bot.web.chart import engagement_svg
from bot.web.deps import WebDeps
from bot.web.exports import responses_csv
from bot.web.forms import FormError
from bot.web.guard import Guard
from bot.web.operations import Operations
from bot.web.pages import MARK_CLOSE, MARK_OPEN, Pages
from bot.web.schemas import PostEditIn
from bot.web.security import Session
from bot.web.views import post_detail, views_with_insights
from content import analytics, posts
from content.search import search

ACTOR = "web"
CHART_DAYS = 14
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def engagement_chart(deps: WebDeps, label: str, post_id: int | None = None) -> Markup:
    today = deps.clock.now().date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    since = deps.clock.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=CHART_DAYS - 1)
    async with deps.store.sessions() as session:
        rows = await analytics.daily_responses(session, since, post_id)
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for day, kind, n in rows:
        counts[day][kind] = n
    return engagement_svg(days, counts, label)


def edit_of_form(form: Mapping[str, str], cta_kind: str | None) -> PostEditIn:
    """The edit form's fields as an API edit (validated the same way); blank fields are left as they are."""
    fields: dict[str, Any] = {}
    for name in ("title", "body"):
        if form.get(name, "").strip():
            fields[name] = form[name]
    options = [line.strip() for line in form.get("options", "").splitlines() if line.strip()]
    if options and cta_kind is not None:
        fields["call_to_action"] = {"kind": cta_kind, "options": options}
    return PostEditIn.model_validate(fields)


def dashboard_router(deps: WebDeps, operations: Operations, pages: Pages, guard: Guard) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(name: str, session: Session, status: int = 200, **context: Any) -> Response:
        health = deps.platform_health
        down = [r for r in health.reports(list(deps.adapters)) if not r.up] if health is not None else []
        return pages.render(
            name, status, csrf=session.csrf, signed_in=session.signed_in, platforms_down=down, **context
        )

    # -- timeline ----------------------------------------------------------------------------------

    @router.get("/")
    async def timeline(request: Request, created: int | None = None) -> Response:
        session = guard.page(request)
        async with deps.store.sessions() as db:
            shown = await views_with_insights(deps, db, await analytics.timeline_posts(db))
            reads = await views_with_insights(deps, db, await analytics.must_reads(db))
        chart = await engagement_chart(deps, f"Responses per day, last {CHART_DAYS} days")
        return page("index.html", session, posts=shown, must_reads=reads, chart=chart, created=created)

    # -- one post ----------------------------------------------------------------------------------

    @router.get("/posts/{post_id}")
    async def show_post(request: Request, post_id: Id) -> Response:
        session = guard.page(request)
        async with deps.store.sessions() as db:
            post = await posts.get_post(db, post_id)
            if post is None:
                return page("error.html", session, 404, message=f"there is no post #{post_id}")
            detail = await post_detail(deps, db, post)
            ((_, insight),) = await views_with_insights(deps, db, [post])
            who = await post_audience(db, post)
        chart = await engagement_chart(deps, f"Responses to #{post_id} per day", post_id)
        wanted = CTA_RESPONSE.get(post.cta_kind)
        return page("post.html", session, post=detail, insight=insight, chart=chart, cta_response=wanted, audience=who)

    @router.get("/posts/{post_id}/missing.csv")
    async def post_missing(request: Request, post_id: Id) -> Response:
        session = guard.page(request)
        async with deps.store.sessions() as db:
            post = await posts.get_post(db, post_id)
            if post is None:
                return page("error.html", session, 404, message=f"there is no post #{post_id}")
            return missing_csv(await post_audience(db, post))

    @router.get("/posts/{post_id}/responses.csv")
    async def post_responses(request: Request, post_id: Id) -> Response:
        guard.page(request)
        return responses_csv(deps, post_id, None)

    @router.post("/posts/{post_id}/edit")
    async def edit_post(request: Request, post_id: Id) -> Response:
        """The post page's edit form: title, body and (poll, rsvp) options one per line; an empty field stays."""
        _, form = await guard.form(request)
        try:
            data = edit_of_form(form, await _cta_kind(post_id))
            await operations.edit_post(post_id, data, ACTOR)
        except ValidationError as exc:
            raise FormError(422, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())) from None
        except (NotFound, WrongState) as exc:
            raise FormError(409 if isinstance(exc, WrongState) else 404, str(exc)) from None
        except DraftError as exc:  # EditRefused too: another kind, options after a vote, nothing changed
            raise FormError(422, str(exc)) from None
        return RedirectResponse(f"/posts/{post_id}", status_code=303)

    async def _cta_kind(post_id: int) -> str | None:
        async with deps.store.sessions() as db:
            post = await posts.get_post(db, post_id)
        return None if post is None else post.cta_kind

    @router.post("/posts/{post_id}/{action}")
    async def act_on_post(request: Request, post_id: Id, action: str) -> Response:
        _, form = await guard.form(request)
        try:
            if action == "approve":
                await operations.approve(post_id, ACTOR)
            elif action == "reject":
                await operations.reject(post_id, ACTOR, form.get("reason", "").strip()[:1000])
            elif action == "retract":
                await operations.retract(post_id, ACTOR)
            else:
                raise FormError(404, f"unknown action {action!r}")
        except (NotFound, WrongState, DraftError) as exc:
            raise FormError(409 if isinstance(exc, WrongState) else 404, str(exc)) from None
        # The timeline's approve/reject forms return to the timeline, at the post's row; the rest to the post.
        back = f"/#post-{post_id}" if form.get("back") == "timeline" else f"/posts/{post_id}"
        return RedirectResponse(back, status_code=303)

    # -- channels ----------------------------------------------------------------------------------

    @router.get("/channels")
    async def channels(request: Request) -> Response:
        session = guard.page(request)
        async with deps.store.sessions() as db:
            found = await posts.all_channels(db)
        return page("channels.html", session, channels=found)

    @router.post("/channels/{channel_id}/{action}")
    async def switch_channel(request: Request, channel_id: Id, action: str) -> Response:
        _, form = await guard.form(request)
        if action not in ("enable", "disable"):
            raise FormError(404, f"unknown action {action!r}")
        try:
            await operations.set_channel(channel_id, action == "enable", ACTOR, form.get("reason", "").strip()[:500])
        except NotFound as exc:
            raise FormError(404, str(exc)) from None
        return RedirectResponse("/channels", status_code=303)

    # -- search ------------------------------------------------------------------------------------

    @router.get("/search")
    async def search_page(request: Request, q: str = "") -> Response:
        session = guard.page(request)
        query = q.replace("\x00", "")[:200]
        hits = []
        if query.strip():
            async with deps.store.sessions() as db:
                hits = await search(db, query, limit=30, marks=(MARK_OPEN, MARK_CLOSE))
        return page("search.html", session, q=query, hits=hits)

    return router
