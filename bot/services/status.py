"""Status posts: live data gathered from named sources, rendered in the sandbox, posted once per firing.

A firing's post carries ``source = "status"`` and ``source_key = "status:{name}:{firing, UTC ISO}"``,
unique in the store, so one cron firing gives at most one post, whichever instance runs it and however
often. A failing source never drops the post silently: ``on_error = "post"`` renders its value as
"unavailable", ``"skip"`` posts nothing; either way the moderators are told what failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.config import SourceConfig, StatusPostConfig
from bot.services.drafts import CallToAction, DraftError, PostDraft
from bot.services.publishing import PublishingService, Tell
from bot.services.roles import Role
from content import posts
from content.db import Store
from content.models import CtaKind, PostKind
from scheduler.ports import StatusSchedule

if TYPE_CHECKING:
    import httpx

    from scheduler.sources import Source

log = logging.getLogger("prikbord.status")


class UnknownStatusPost(LookupError):
    pass


@dataclass(frozen=True)
class StatusOutcome:
    name: str
    fire_time: datetime
    state: str  # rendered | posted | already | skipped | failed
    title: str = ""
    body: str = ""
    failures: dict[str, str] = field(default_factory=dict)
    post_id: int | None = None
    error: str | None = None


def status_key(name: str, fire_time: datetime) -> str:
    return f"status:{name}:{fire_time.astimezone(UTC).isoformat()}"


def to_source(config: SourceConfig) -> Source:
    from scheduler.sources import CsvSource, HttpJsonSource, StaticSource

    if config.type == "static":
        return StaticSource(config.value)
    if config.type == "csv":
        return CsvSource(
            file=config.file,
            url=config.url,
            op=config.op,
            column=config.column,
            where=dict(config.where),
            delimiter=config.delimiter,
            timeout=config.timeout,
            retries=config.retries,
        )
    assert config.url is not None  # the config demands it
    return HttpJsonSource(config.url, config.path, dict(config.headers), config.timeout, config.retries)


class StatusPostService:
    def __init__(
        self,
        configs: Sequence[StatusPostConfig],
        store: Store,
        publishing: PublishingService,
        tell: Tell,
        clock: Clock,
        default_zone: str,
        *,
        http: httpx.AsyncClient | None = None,
        env: Mapping[str, str] | None = None,
        retry_wait: float = 0.5,
    ) -> None:
        self._configs = {c.name: c for c in configs}
        self._store = store
        self._publishing = publishing
        self._tell = tell
        self._clock = clock
        self._default_zone = default_zone
        self._http = http
        self._env = env
        self._retry_wait = retry_wait

    @property
    def names(self) -> list[str]:
        return list(self._configs)

    def config(self, name: str) -> StatusPostConfig:
        try:
            return self._configs[name]
        except KeyError:
            known = ", ".join(self._configs) or "none are configured"
            raise UnknownStatusPost(f"there is no status post {name!r} (configured: {known})") from None

    def schedules(self) -> list[StatusSchedule]:
        return [
            StatusSchedule(
                c.name, c.cron, c.timezone or self._default_zone, max(1, int(c.misfire_grace.total_seconds()))
            )
            for c in self._configs.values()
        ]

    async def posted(self, name: str, fire_time: datetime) -> bool:
        key = status_key(name, fire_time)
        async with self._store.sessions() as session:
            return await posts.source_key_taken(session, key)

    # -- rendering ----------------------------------------------------------------------------

    async def render(self, name: str, fire_time: datetime) -> StatusOutcome:
        """Fetch the live values and render the post; nothing is stored or sent."""
        # httpx, tenacity and Jinja2 load at the first rendering, not with every CLI command.
        import httpx

        from scheduler.sources import SourceFetcher
        from scheduler.template import TemplateFailure, Unavailable, render

        config = self.config(name)
        local = fire_time.astimezone(ZoneInfo(config.timezone or self._default_zone))
        sources = {n: to_source(c) for n, c in config.sources.items()}
        if self._http is not None:
            values, failures = await SourceFetcher(self._http, self._env, self._retry_wait).gather(sources)
        else:
            async with httpx.AsyncClient(follow_redirects=True) as client:
                values, failures = await SourceFetcher(client, self._env, self._retry_wait).gather(sources)
        context: dict[str, Any] = {**values, **{n: Unavailable(n) for n in failures}}
        context.update(now=local, today=local.date(), name=name, failed=sorted(failures))
        outcome = StatusOutcome(name, fire_time, "rendered", failures=failures)
        try:
            text = render(config.template, context).strip()
            title = render(config.title, context).strip() if config.title else None
        except TemplateFailure as exc:
            return replace(outcome, state="failed", error=str(exc))
        if title is None:
            first, _, rest = text.partition("\n")
            title, body = first.strip(), rest.strip()
        else:
            body = text
        if not title:
            return replace(outcome, state="failed", error="the template rendered an empty title")
        return replace(outcome, title=title, body=body)

    # -- posting ------------------------------------------------------------------------------

    async def run(self, name: str, fire_time: datetime) -> StatusOutcome:
        """The post of one firing: rendered and published, at most once per (name, firing)."""
        config = self.config(name)
        when = fire_time.astimezone(ZoneInfo(config.timezone or self._default_zone)).strftime("%a %d %b %H:%M")
        label = f"status post {name} of {when}"
        if await self.posted(name, fire_time):
            return StatusOutcome(name, fire_time, "already")
        outcome = await self.render(name, fire_time)
        if outcome.state == "failed":
            await self._tell(f"{label} was not posted: {outcome.error}")
            return outcome
        failed = "; ".join(f"source {n}: {why}" for n, why in outcome.failures.items())
        if outcome.failures and config.on_error == "skip":
            await self._tell(f"{label} was skipped (on_error = skip) because {failed}")
            return replace(outcome, state="skipped")
        draft = PostDraft(
            title=outcome.title,
            body=outcome.body,
            kind=PostKind.STATUS,
            cta=CallToAction(CtaKind(config.cta), tuple(config.options), config.url),
            audience=tuple(config.to),
            urgent=config.urgent,
            source="status",
            source_key=status_key(name, fire_time),
        )
        try:
            post = await self._publishing.create(draft, f"status:{name}", Role.ADMIN)
        except (DraftError, IntegrityError) as exc:
            if await self.posted(name, fire_time):  # another instance posted this firing first
                return replace(outcome, state="already")
            reason = str(exc) if isinstance(exc, DraftError) else "the store refused it"
            await self._tell(f"{label} could not be posted: {reason}")
            return replace(outcome, state="failed", error=reason)
        if outcome.failures:
            await self._tell(f"{label} went out as #{post.id} with values marked unavailable, because {failed}")
        return replace(outcome, state="posted", post_id=post.id)
