"""The command menu Telegram shows behind the "/" button (``setMyCommands``), pure.

Everyone gets the employee commands; moderators get the moderator commands too, in their private chat with
the bot (scope ``chat``). Each list is registered per language (``language_code``) and once without one,
which Telegram shows to users whose language has no list of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Commands = tuple[tuple[str, str], ...]  # (command, description)

EMPLOYEE_COMMANDS: Mapping[str, Commands] = {
    "en": (
        ("post", "Submit a post: title | body | cta: …"),
        ("search", "Search posts, agenda and knowledge base"),
        ("agenda", "What is coming up"),
        ("kb", "Knowledge base"),
        ("like", "Like a post: like 12"),
        ("ack", "Confirm you read a post: ack 12"),
        ("vote", "Vote or RSVP: vote 12 2"),
        ("reply", "Reply to a post: reply 12 text"),
        ("mine", "Your posts and what awaits your action"),
        ("quiet", "Quiet hours: quiet 18:00-08:00 | off"),
        ("optout", "Stop reminders: optout reminders | all"),
        ("optin", "Receive messages again"),
        ("help", "How prikbord works"),
    ),
    "nl": (
        ("post", "Bericht insturen: titel | tekst | cta: …"),
        ("search", "Zoek in berichten, agenda en kennisbank"),
        ("agenda", "Wat er op de planning staat"),
        ("kb", "Kennisbank"),
        ("like", "Bericht liken: like 12"),
        ("ack", "Bevestig dat je een bericht las: ack 12"),
        ("vote", "Stemmen of aanmelden: vote 12 2"),
        ("reply", "Reageren op een bericht: reply 12 tekst"),
        ("mine", "Jouw berichten en wat op jou wacht"),
        ("quiet", "Stille uren: quiet 18:00-08:00 | off"),
        ("optout", "Geen herinneringen: optout reminders | all"),
        ("optin", "Weer berichten ontvangen"),
        ("help", "Hoe prikbord werkt"),
    ),
}

MODERATOR_COMMANDS: Mapping[str, Commands] = {
    "en": (
        ("pending", "Posts waiting for approval"),
        ("approve", "Approve a post: approve 12"),
        ("reject", "Reject a post: reject 12 reason"),
        ("schedule", "Schedule a post: schedule tomorrow 08:30 | title"),
        ("edit", "Change a published post: edit 12 | title | text"),
        ("retract", "Retract a published post: retract 12"),
        ("stats", "Who was reached and who acted: stats 12"),
    ),
    "nl": (
        ("pending", "Berichten die op goedkeuring wachten"),
        ("approve", "Bericht goedkeuren: approve 12"),
        ("reject", "Bericht afwijzen: reject 12 reden"),
        ("schedule", "Bericht inplannen: schedule tomorrow 08:30 | titel"),
        ("edit", "Gepubliceerd bericht wijzigen: edit 12 | titel | tekst"),
        ("retract", "Gepubliceerd bericht intrekken: retract 12"),
        ("stats", "Wie is bereikt en wie deed mee: stats 12"),
    ),
}

_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True, slots=True)
class CommandMenu:
    """Commands per language code; ``fallback_language`` is also registered without a language code."""

    employee: Mapping[str, Commands] = field(default_factory=lambda: dict(EMPLOYEE_COMMANDS))
    moderator: Mapping[str, Commands] = field(default_factory=lambda: dict(MODERATOR_COMMANDS))
    fallback_language: str = "en"

    def __post_init__(self) -> None:
        for lists in (self.employee, self.moderator):
            for language, commands in lists.items():
                if len(language) != 2:
                    raise ValueError(f"language code {language!r} must be two letters (ISO 639-1)")
                for name, description in commands:
                    if not _NAME.match(name):
                        raise ValueError(f"Telegram command {name!r} must be 1-32 of a-z, 0-9 and _")
                    if not 1 <= len(description) <= 256:
                        raise ValueError(f"description of /{name} must be 1-256 characters")
        if self.fallback_language not in self.employee:
            raise ValueError(f"no employee commands for the fallback language {self.fallback_language!r}")


def _commands(items: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"command": name, "description": description} for name, description in items][:100]


def set_my_commands_calls(menu: CommandMenu, moderator_ids: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Bot API ``setMyCommands`` parameters, one dict per call, in the order to make them."""
    languages: list[str | None] = [None, *sorted(menu.employee)]
    calls: list[dict[str, Any]] = []
    for language in languages:
        key = language or menu.fallback_language
        call: dict[str, Any] = {"commands": _commands(menu.employee[key]), "scope": {"type": "default"}}
        if language:
            call["language_code"] = language
        calls.append(call)
    for user_id in moderator_ids:
        for language in languages:
            key = language or menu.fallback_language
            items = menu.employee.get(key, ()) + menu.moderator.get(key, menu.moderator.get(menu.fallback_language, ()))
            call = {"commands": _commands(items), "scope": {"type": "chat", "chat_id": int(user_id)}}
            if language:
                call["language_code"] = language
            calls.append(call)
    return calls
