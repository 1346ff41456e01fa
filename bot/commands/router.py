"""Routes a command to its handler after checking the role; turns every refusal into a clear answer.

A command event runs once however often the platform delivers it (content/processed_commands.py), and
its answer failing to go out never fails the event: the command's effect is stored by then, and a
platform told "failed" would deliver the command again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from adapters.base import Adapter, CommandIssued, DeliveryError
from bot.commands import engaging, moderation, people, posting, preferences, reading
from bot.commands.base import CommandContext, CommandSpec, Reply, Services
from bot.commands.grammar import UsageError
from bot.i18n import N_, SOURCE, Translator
from bot.services.drafts import DraftError
from bot.services.publishing import NotAllowed, NotFound, WrongState
from bot.services.roles import Role, Roles
from content.processed_commands import claim_command, finish_command

log = logging.getLogger("prikbord.commands")

ROLE_NAMES = {Role.EMPLOYEE: N_("employee"), Role.MODERATOR: N_("moderator"), Role.ADMIN: N_("admin")}
HELP_USAGE, HELP_SUMMARY = N_("help [COMMAND]"), N_("this list")


def runs_once_per_event(command: CommandIssued) -> bool:
    """Whether this command is de-duplicated by its platform event id (every platform gives one;
    the console's carry a random id per session, so a second scripted run is not a redelivery)."""
    return bool(command.event_id)


# How an answer goes out (bot/app.py passes the rate-paced one); default: the adapter's own reply.
AnswerSender = Callable[[Adapter, CommandIssued, str, bool], Awaitable[None]]


# Where the answer is sent from: None sends it inline (the console, a conversation in a terminal, keeps
# its order so); bot/app.py passes a background spawner so an answer waiting out a 429 holds nothing up.
AnswerSpawner = Callable[[Coroutine[Any, Any, None]], None]

STOPPED_BEFORE_ANSWER = "prikbord stopped before the answer went out"


async def reply_directly(adapter: Adapter, command: CommandIssued, text: str, private: bool) -> None:
    await adapter.reply(command, text, private=private)


def all_commands() -> list[CommandSpec]:
    return [
        *posting.COMMANDS,
        *moderation.COMMANDS,
        *engaging.COMMANDS,
        *reading.COMMANDS,
        *preferences.COMMANDS,
        *people.COMMANDS,
    ]


class CommandRouter:
    def __init__(
        self,
        services: Services,
        roles: Roles,
        adapters: Mapping[str, Adapter],
        commands: Iterable[CommandSpec] | None = None,
        send_answer: AnswerSender = reply_directly,
        answer_later: AnswerSpawner | None = None,
    ) -> None:
        self._send = send_answer
        self._answer_later = answer_later
        self._services = services
        self._roles = roles
        self._adapters = adapters
        self._specs = list(commands if commands is not None else all_commands())
        self._by_name: dict[str, CommandSpec] = {}
        for spec in self._specs:
            for name in (spec.name, *spec.aliases):
                self._by_name[name] = spec

    def specs_for(self, role: Role) -> list[CommandSpec]:
        return [s for s in self._specs if s.role <= role]

    def help_text(self, role: Role, topic: str = "", t: Translator = SOURCE) -> str:
        if topic:
            spec = self._by_name.get(topic.strip().lower().lstrip("/!"))
            if spec is None:
                return t.gettext("there is no command %(name)r.", name=topic.strip()) + " " + self.help_text(role, t=t)
            needs = t.gettext("(needs the %(role)s role)", role=t.gettext(ROLE_NAMES[spec.role]))
            return f"{t.gettext(spec.usage)}\n{t.gettext(spec.summary)} {needs}"
        lines = [t.gettext("commands (help COMMAND for more):")]
        lines += [f"  {t.gettext(s.usage)} — {t.gettext(s.summary)}" for s in self.specs_for(role)]
        lines.append(f"  {t.gettext(HELP_USAGE)} — {t.gettext(HELP_SUMMARY)}")
        return "\n".join(lines)

    async def translator_for(self, command: CommandIssued) -> Translator:
        """The language of the person who issued ``command`` (bot/services/languages.py)."""
        languages = self._services.languages
        return SOURCE if languages is None else await languages.for_user(command.user)

    async def answer(self, command: CommandIssued) -> Reply:
        """Run the command and return what to tell the person, in their language. Never raises for bad input."""
        role = self._roles.role_of(command.user)
        t = await self.translator_for(command)
        name = command.name.lower()
        if name in ("help", "start", "hulp"):
            return Reply(self.help_text(role, command.args, t))
        spec = self._by_name.get(name)
        if spec is None:
            return Reply(t.gettext("unknown command %(name)r.", name=name) + "\n" + self.help_text(role, t=t))
        if role < spec.role:
            return Reply(
                t.gettext(
                    "`%(command)s` needs the %(needed)s role; you have the %(role)s role",
                    command=spec.name,
                    needed=t.gettext(ROLE_NAMES[spec.role]),
                    role=t.gettext(ROLE_NAMES[role]),
                )
            )
        context = CommandContext(command, role, self._services, t)
        try:
            return await spec.handler(context, command.args)
        except UsageError as exc:
            return Reply(f"{t.render(exc.message)}\n" + t.gettext("usage: %(usage)s", usage=t.gettext(spec.usage)))
        except (DraftError, NotFound, WrongState) as exc:
            return Reply(t.render(exc.message))  # worded by the publishing service
        except NotAllowed as exc:
            return Reply(t.gettext("not allowed: %(reason)s", reason=t.render(exc.message)))
        except Exception:
            log.exception("command %r from %s failed", name, command.user.key)
            return Reply(t.gettext("something went wrong; the operator can find the details in the log"))

    async def handle(self, command: CommandIssued) -> Reply | None:
        """Run a command event and answer it; None when this event was already run (redelivered)."""
        once = runs_once_per_event(command)
        if once and not await self._claim(command):
            log.info(
                "command %r from %s (event %s) was delivered again; it already ran, so it is not run twice",
                command.name,
                command.user.key,
                command.event_id,
            )
            return None
        reply = await self.answer(command)
        if self._answer_later is None:
            await self._answer_and_record(command, reply, once)
        else:
            self._answer_later(self._answer_and_record(command, reply, once))
        return reply

    async def _answer_and_record(self, command: CommandIssued, reply: Reply, once: bool) -> None:
        try:
            error = await self._send_answer(command, reply)
        except asyncio.CancelledError:
            if once:
                await self._finish(command, STOPPED_BEFORE_ANSWER)
            raise
        if once:
            await self._finish(command, error)

    async def _claim(self, command: CommandIssued) -> bool:
        # Its own transaction, committed before the command runs: a concurrent delivery of the same
        # event waits for it (the primary key) and then sees the claim. Raises when the store fails,
        # so the platform delivers the event again and nothing has run.
        services = self._services
        async with services.store.transaction() as session:
            return await claim_command(
                session, command.user.platform, command.event_id, command.name, command.user.key, services.clock.now()
            )

    async def _send_answer(self, command: CommandIssued, reply: Reply) -> str | None:
        """Send the answer → None, or why it could not be sent (logged; never raised)."""
        adapter = self._adapters.get(command.user.platform)
        if adapter is None or not reply.text:  # no text: the command answered otherwise (a form opened)
            return None
        try:
            await self._send(adapter, command, reply.text, reply.private)
        except DeliveryError as exc:
            log.warning(
                "the answer to %r for %s could not be sent (%s); the command itself ran",
                command.name,
                command.user.key,
                exc,
            )
            return str(exc) or type(exc).__name__
        except Exception as exc:
            log.exception("the answer to %r for %s failed; the command itself ran", command.name, command.user.key)
            return type(exc).__name__
        return None

    async def _finish(self, command: CommandIssued, error: str | None) -> None:
        try:
            async with self._services.store.transaction() as session:
                await finish_command(
                    session, command.user.platform, command.event_id, self._services.clock.now(), error
                )
        except Exception:
            # The claim stands, so a redelivery still will not run it again: only the record is incomplete.
            log.exception("could not record that command event %s finished", command.event_id)
