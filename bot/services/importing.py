"""Importing the old intranet, and polling ``[[feeds]]``: parsed items become posts.

- **One transaction per source.** Everything a source yields is stored together or not at all; a
  source that cannot be read as a whole (broken XML, a line that is not JSON) imports nothing.
  Items that break a rule on their own (no title, too long for a platform) are reported and skipped.
- **Idempotent.** Each item's key (guid, else URL, see ``content.importers.item_key``) is stored as
  ``posts.source_key``, which is unique: a second import of the same source adds nothing.
- **Published or archived.** Without ``archive`` a news item is published like any post, with the
  item's URL as a ``link`` call to action (so clicks are counted): it is stored as due now and
  released by the publishing service's own ``publish_due``, so quiet hours and every other
  publishing rule apply to imports too. With ``archive`` it is stored as *published without
  deliveries*, marked ``source = "archive"``: found by ``search``, ``kb`` and ``agenda``, never sent
  to a chat and left out of the dashboard timeline. Agenda and knowledge-base items never go to the
  feed either way.
- **Feeds.** The first poll of a ``[[feeds]]`` entry archives what the feed already holds (so adding
  a feed does not flood the channels with its back catalogue); later polls publish what is new.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.drafts import CallToAction, DraftError, PostDraft, normalized
from bot.services.publishing import PublishingService
from content import posts
from content.analytics import ARCHIVE_SOURCE
from content.db import Store
from content.importers import FailedItem, ImportedItem, MalformedSource, ParsedSource, item_key, parse_source
from content.models import FEED_KINDS, AdapterState, CtaKind, Post, PostKind, PostState

if TYPE_CHECKING:
    import httpx

    from bot.config import FeedConfig

log = logging.getLogger("prikbord.import")

MAX_SOURCE_BYTES = 50 * 1024 * 1024
FETCH_TIMEOUT = 30.0
USER_AGENT = "prikbord-import/1 (+https://github.com/)"


class SourceUnavailable(Exception):
    """The source could not be fetched or read; the message says why."""


@dataclass
class ImportReport:
    source: str
    format: str | None = None
    imported: list[tuple[int, str]] = field(default_factory=list)  # (post id, title)
    duplicates: list[str] = field(default_factory=list)  # titles
    failed: list[FailedItem] = field(default_factory=list)
    error: str | None = None  # set when the source as a whole failed: then nothing was imported

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed


class _Refused(Exception):
    pass


class Importer:
    """Stores what a source holds as posts, each through the publishing service's one way in."""

    def __init__(
        self, store: Store, clock: Clock, publishing: PublishingService, *, require_call_to_action: bool
    ) -> None:
        self._store = store
        self._clock = clock
        self._publishing = publishing
        self._require_cta = require_call_to_action

    @property
    def store(self) -> Store:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    async def run(
        self,
        parsed: ParsedSource,
        *,
        source: str,
        kind: str | None = None,
        archive: bool = False,
        actor: str = "import",
        on_item: Callable[[], None] | None = None,
    ) -> ImportReport:
        """Store what ``parsed`` holds, in one transaction. ``source`` names it (scopes bare guids)."""
        report = ImportReport(source, parsed.format, failed=list(parsed.failed))
        due = 0
        async with self._store.transaction() as session:
            keys = [item_key(item, source) for item in parsed.items]
            taken = await posts.source_keys_taken(session, keys)
            for n, (item, key) in enumerate(zip(parsed.items, keys, strict=True), start=1):
                if on_item is not None:
                    on_item()
                if key in taken:
                    report.duplicates.append(item.title)
                    continue
                taken.add(key)
                try:
                    post = await self._store_item(session, item, key, kind, archive, actor)
                except _Refused as exc:
                    report.failed.append(FailedItem(f"item {n} ({item.title[:60]})", str(exc)))
                    continue
                except IntegrityError:  # imported by someone else meanwhile
                    report.duplicates.append(item.title)
                    continue
                report.imported.append((post.id, post.title))
                if post.state == PostState.SCHEDULED:
                    due += 1
        if due:
            await self._publish_due()
        return report

    async def _publish_due(self) -> None:
        """Let the publishing service release what is due, batch after batch. The import is stored
        already; should this fail, the running service's due sweep releases the posts instead."""
        try:
            for _ in range(10_000):
                if not await self._publishing.publish_due():
                    return
        except Exception:
            log.exception("publishing imported posts failed; the running service will publish them")

    async def _store_item(
        self, session: AsyncSession, item: ImportedItem, key: str, kind: str | None, archive: bool, actor: str
    ) -> Post:
        now = self._clock.now()
        try:
            post_kind = PostKind(kind or item.kind or PostKind.NEWS)
        except ValueError:
            raise _Refused(f"unknown kind {kind or item.kind!r}") from None
        to_feed = post_kind in FEED_KINDS and not archive
        cta = CallToAction()
        if to_feed and item.url and item.url.lower().startswith(("http://", "https://")):
            cta = CallToAction(CtaKind.LINK, url=item.url)  # "read the whole article": a counted click
        elif to_feed and self._require_cta:
            cta = CallToAction(CtaKind.LIKE)
        source = ARCHIVE_SOURCE if archive else actor
        try:
            draft = normalized(
                PostDraft(title=item.title, body=item.body, kind=post_kind, cta=cta, source=source, source_key=key),
                require_call_to_action=self._require_cta and to_feed,
            )
            async with session.begin_nested():  # an item that fails leaves nothing behind
                post = await self._publishing.stage(
                    session, draft, author=actor, now=now, to_feed=to_feed, source_key_checked=True
                )
                # Feed items: due now, released by publish_due; the rest: published, never sent.
                post.state = PostState.SCHEDULED if to_feed else PostState.PUBLISHED
                post.publish_at = now if to_feed else None
                post.published_at = None if to_feed else (item.published or now)
                posts.audit(session, now, actor, "import", post.id, source_key=key, archived=not to_feed)
        except DraftError as exc:
            hint = " (or import with --archive)" if to_feed and "no enabled channel" in str(exc) else ""
            raise _Refused(f"{exc}{hint}") from None
        return post


