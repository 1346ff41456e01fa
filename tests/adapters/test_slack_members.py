"""A Slack channel's members (conversations.members) against the loopback Slack peer: every page read, the
bot left out, a 429 waited out and the same page asked again, the tier-4 pace kept, a channel Slack
refuses refused; and the peer pages and refuses as Slack does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ChatRef, PermanentError, Rate, RateLimited
from adapters.slack.adapter import SlackAdapter
from adapters.slack.calls import call_api, web_client
from adapters.slack.members import PAGE_SIZE, MemberListing
from tests.peers.slack import SlackPeer, Window

PEOPLE = tuple(f"person{n:03d}" for n in range(450))  # three pages of 200


@pytest.fixture
async def client() -> AsyncIterator[tuple[SlackPeer, AsyncWebClient]]:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer, aiohttp.ClientSession() as session:
        yield peer, web_client(peer.bot_token, peer.api_base_url, session, 10.0)


async def started(peer: SlackPeer) -> SlackAdapter:
    adapter = SlackAdapter(bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url)

    async def sink(_event: Any) -> None:
        return None

    await adapter.start(sink)
    return adapter


def listing_for(peer: SlackPeer, rate: Rate, max_attempts: int = 5) -> MemberListing:
    async def call(method: str, request: Awaitable[Any], chat_id: str) -> Any:
        return await call_api(method, request, peer.api_base_url, chat_id)

    return MemberListing(call, rate=rate, max_attempts=max_attempts)


async def test_every_page_is_read_and_the_bot_left_out() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        channel = peer.add_channel("general", members=PEOPLE)
        adapter = await started(peer)
        try:
            listing = await adapter.list_members(ChatRef("slack", channel))
        finally:
            await adapter.stop()
        assert listing is not None
        expected = sorted(peer.channels[channel].members - {peer.bot_user_id})
        assert len(expected) == 450 and peer.bot_user_id in peer.channels[channel].members
        assert [u.user_id for u in listing.members] == expected
        assert {u.platform for u in listing.members} == {"slack"}
        assert (listing.partial, listing.count) == (False, 450)
        calls = peer.calls_of("conversations.members")
        assert len(calls) == 3 and all(c.error is None for c in calls)  # 451 ids, the bot's among them
        assert [c.args["limit"] for c in calls] == [str(PAGE_SIZE)] * 3
        assert "cursor" not in calls[0].args and calls[1].args["cursor"] != calls[2].args["cursor"]


async def test_a_429_is_waited_out_and_the_same_page_asked_again() -> None:
    # Two calls a second: the third page is refused with Retry-After: 1, then read.
    async with SlackPeer(
        per_channel_rate=None, workspace_rate=None, tier_rates={"conversations.members": Window(2, 1.0)}
    ) as peer:
        channel = peer.add_channel("general", members=PEOPLE)
        adapter = await started(peer)
        began = time.monotonic()
        try:
            listing = await adapter.list_members(ChatRef("slack", channel))
        finally:
            await adapter.stop()
        assert listing is not None and listing.count == 450
        calls = peer.calls_of("conversations.members")
        assert [c.error for c in calls] == [None, None, "ratelimited", None]
        assert calls[2].args["cursor"] == calls[3].args["cursor"]  # the same page again
        assert time.monotonic() - began >= 1.0  # Retry-After was honoured


async def test_the_pace_keeps_inside_the_tier() -> None:
    async with (
        SlackPeer(
            per_channel_rate=None, workspace_rate=None, tier_rates={"conversations.members": Window(2, 1.0)}
        ) as peer,
        aiohttp.ClientSession() as session,
    ):
        channel = peer.add_channel("general", members=PEOPLE)
        web = web_client(peer.bot_token, peer.api_base_url, session, 10.0)
        began = time.monotonic()
        listing = await listing_for(peer, Rate(2, 1.0)).members(web, channel, peer.bot_user_id)
        assert listing.count == 450
        assert peer.rate_limited == 0  # the third page waited for its place instead of being refused
        assert time.monotonic() - began >= 1.0


async def test_rate_limited_page_after_page_gives_up_instead_of_answering_half(
    client: tuple[SlackPeer, AsyncWebClient],
) -> None:
    peer, web = client
    channel = peer.add_channel("general", members=PEOPLE)
    peer.fail_next("conversations.members", "ratelimited", status=429, retry_after=1, times=2)
    with pytest.raises(RateLimited, match=f"members of Slack channel {channel}"):
        await listing_for(peer, Rate(100, 60.0), max_attempts=2).members(web, channel, peer.bot_user_id)


async def test_a_private_channel_the_bot_is_not_in_is_refused_and_a_public_one_is_read() -> None:
    async with SlackPeer(per_channel_rate=None, workspace_rate=None) as peer:
        private = peer.add_channel("hr", private=True, bot_member=False, members=("anna",))
        public = peer.add_channel("random", bot_member=False, members=("anna", "bram"))
        adapter = await started(peer)
        try:
            with pytest.raises(PermanentError, match=f"{private} was not found"):
                await adapter.list_members(ChatRef("slack", private))
            listing = await adapter.list_members(ChatRef("slack", public))
        finally:
            await adapter.stop()
        assert listing is not None
        assert {u.user_id for u in listing.members} == {peer.add_user("anna"), peer.add_user("bram")}


async def _error_of(call: Awaitable[Any]) -> str:
    try:
        await call
    except SlackApiError as exc:
        return str(exc.response["error"])
    raise AssertionError("the call succeeded")


async def test_the_peer_pages_members_by_limit_and_cursor_as_slack_does(
    client: tuple[SlackPeer, AsyncWebClient],
) -> None:
    peer, web = client
    channel = peer.add_channel("general", members=("anna", "bram", "carla", "dirk"))
    every = sorted(peer.channels[channel].members)  # the four and the bot
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        answer = await web.conversations_members(channel=channel, limit=2, cursor=cursor)
        pages.append(answer["members"])
        cursor = answer["response_metadata"]["next_cursor"] or None
        if cursor is None:
            break
    assert pages == [every[0:2], every[2:4], every[4:5]]
    assert len((await web.conversations_members(channel=channel))["members"]) == 5  # default limit 100
    assert await _error_of(web.conversations_members(channel=channel, limit=0)) == "invalid_limit"
    assert await _error_of(web.conversations_members(channel=channel, limit=1001)) == "invalid_limit"
    assert await _error_of(web.conversations_members(channel=channel, cursor="page:2")) == "invalid_cursor"
    assert await _error_of(web.conversations_members(channel="C404")) == "channel_not_found"
    assert peer.violations == []
