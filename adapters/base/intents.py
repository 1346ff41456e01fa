"""Intents: what a button press, reaction or engagement command asks for, as a small tagged type.

``encode()`` gives the wire form buttons carry (Telegram callback data, Slack action ids, console
``press`` words, stored data); :func:`parse_intent` reads it back and refuses anything else. The wire
format never changes: ``like | ack | reply | link | rsvp:N | vote:N | option:TEXT | reaction:KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BadIntent(ValueError):
    """A wire string that is none of prikbord's actions (a stranger's button, a forged payload)."""


@dataclass(frozen=True, slots=True)
class Like:
    def encode(self) -> str:
        return "like"


@dataclass(frozen=True, slots=True)
class Acknowledge:
    def encode(self) -> str:
        return "ack"


@dataclass(frozen=True, slots=True)
class Reply:
    def encode(self) -> str:
        return "reply"


@dataclass(frozen=True, slots=True)
class OpenLink:
    def encode(self) -> str:
        return "link"


class ChoiceKind(StrEnum):
    RSVP = "rsvp"
    VOTE = "vote"


@dataclass(frozen=True, slots=True)
class Choose:
    """Option ``number`` (1-based) of an RSVP or poll: the buttons' form."""

    kind: ChoiceKind
    number: int

    def __post_init__(self) -> None:
        if self.number < 1:
            raise BadIntent(f"option numbers start at 1, not {self.number}")

    def encode(self) -> str:
        return f"{self.kind.value}:{self.number}"


@dataclass(frozen=True, slots=True)
class ChooseNamed:
    """An option by its text or number as typed (``vote 12 Sushi``)."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise BadIntent("say which option: its number or its text")

    def encode(self) -> str:
        return f"option:{self.text}"


@dataclass(frozen=True, slots=True)
class React:
    """A reaction with ``key`` (an emoji, or a platform's own name for one)."""

    key: str

    def __post_init__(self) -> None:
        if not self.key.strip():
            raise BadIntent("a reaction needs a key")

    def encode(self) -> str:
        return f"reaction:{self.key}"


Intent = Like | Acknowledge | Reply | OpenLink | Choose | ChooseNamed | React

_PLAIN_INTENTS: dict[str, Intent] = {"like": Like(), "ack": Acknowledge(), "reply": Reply(), "link": OpenLink()}
_OPTION_NUMBER_DIGITS = 6


def parse_intent(wire: str) -> Intent:
    """The intent a wire string encodes. Raises :class:`BadIntent` for anything else."""
    plain = _PLAIN_INTENTS.get(wire)
    if plain is not None:
        return plain
    prefix, sep, rest = wire.partition(":")
    if sep:
        if prefix in (ChoiceKind.RSVP.value, ChoiceKind.VOTE.value):
            if rest.isascii() and rest.isdigit() and len(rest) <= _OPTION_NUMBER_DIGITS and int(rest) >= 1:
                return Choose(ChoiceKind(prefix), int(rest))
        elif prefix == "option" and rest.strip():
            return ChooseNamed(rest)
        elif prefix == "reaction" and rest.strip():
            return React(rest)
    raise BadIntent(
        f"{wire[:40]!r} is not a prikbord action: expected like, ack, reply, link, rsvp:N, vote:N, "
        "option:TEXT or reaction:KEY"
    )
