"""Who is in a Slack channel: ``conversations.members`` (bot scopes ``channels:read``/``groups:read``),
every page, for the audience's member lists.

conversations.members is a tier-4 method (about 100 calls a minute). The pages are paced to that rate
with the same :class:`~adapters.slack.lookup.Pacer` the email lookup uses (each call holding its place
until a minute after it ended), across every channel one adapter lists; a 429 pauses the listing for its
``Retry-After`` and the same page is asked again. A listing that cannot be finished raises: half a list
must never pass for the whole one (a complete list ends the membership of everyone not on it).

The answer is user ids only, the bot's own left out. Slack may list deactivated accounts and other apps'
bot users too: telling them apart needs ``users.info`` per member or ``users.list`` (scope
``users:read``, which the manifests do not ask for), so they are not filtered here; a deactivated
account's membership ends when the core hears of it otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import MemberList, Rate, RateLimited, TransientError, UserRef
from adapters.slack.calls import Call
from adapters.slack.inbound import PLATFORM
from adapters.slack.lookup import Pacer, transient_backoff

log = logging.getLogger(__name__)

MEMBERS_RATE = Rate(100, 60.0)  # Slack's tier 4, which conversations.members is in
PAGE_SIZE = 200  # Slack advises no more than 200 items a page
MAX_ATTEMPTS = 5  # per page: rate limited or failing for now this often in a row, the listing gives up


def member_ids(pages: list[Mapping[str, Any]], bot_user_id: str) -> list[str]:
    """The member ids of a channel's pages in the order Slack gave them, each once, the bot left out."""
    found: dict[str, None] = {}
    for page in pages:
        for member in page.get("members") or []:
            if isinstance(member, str) and member and member != bot_user_id:
                found[member] = None
    return list(found)


def next_cursor(page: Mapping[str, Any]) -> str:
    """Where the next page starts; "" after the last one."""
    metadata = page.get("response_metadata")
    return str(metadata.get("next_cursor") or "") if isinstance(metadata, Mapping) else ""


class MemberListing:
    """``members(client, channel, bot_user_id)`` → the channel's :class:`MemberList` (complete: ``partial``
    False, ``count`` the number of members). ``call`` makes one Web API call the adapter's way."""

    def __init__(
        self,
        call: Call,
        *,
        rate: Rate = MEMBERS_RATE,
        page_size: int = PAGE_SIZE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._call = call
        self._pacer = Pacer(rate)
        self._page_size = max(1, min(1000, page_size))
        self._max_attempts = max(1, max_attempts)

    async def members(self, client: AsyncWebClient, channel_id: str, bot_user_id: str) -> MemberList:
        pages: list[Mapping[str, Any]] = []
        cursor = ""
        while True:
            page = await self._page(client, channel_id, cursor)
            pages.append(page)
            cursor = next_cursor(page)
            if not cursor:
                break
        people = tuple(UserRef(PLATFORM, user_id) for user_id in member_ids(pages, bot_user_id))
        return MemberList(people, partial=False, count=len(people))

    async def _page(self, client: AsyncWebClient, channel_id: str, cursor: str) -> Mapping[str, Any]:
        failure: RateLimited | TransientError | None = None
        for attempt in range(1, self._max_attempts + 1):
            async with self._pacer.turn():
                call = client.conversations_members(channel=channel_id, limit=self._page_size, cursor=cursor or None)
                try:
                    return await self._call("conversations.members", call, channel_id)
                except RateLimited as exc:
                    log.info("slack: conversations.members rate limited; listing waits %.0f s", exc.retry_after)
                    self._pacer.pause(exc.retry_after)
                    failure = exc
                except TransientError as exc:
                    self._pacer.pause(transient_backoff(attempt))
                    failure = exc
        detail = f"the members of Slack channel {channel_id} could not be read ({failure})"
        if isinstance(failure, RateLimited):
            raise RateLimited(failure.retry_after, detail) from failure
        raise TransientError(detail) from failure
