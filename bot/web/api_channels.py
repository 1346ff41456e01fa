"""``/api/channels``: list them, switch one on or off."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from bot.web.deps import WebDeps
from bot.web.operations import Operations
from bot.web.schemas import ChannelOut, ErrorOut, ReasonIn
from content import posts
from content.models import Channel

ACTOR = "api"
ChannelId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CHANNEL_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such channel"}}


def _channel_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        platform=channel.platform,
        chat_id=channel.chat_id,
        tags=list(channel.tags or []),
        enabled=channel.enabled,
        disabled_reason=channel.disabled_reason,
        member_count=channel.member_count,
    )


def channels_router(deps: WebDeps, operations: Operations) -> APIRouter:
    router = APIRouter()

    @router.get("/channels", response_model=list[ChannelOut], tags=["channels"])
    async def list_channels() -> list[ChannelOut]:
        async with deps.store.sessions() as session:
            return [_channel_out(c) for c in await posts.all_channels(session)]

    @router.post(
        "/channels/{channel_id}/enable", response_model=ChannelOut, responses=CHANNEL_NOT_FOUND, tags=["channels"]
    )
    async def enable_channel(channel_id: ChannelId) -> ChannelOut:
        return _channel_out(await operations.set_channel(channel_id, True, ACTOR))

    @router.post(
        "/channels/{channel_id}/disable", response_model=ChannelOut, responses=CHANNEL_NOT_FOUND, tags=["channels"]
    )
    async def disable_channel(channel_id: ChannelId, data: Annotated[ReasonIn | None, Body()] = None) -> ChannelOut:
        """Nothing more is sent there; deliveries still waiting for it fail with this reason."""
        return _channel_out(await operations.set_channel(channel_id, False, ACTOR, data.reason if data else ""))

    return router
