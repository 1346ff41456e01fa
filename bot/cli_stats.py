"""``prikbord stats``: read the counts without loading the bot (no App, no SDKs, no migrations unless needed)."""

from __future__ import annotations

from typing import Any

# Errors that mean the schema is behind the code (a new database, or one from an older version).
_SCHEMA_BEHIND = ("no such table", "no such column", "does not exist", "undefinedtable", "undefinedcolumn")


def _schema_behind(exc: BaseException) -> bool:
    text = f"{type(getattr(exc, 'orig', exc)).__name__} {exc}".lower()
    return any(marker in text for marker in _SCHEMA_BEHIND)


def _no_database_yet(database_url: str) -> bool:
    from bot.cli_errors import sqlite_file

    path = sqlite_file(database_url)
    return path is not None and not path.exists()


async def gather_stats(database_url: str, post_id: int | None) -> list[dict[str, Any]]:
    """One post's stats object (or all posts', oldest first); [] when the post does not exist.

    Reading needs no migration; only when the schema is behind (a fresh database) is it brought up
    to date, which keeps ``stats`` fast. A SQLite file that does not exist yet holds no posts: reading
    it creates nothing (no empty database left behind, no migrations run)."""
    if _no_database_yet(database_url):
        return []
    from sqlalchemy.exc import DBAPIError

    from content.db import create_store

    store = create_store(database_url)
    try:
        try:
            return await _read(store, post_id)
        except DBAPIError as exc:
            if not _schema_behind(exc):
                raise
        from content.migrate import upgrade

        await upgrade(store)
        return await _read(store, post_id)
    finally:
        await store.close()


async def _read(store: Any, post_id: int | None) -> list[dict[str, Any]]:
    from bot.services.stats import post_stats
    from content import posts

    async with store.sessions() as session:
        if post_id is not None:
            post = await posts.get_post(session, post_id)
            return [] if post is None else await post_stats(session, [post])
        return await post_stats(session, list(reversed(await posts.recent_posts(session, 1000))))
