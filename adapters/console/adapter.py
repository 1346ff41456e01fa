"""The console adapter: a chat in the terminal, for local use, demos and scripted runs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adapters.base import (
    Adapter,
    ChatRef,
    CommandIssued,
    EventSink,
    Limits,
    MediaLimits,
    MessageRef,
    OutboundMessage,
    UserRef,
)
from adapters.console.translate import PLATFORM, ScriptState, parse_line, render_message
from adapters.markup import Document, render_plain

Settle = Callable[[], Awaitable[None]]


async def _lines_from(stream: TextIO) -> AsyncIterator[str]:
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line:
            return
        yield line


class ConsoleAdapter(Adapter):
    """One chat in the terminal (``chat_id``), people speaking as ``NAME: TEXT`` lines.

    ``list_members`` stays the base's None: a terminal has no member list, so the console's audience is
    the people seen in it (whoever types a command or responds to a post there is recorded as a member)."""

    platform = PLATFORM
    # The console prints attachments as their names and sizes: any file will do.
    limits = Limits(text_length=20_000, idempotent_send=True, edit_interval=0.0, media=MediaLimits())

    def __init__(
        self,
        *,
        input_stream: TextIO | None = None,
        output: Console | None = None,
        chat_id: str = "console",
        settle: Settle | None = None,
        echo_input: bool = False,
    ) -> None:
        self._input = input_stream
        self._out = output or Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.chat = ChatRef(PLATFORM, chat_id)
        # Called after each input line so a script sees the effects of one line before the next.
        self._settle = settle
        self._echo = echo_input
        self._next_id = 0
        self.messages: dict[str, str] = {}  # message id → text a reader sees now
        self.private: list[tuple[str, str]] = []  # (user id, text) of private messages and replies
        self._reader: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._sink: EventSink | None = None
        self._state = ScriptState()

    def set_settle(self, settle: Settle) -> None:
        self._settle = settle

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if self._input is None:
            self._done.set()
            return
        self._reader = asyncio.create_task(self._read(self._input), name="console-reader")

    async def feed(self, line: str, state: ScriptState | None = None) -> None:
        """Process one input line (tests and the reader use this)."""
        assert self._sink is not None, "start() first"
        event = parse_line(line, state or self._state, self.chat)
        if self._echo and line.strip():
            self._out.print(f"[dim]» {escape(line.rstrip())}[/dim]")
        if event is not None:
            await self._sink(event)
        if self._settle is not None:
            await self._settle()

    async def _read(self, stream: TextIO) -> None:
        try:
            async for line in _lines_from(stream):
                try:
                    await self.feed(line, self._state)
                except Exception as exc:  # one bad line must not end the session
                    self._out.print(f"[red]error on line {self._state.line_no}: {escape(str(exc))}[/red]")
        finally:
            self._done.set()

    async def wait_idle(self) -> None:
        await self._done.wait()

    async def stop(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def send(self, chat: ChatRef, message: OutboundMessage) -> MessageRef:
        self._next_id += 1
        message_id = f"m{self._next_id}"
        text = render_message(message_id, message)
        self.messages[message_id] = text
        self._out.print(Panel(escape(text), title=f"{message_id} · {chat.chat_id}", title_align="left"))
        return MessageRef(chat, message_id)

    async def edit(self, ref: MessageRef, message: OutboundMessage) -> None:
        if ref.message_id not in self.messages:
            return
        text = render_message(ref.message_id, message)
        if text == self.messages[ref.message_id]:
            return
        self.messages[ref.message_id] = text
        # The last block is the context line (post number, likes, replies); buttons carry their counts.
        context = render_plain(Document(message.markup.blocks[-1:])) if message.markup.blocks else ""
        counts = "  ".join(f"{a.label} {a.count}" for a in message.actions if a.count is not None)
        summary = " | ".join(part for part in (context, counts) if part)
        self._out.print(f"[dim]✎ {ref.message_id} updated: {escape(summary)}[/dim]")

    async def delete(self, ref: MessageRef) -> None:
        if self.messages.pop(ref.message_id, None) is not None:
            self._out.print(f"[dim]✖ {ref.message_id} removed[/dim]")

    async def reply(self, command: CommandIssued, text: str, private: bool = True) -> None:
        who = command.user.display_name or command.user.user_id
        self.private.append((command.user.user_id, text))
        prefix = f"→ {who} (only you see this)" if private else f"→ {who}"
        self._out.print(f"[cyan]{escape(prefix)}:[/cyan] {escape(text)}")

    async def send_private(self, user: UserRef, text: str) -> bool:
        self.private.append((user.user_id, text))
        self._out.print(f"[magenta]✉ to {escape(user.display_name or user.user_id)}:[/magenta] {escape(text)}")
        return True

    async def open_private(self, user: UserRef) -> str | None:
        """The console's "private chat" with a person: their name as the chat (a post's private copy)."""
        return f"@{user.user_id}"
