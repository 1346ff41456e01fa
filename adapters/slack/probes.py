"""What the Slack adapter reads back from Slack: a post it already sent (found by its metadata, so a
restart does not send it twice) and the workspace its token belongs to (``prikbord check``)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import ChatRef, CheckResult, DeliveryError, MessageRef
from adapters.slack.calls import Call
from adapters.slack.translate import metadata_matches


async def find_sent_message(
    web_call: Call, client: AsyncWebClient, bot: str | None, chat: ChatRef, idempotency_key: str
) -> MessageRef | None:
    """The bot's message carrying this delivery's metadata among the channel's last 100 messages."""
    call = client.conversations_history(channel=chat.chat_id, limit=100, include_all_metadata=True)
    data = await web_call("conversations.history", call, chat.chat_id)
    for message in data.get("messages") or []:
        if bot is not None and message.get("user") not in (bot, None):
            continue
        if metadata_matches(message.get("metadata"), idempotency_key):
            return MessageRef(chat, str(message["ts"]))
    return None


async def check_workspace(web_call: Call, client: AsyncWebClient) -> CheckResult:
    """``prikbord check``: the workspace and the bot the token belongs to (auth.test)."""
    try:
        data = await web_call("auth.test", client.auth_test(), "")
    except DeliveryError as exc:
        return CheckResult(False, f"slack: {exc}")
    workspace = f"{data.get('team')} ({data.get('team_id')})"
    return CheckResult(True, f"slack: workspace {workspace}, bot @{data.get('user')} ({data.get('user_id')})")
