"""Routes a command to its handler after checking the role; turns every refusal into a clear answer."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from adapters.base import Adapter, CommandIssued
from bot.commands import engaging, moderation, posting, preferences, reading
from bot.commands.base import CommandContext, CommandSpec, Reply, Services
from bot.commands.grammar import UsageError
from bot.services.drafts import DraftError
from bot.services.publishing import NotAllowed, NotFound, WrongState
from bot.services.roles import Role, Roles

log = logging.getLogger("prikbord.commands")

ROLE_NAMES = {Role.EMPLOYEE: "employee", Role.MODERATOR: "moderator", Role.ADMIN: "admin"}


def all_commands() -> list[CommandSpec]:
    return [*posting.COMMANDS, *moderation.COMMANDS, *engaging.COMMANDS, *reading.COMMANDS, *preferences.COMMANDS]


class CommandRouter:
    def __init__(
        self,
        services: Services,
        roles: Roles,
        adapters: Mapping[str, Adapter],
        commands: Iterable[CommandSpec] | None = None,
    ) -> None:
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

    def help_text(self, role: Role, topic: str = "") -> str:
        if topic:
            spec = self._by_name.get(topic.strip().lower().lstrip("/!"))
            if spec is None:
                return f"there is no command {topic.strip()!r}. " + self.help_text(role)
            return f"{spec.usage}\n{spec.summary} (needs the {ROLE_NAMES[spec.role]} role)"
        lines = ["commands (help COMMAND for more):"]
        lines += [f"  {s.usage} — {s.summary}" for s in self.specs_for(role)]
        lines.append("  help [COMMAND] — this list")
        return "\n".join(lines)

    async def answer(self, command: CommandIssued) -> Reply:
        """Run the command and return what to tell the person. Never raises for bad input."""
        role = self._roles.role_of(command.user)
        name = command.name.lower()
        if name in ("help", "start", "hulp"):
            return Reply(self.help_text(role, command.args))
        spec = self._by_name.get(name)
        if spec is None:
            return Reply(f"unknown command {name!r}.\n" + self.help_text(role))
        if role < spec.role:
            return Reply(f"`{spec.name}` needs the {ROLE_NAMES[spec.role]} role; you have the {ROLE_NAMES[role]} role")
        context = CommandContext(command, role, self._services)
        try:
            return await spec.handler(context, command.args)
        except UsageError as exc:
            return Reply(f"{exc}\nusage: {spec.usage}")
        except (DraftError, NotFound, WrongState) as exc:
            return Reply(str(exc))
        except NotAllowed as exc:
            return Reply(f"not allowed: {exc}")
        except Exception:
            log.exception("command %r from %s failed", name, command.user.key)
            return Reply("something went wrong; the operator can find the details in the log")

    async def handle(self, command: CommandIssued) -> Reply:
        reply = await self.answer(command)
        adapter = self._adapters.get(command.user.platform)
        if adapter is not None:
            await adapter.reply(command, reply.text, private=reply.private)
        return reply
