"""Slack Web API calls through slack_sdk: the client, one call with its failure mapped, and the paged
channel listing."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ChatRef, DeliveryError, DiscoveredChat, TransientError
from adapters.slack.errors import error_for
from adapters.slack.inbound import PLATFORM


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
