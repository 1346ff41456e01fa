"""Sending, editing and retracting Telegram messages, with what each sent message shows now; and a
group's member count.

The adapter hands its ``telegram.Bot`` here; the caches live as long as the adapter (lost on restart).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaDocument,
    InputMediaPhoto,
    ReplyParameters,
)
from telegram.error import InvalidToken, TelegramError

from adapters.base import ChatRef, DeliveryError, MemberList, MessageRef, OutboundAttachment, OutboundMessage
from adapters.telegram.errors import MessageGone, RequestRejected, map_error
from adapters.telegram.media import MediaSend, captioned, media_plan, uploaded_file_id
from adapters.telegram.render import reply_parameters, thread_param
from adapters.telegram.translate import (
    MessagePart,
    TextTooLong,
    chat_id_param,
    compose,
    is_private_chat,
    member_list,
    split_chat_id,
    split_plain,
)

_CACHE_SIZE = 10_000
log = logging.getLogger("prikbord.adapters.telegram")


async def register_commands(bot: Bot, calls: Iterable[Mapping[str, Any]], token: str) -> None:
    """setMyCommands for each menu (everyone's, and each moderator's chat) in each language."""
    for call in calls:
        scope_chat = call["scope"].get("chat_id")
        scope = BotCommandScopeDefault() if scope_chat is None else BotCommandScopeChat(scope_chat)
        commands = [BotCommand(c["command"], c["description"]) for c in call["commands"]]
        try:
            await bot.set_my_commands(commands, scope=scope, language_code=call.get("language_code"))
        except InvalidToken as exc:
            raise map_error(exc, None, token) from None
        except TelegramError as exc:
            # A moderator who never opened a chat with the bot has no chat to scope to: not fatal.
            log.warning("telegram: setMyCommands for %s failed: %s", scope_chat or "everyone", exc)


class TelegramMessages:
    """The outbound half of the adapter: one ``Bot``, the token to redact from errors, the retraction text."""

    def __init__(self, bot: Bot, *, token: str, retracted_text: str) -> None:
        self._bot = bot
        self._token = token
        self._retracted_text = retracted_text
        # Earlier parts of split posts, and what each message shows now, so counter refreshes can use
        # editMessageReplyMarkup and skip edits that change nothing.
        self._parts: OrderedDict[tuple[str, int], list[int]] = OrderedDict()
        self._shown: OrderedDict[tuple[str, int], tuple[str, str]] = OrderedDict()
        self._media: OrderedDict[tuple[str, int], list[int]] = OrderedDict()  # images/files sent before the text

    @contextlib.contextmanager
    def errors(self, chat_id: str | None) -> Iterator[None]:
        try:
            yield
        except TelegramError as exc:
            raise map_error(exc, chat_id, self._token) from None  # the SDK's messages may hold the token

    def _markup(self, markup: Mapping[str, Any] | None) -> InlineKeyboardMarkup | None:
        return None if markup is None else InlineKeyboardMarkup.de_json(dict(markup), self._bot)

    def _remember(self, chat_id: str, message_id: int, part: MessagePart) -> None:
        key = (chat_id, message_id)
        self._shown[key] = (part.text, json.dumps(part.reply_markup, sort_keys=True))
        self._shown.move_to_end(key)
        while len(self._shown) > _CACHE_SIZE:
            self._shown.popitem(last=False)

    async def _send_part(self, chat_id: str, part: MessagePart, paid_broadcast: bool = False) -> int:
        params = part.params(chat_id)
        if paid_broadcast:
            params["allow_paid_broadcast"] = True  # Telegram charges Stars for every message sent with it
        with self.errors(chat_id):
            # Bot._post, not Bot.send_message: the same request and the same errors, without building a
            # telegram.Message from the answer (only its id is read), which was a quarter of the process's
            # CPU at a paid broadcast's 1,000 messages/s (bench/README.md, paid_broadcast.py).
            sent = await self._bot._post("sendMessage", params)
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        if not isinstance(message_id, int):
            raise DeliveryError(f"Telegram answered sendMessage without a message id: {str(sent)[:200]}")
        self._remember(chat_id, message_id, part)
        return message_id

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        if message.attachments:
            sends, parts = media_plan(message)  # refuses before any request
        else:
            sends, parts = [], compose(message)
        media_ids: list[int] = []
        sent: list[int] = []
        try:
            for media in sends:
                media_ids += await self._send_media(chat.chat_id, media, message)
            if not parts:  # the post is the caption: its photo or file is the copy
                return MessageRef(chat, str(media_ids[-1]))
            for part in parts:
                sent.append(await self._send_part(chat.chat_id, part, message.paid_broadcast))
        except DeliveryError:
            # Half a post must not stay behind: a retry sends it whole again.
            for message_id in media_ids + sent:
                with contextlib.suppress(DeliveryError):
                    await self._delete_one(chat.chat_id, message_id, fallback=False)
            raise
        # The ref names the last part: it carries the keyboard that presses and counters refer to.
        last = sent[-1]
        if media_ids:  # the album or files before the text: retracted with it
            self._media[(chat.chat_id, last)] = media_ids
            while len(self._media) > _CACHE_SIZE:
                self._media.popitem(last=False)
        if len(sent) > 1:
            self._parts[(chat.chat_id, last)] = sent[:-1]
            while len(self._parts) > _CACHE_SIZE:
                self._parts.popitem(last=False)
        return MessageRef(chat, str(last))

    async def _send_media(self, chat_id: str, media: MediaSend, message: OutboundMessage) -> list[int]:
        """One sendPhoto, sendDocument or sendMediaGroup: the bytes of a first upload (multipart), else the
        file_id; each new file_id goes to ``message.uploaded`` at once. → the ids of the messages sent."""
        params: dict[str, Any] = {"chat_id": chat_id_param(chat_id), **thread_param(chat_id)}
        if message.paid_broadcast:
            params["allow_paid_broadcast"] = True
        if media.reply_to is not None:
            params["reply_parameters"] = reply_parameters(media.reply_to, chat_id)
        if media.method == "sendMediaGroup":
            params["media"] = [_input_media(item) for item in media.items]
        else:
            params[media.field()] = _file_input(media.items[0], attach=False)
            if media.caption is not None:
                params["caption"], params["parse_mode"] = media.caption, "HTML"
            if media.reply_markup is not None:
                params["reply_markup"] = media.reply_markup
        with self.errors(chat_id):
            answer = await self._bot._post(media.method, params)
        messages = answer if isinstance(answer, list) else [answer]
        ids: list[int] = []
        for item, sent in zip(media.items, messages, strict=False):
            message_id = sent.get("message_id") if isinstance(sent, dict) else None
            if not isinstance(message_id, int):
                raise DeliveryError(f"Telegram answered {media.method} without a message id: {str(sent)[:200]}")
            ids.append(message_id)
            file_id = uploaded_file_id(sent, item)
            if item.remote_ref is None and file_id is not None and message.uploaded is not None:
                await message.uploaded(item.sha256, file_id)
        if media.caption is not None:
            self._shown[(chat_id, ids[-1])] = (media.caption, json.dumps(media.reply_markup, sort_keys=True))
        return ids

    async def _edit_caption(self, ref: MessageRef, message: OutboundMessage) -> None:
        """A post that is its photo's (or file's) caption: editMessageCaption, or only the buttons."""
        chat_id, message_id = ref.chat.chat_id, int(ref.message_id)
        media = media_plan(message)[0][0]
        caption = media.caption or ""
        markup_key = json.dumps(media.reply_markup, sort_keys=True)
        shown = self._shown.get((chat_id, message_id))
        if shown == (caption, markup_key):
            return
        try:
            with self.errors(chat_id):
                if shown is not None and shown[0] == caption:
                    await self._bot.edit_message_reply_markup(
                        chat_id=chat_id_param(chat_id),
                        message_id=message_id,
                        reply_markup=self._markup(media.reply_markup),
                    )
                else:
                    await self._bot.edit_message_caption(
                        chat_id=chat_id_param(chat_id),
                        message_id=message_id,
                        caption=caption,
                        parse_mode="HTML",
                        reply_markup=self._markup(media.reply_markup),
                    )
        except RequestRejected as exc:
            if "not modified" not in str(exc).lower():
                raise
        self._shown[(chat_id, message_id)] = (caption, markup_key)

    async def _edit_one(self, chat_id: str, message_id: int, part: MessagePart) -> None:
        shown = self._shown.get((chat_id, message_id))
        markup_key = json.dumps(part.reply_markup, sort_keys=True)
        if shown == (part.text, markup_key):
            return
        try:
            with self.errors(chat_id):
                if shown is not None and shown[0] == part.text:
                    await self._bot.edit_message_reply_markup(
                        chat_id=chat_id_param(chat_id),
                        message_id=message_id,
                        reply_markup=self._markup(part.reply_markup),
                    )
                else:
                    await self._bot.edit_message_text(
                        part.text,
                        chat_id=chat_id_param(chat_id),
                        message_id=message_id,
                        parse_mode=part.parse_mode,
                        reply_markup=self._markup(part.reply_markup),
                    )
        except RequestRejected as exc:
            if "not modified" not in str(exc).lower():  # already showing this: fine
                raise
        self._remember(chat_id, message_id, part)

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        if message.attachments and captioned(message):
            try:
                await self._edit_caption(ref, message)
                return
            except RequestRejected as exc:
                if "no caption" not in str(exc).lower():
                    raise
            # Sent longer than a caption, as the photo and then the text: the text is the copy.
            parts = compose(message)
        else:
            parts = media_plan(message)[1] if message.attachments else compose(message)
        try:
            await self._edit_text(ref, parts)
        except RequestRejected as exc:
            if not message.attachments or "no text" not in str(exc).lower():
                raise
            raise TextTooLong(
                "the post is the caption of its photo or file there, and a caption holds 1,024 characters: "
                "shorten the edit, or retract and post it again"
            ) from None

    async def _edit_text(self, ref: MessageRef, parts: list[MessagePart]) -> None:
        chat_id, last = ref.chat.chat_id, int(ref.message_id)
        known = self._parts.get((chat_id, last))
        if known is None and len(parts) > 1:
            # Sent before a restart: only the last part is known, and it holds the keyboard and counters.
            await self._edit_one(chat_id, last, parts[-1])
            return
        earlier = known or []
        if len(parts) > len(earlier) + 1:
            raise TextTooLong(
                f"the edited post needs {len(parts)} messages but was sent as {len(earlier) + 1}: "
                "shorten it or retract and post it again"
            )
        for message_id, part in zip(earlier, parts[:-1], strict=False):
            await self._edit_one(chat_id, message_id, replace(part, reply_to=None))
        await self._edit_one(chat_id, last, parts[-1])
        surplus = earlier[len(parts) - 1 :]
        for message_id in surplus:
            with contextlib.suppress(DeliveryError):
                await self._delete_one(chat_id, message_id, fallback=False)
        if surplus:
            self._parts[(chat_id, last)] = earlier[: len(parts) - 1]

    async def _delete_one(self, chat_id: str, message_id: int, fallback: bool) -> None:
        try:
            with self.errors(chat_id):
                await self._bot.delete_message(chat_id_param(chat_id), message_id)
        except MessageGone:
            pass
        except RequestRejected as exc:
            # Older than 48 hours: Telegram no longer deletes it, so blank it out instead.
            if not fallback or "can't be deleted" not in str(exc).lower():
                raise
            with self.errors(chat_id):
                await self._bot.edit_message_text(
                    self._retracted_text, chat_id=chat_id_param(chat_id), message_id=message_id
                )
        self._shown.pop((chat_id, message_id), None)

    async def delete(self, ref: MessageRef) -> None:
        """Retract: delete every part, or edit a part to ``retracted_text`` where deletion is too late."""
        chat_id, last = ref.chat.chat_id, int(ref.message_id)
        for message_id in [*self._media.pop((chat_id, last), []), *self._parts.pop((chat_id, last), []), last]:
            await self._delete_one(chat_id, message_id, fallback=True)

    async def send_plain(self, chat_id: str, text: str, reply_to: MessageRef | None = None) -> None:
        for i, chunk in enumerate(split_plain(text)):
            reply = (
                ReplyParameters(int(reply_to.message_id), allow_sending_without_reply=True)
                if reply_to and i == 0
                else None
            )
            with self.errors(chat_id):
                await self._bot.send_message(
                    chat_id_param(chat_id), chunk, reply_parameters=reply, message_thread_id=split_chat_id(chat_id)[1]
                )

    async def member_list(self, chat: ChatRef) -> MemberList | None:
        """Bots cannot list a group's members, only count them (getChatMemberCount): a partial list with
        the count, the bot not counted. None for a private chat (a person, not an audience)."""
        if is_private_chat(chat.chat_id):
            return None
        with self.errors(chat.chat_id):
            count = await self._bot.get_chat_member_count(chat_id_param(chat.chat_id))
        return member_list(count)


def _file_input(item: OutboundAttachment, *, attach: bool) -> InputFile | str:
    """The file_id of an earlier upload, or the bytes to upload (multipart, under the file's name)."""
    if item.remote_ref is not None:
        return item.remote_ref
    if item.data is None:
        raise DeliveryError(f"{item.file_name}: neither a file_id nor its bytes to upload")
    return InputFile(item.data, filename=item.file_name, attach=attach)


def _input_media(item: OutboundAttachment) -> InputMediaPhoto | InputMediaDocument:
    media = _file_input(item, attach=True)
    return InputMediaPhoto(media=media) if item.is_image else InputMediaDocument(media=media)
