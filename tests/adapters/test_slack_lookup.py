"""Finding Slack accounts by workspace email (users.lookupByEmail) against the loopback Slack peer: found,
not found, deactivated, a 429 waited out and asked again, a missing scope named, and the tier-3 pace
kept. The adapter is never started, as in the CLI."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import AdapterAuthError, Rate, RateLimited
from adapters.slack.adapter import SlackAdapter
from adapters.slack.calls import web_client
from adapters.slack.lookup import EmailLookup
from tests.peers.slack import SlackPeer, Window


def adapter_for(peer: SlackPeer) -> SlackAdapter:
    return SlackAdapter(bot_token=peer.bot_token, signing_secret=peer.signing_secret, api_base_url=peer.api_base_url)


def lookup_for(peer: SlackPeer, rate: Rate, *, max_attempts: int = 5) -> EmailLookup:
    def new_client(session: aiohttp.ClientSession) -> AsyncWebClient:
        return web_client(peer.bot_token, peer.api_base_url, session, 10.0)

    return EmailLookup(new_client, peer.api_base_url, 10.0, rate=rate, max_attempts=max_attempts)


async def test_found_not_found_and_deactivated_without_starting_the_adapter() -> None:
    async with SlackPeer() as peer:
        anna = peer.add_user("anna", email="anna@example.org")
        bram = peer.add_user("bram", email="bram@example.org")
        peer.deactivate(bram)
        found = await adapter_for(peer).lookup_emails(
            ["anna@example.org", "Anna@Example.org", "bram@example.org", "nobody@example.org", "anna@example.org"]
        )
        assert found == {"anna@example.org": anna, "Anna@Example.org": anna}  # keyed as asked
        calls = peer.calls_of("users.lookupByEmail")
        assert sorted(c.args["email"] for c in calls) == sorted(
            ["anna@example.org", "Anna@Example.org", "bram@example.org", "nobody@example.org"]  # each once
        )
        assert [c.error for c in calls if c.args["email"] == "nobody@example.org"] == ["users_not_found"]
        assert peer.calls_of("auth.test") == []  # no adapter start was needed
        assert await adapter_for(peer).lookup_emails([]) == {}


async def test_a_429_is_waited_out_and_the_same_email_asked_again() -> None:
    async with SlackPeer() as peer:
        anna = peer.add_user("anna", email="anna@example.org")
        peer.fail_next("users.lookupByEmail", "ratelimited", status=429, retry_after=1)
        started = time.monotonic()
        found = await adapter_for(peer).lookup_emails(["anna@example.org"])
        assert found == {"anna@example.org": anna}
        assert time.monotonic() - started >= 1.0  # its Retry-After
        calls = peer.calls_of("users.lookupByEmail")
        assert [(c.args["email"], c.status) for c in calls] == [("anna@example.org", 429), ("anna@example.org", 200)]


async def test_slack_failing_for_now_is_asked_again_and_at_last_given_up() -> None:
    async with SlackPeer() as peer:
        anna = peer.add_user("anna", email="anna@example.org")
        peer.fail_next("users.lookupByEmail", "service_unavailable", status=503)
        assert await lookup_for(peer, Rate(50, 60.0)).lookup(["anna@example.org"]) == {"anna@example.org": anna}
        peer.fail_next("users.lookupByEmail", "ratelimited", status=429, retry_after=1, times=2)
        with pytest.raises(RateLimited, match=r"kept rate limiting users\.lookupByEmail"):
            await lookup_for(peer, Rate(50, 60.0), max_attempts=2).lookup(["anna@example.org"])


async def test_a_missing_scope_is_named() -> None:
    async with SlackPeer(missing_scopes=frozenset({"users:read.email"})) as peer:
        peer.add_user("anna", email="anna@example.org")
        with pytest.raises(AdapterAuthError) as refused:
            await adapter_for(peer).lookup_emails(["anna@example.org", "bram@example.org"])
        message = str(refused.value)
        assert "users:read.email" in message and "reinstall" in message
        assert peer.bot_token not in message
        assert peer.calls_of("users.lookupByEmail")[0].error == "missing_scope"


async def test_the_lookups_keep_the_tier_rate() -> None:
    # Tier 3 scaled down (2 per 0.5 s instead of 50 per minute), in the peer and in the pace alike.
    tier = Window(2, 0.5)
    emails = [f"person{n}@example.org" for n in range(6)]
    async with SlackPeer(tier_rates={"users.lookupByEmail": tier}) as peer:
        ids = {email: peer.add_user(email.split("@")[0], email=email) for email in emails}
        started = time.monotonic()
        assert await lookup_for(peer, Rate(tier.count, tier.period)).lookup(emails) == ids
        assert peer.rate_limited == 0  # never refused: paced
        assert time.monotonic() - started >= 2 * tier.period  # 6 calls, 2 a window
    async with SlackPeer(tier_rates={"users.lookupByEmail": tier}) as peer:
        ids = {email: peer.add_user(email.split("@")[0], email=email) for email in emails}
        # Too fast a pace is refused by the peer's tier, and every refused email is asked again.
        assert await lookup_for(peer, Rate(100, 1.0)).lookup(emails) == ids
        assert peer.rate_limited > 0
