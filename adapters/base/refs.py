"""References: which chat, person or message an event or a send is about.

Plain strings, never SDK objects, so the core can store them and tests can build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ChatRef:
    platform: str
    chat_id: str


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    user_id: str
    display_name: str = ""
    # The person's language as their platform tells it (Telegram's language_code), for answers in it when the
    # directory has none. Not part of who they are: equal refs (and dict keys) stay equal whatever it says.
    locale: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """``platform:user_id``, the form moderators are listed by in config."""
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class MessageRef:
    chat: ChatRef
    message_id: str
