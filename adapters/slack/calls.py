"""Slack Web API calls through slack_sdk: the client, one call with its failure mapped, the paged
channel listing and a direct message to one person."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ChatRef, DeliveryError, DiscoveredChat, PermanentError, Rate, TransientError
from adapters.slack.errors import SlackCallFailed, error_for
from adapters.slack.inbound import PLATFORM
from adapters.slack.mrkdwn import escape

log = logging.getLogger(__name__)

DEFAULT_OPEN_RATE = Rate(50, 60.0)  # conversations.open is tier 3: "50+ per minute"

# The adapter's own Web API call (method, the call, chat id): a refused token marks it disconnected.
Call = Callable[[str, Awaitable[Any], str], Awaitable[Mapping[str, Any]]]


def web_client(token: str, base_url: str, session: aiohttp.ClientSession, timeout: float) -> AsyncWebClient:
    # No automatic retries: a resent chat.postMessage could post twice; the dispatcher decides.
    return AsyncWebClient(token=token, base_url=base_url, session=session, timeout=int(timeout), retry_handlers=[])


async def call_api(method: str, call: Awaitable[Any], base_url: str, chat_id: str = "") -> Mapping[str, Any]:
    """The response data of one Web API call; its failure as the adapter error the dispatcher acts on."""
    try:
        response = await call
    except SlackApiError as exc:
        answer = exc.response
        data = answer.data if isinstance(answer.data, Mapping) else {}
        raise error_for(method, answer.status_code, data, answer.headers, chat_id) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TransientError(f"Slack unreachable at {base_url} ({method}: {type(exc).__name__})") from exc
    except SlackRequestError as exc:
        raise DeliveryError(f"Slack {method}: {exc}") from exc
    data = response.data
    return data if isinstance(data, Mapping) else {}


async def member_channels(client: AsyncWebClient, base_url: str) -> list[DiscoveredChat]:
    """The public and private channels the bot is a member of (conversations.list, every page;
    scopes channels:read and groups:read). Archived channels are left out."""
    found: list[DiscoveredChat] = []
    cursor = ""
    while True:
        call = client.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor or None
        )
        data = await call_api("conversations.list", call, base_url)
        for channel in data.get("channels") or []:
            if not channel.get("is_member"):
                continue
            kind = "private_channel" if channel.get("is_private") else "public_channel"
            found.append(DiscoveredChat(ChatRef(PLATFORM, str(channel["id"])), str(channel.get("name")), kind))
        cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return found


async def open_direct(web_call: Call, client: AsyncWebClient, user_id: str) -> str | None:
    """The id of the bot's direct conversation with one person (conversations.open, tier 3, scope
    im:write; it answers the same channel every time). None where there is none to have (user_not_found,
    cannot_dm_bot, a deactivated account …); a 429 or an outage raises, to be tried again."""
    try:
        opened = await web_call("conversations.open", client.conversations_open(users=user_id), "")
    except (PermanentError, SlackCallFailed) as exc:
        log.info("slack: no direct conversation with %s: %s", user_id, exc)
        return None
    return str((opened.get("channel") or {}).get("id") or "") or None


async def direct_message(web_call: Call, client: AsyncWebClient, user_id: str, text: str) -> bool:
    """``text`` to one person in their direct conversation with the bot (:func:`open_direct`). False where
    there is none to have."""
    channel = await open_direct(web_call, client, user_id)
    if channel is None:
        return False
    try:
        await web_call("chat.postMessage", client.chat_postMessage(channel=channel, text=escape(text)), channel)
    except (PermanentError, SlackCallFailed) as exc:
        log.info("slack: no private message to %s: %s", user_id, exc)
        return False
    return True