# ---------------------------------------------------------------------------------------------
# Reading a source


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


async def fetch(source: str, client: httpx.AsyncClient | None = None) -> tuple[bytes, str]:
    """The bytes of a URL or a file, and where they came from (the final URL after redirects)."""
    if not is_url(source):
        return await asyncio.to_thread(_read_file, Path(source)), source
    import httpx  # only for URLs: the CLI starts faster without it

    owned = client is None
    http = client or httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=True, headers={"User-Agent": USER_AGENT})
    try:
        async with http.stream("GET", source) as response:
            if response.status_code >= 400:
                raise SourceUnavailable(f"{source} answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_SOURCE_BYTES:
                    raise SourceUnavailable(f"{source} is larger than {MAX_SOURCE_BYTES // 2**20} MB")
                chunks.append(chunk)
            return b"".join(chunks), str(response.url)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"cannot fetch {source}: {exc}") from None
    finally:
        if owned:
            await http.aclose()


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise SourceUnavailable(f"{path} is larger than {MAX_SOURCE_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as exc:
        raise SourceUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None


async def read_source(source: str, client: httpx.AsyncClient | None = None) -> ParsedSource:
    """Fetch and parse. Raises SourceUnavailable or MalformedSource."""
    data, origin = await fetch(source, client)
    return parse_source(data, origin)


async def import_source(
    importer: Importer,
    source: str,
    *,
    kind: str | None = None,
    archive: bool = False,
    actor: str = "import",
    client: httpx.AsyncClient | None = None,
    on_parsed: Callable[[ParsedSource], None] | None = None,
    on_item: Callable[[], None] | None = None,
) -> ImportReport:
    """Fetch, parse and store one source; whatever goes wrong with the source lands in ``error``."""
    try:
        parsed = await read_source(source, client)
    except (SourceUnavailable, MalformedSource) as exc:
        return ImportReport(source, error=str(exc))
    if on_parsed is not None:
        on_parsed(parsed)
    return await importer.run(parsed, source=source, kind=kind, archive=archive, actor=actor, on_item=on_item)


# ---------------------------------------------------------------------------------------------
# [[feeds]]


def _primed_key(url: str) -> str:
    return "feeds:primed:" + hashlib.sha256(url.encode()).hexdigest()[:40]


async def poll_feed(importer: Importer, feed: FeedConfig, client: httpx.AsyncClient | None = None) -> ImportReport:
    """Poll one ``[[feeds]]`` entry. Never raises: a failure is logged and returned in the report."""
    key = _primed_key(feed.url)
    async with importer.store.sessions() as session:
        first = await session.get(AdapterState, key) is None
    try:
        report = await import_source(importer, feed.url, kind=feed.kind, archive=first, actor="feed", client=client)
    except Exception as exc:  # a scheduled job must not die on one bad feed
        log.exception("polling feed %s failed", feed.url)
        return ImportReport(feed.url, error=f"{type(exc).__name__}: {exc}")
    if report.error is not None:
        log.warning("feed %s: %s", feed.url, report.error)
        return report
    if first:
        async with importer.store.transaction() as session:
            if await session.get(AdapterState, key) is None:
                session.add(AdapterState(key=key, value=importer.clock.now().isoformat()))
    if report.imported or report.failed:
        log.info(
            "feed %s: %d new%s, %d failed",
            feed.url,
            len(report.imported),
            " (archived: first poll)" if first else "",
            len(report.failed),
        )
    return report


async def poll_feeds(
    importer: Importer, feeds: Sequence[FeedConfig], client: httpx.AsyncClient | None = None
) -> list[ImportReport]:
    """Poll every configured feed once, one after the other."""
    return [await poll_feed(importer, feed, client) for feed in feeds]
