"""What the CLI says when something an operator can fix goes wrong: one line, naming the file or key and
what to do, exit status 2 — never a traceback.

Nothing heavy is imported here (the CLI imports this module for every command): the database's exception
types are recognised by name and module, so SQLAlchemy is loaded only by the commands that use it.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote

import typer

from bot.startup_report import hide_password

T = TypeVar("T")

# Exit status for a problem in the config, the environment or the arguments (Typer uses 2 for usage errors).
EXIT_OPERATOR = 2


class CliError(Exception):
    """An operator-facing problem: ``str(exc)`` is the whole line to print."""

    def __init__(self, message: str, code: int = EXIT_OPERATOR) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_OPERATOR) -> typer.Exit:
    """Print ``error: MESSAGE`` on stderr; the caller raises what this returns."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (None for other databases and for ``:memory:``)."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    path = unquote(rest.split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    if path.startswith("file:"):
        path = path[5:]
    return Path(path)


def invalid_argument(argv: Sequence[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps such bytes as lone surrogates)."""
    for number, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            shown = raw.decode("utf-8", "backslashreplace").encode("ascii", "backslashreplace").decode("ascii")[:60]
            return f"argument {number} ({shown}) is not valid UTF-8: pass text in UTF-8 (check the terminal's locale)"
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _sqlite_problem(chain: list[BaseException], url: str) -> str | None:
    path = sqlite_file(url)
    errors = [e for e in chain if isinstance(e, sqlite3.Error)]
    if path is None or not errors:
        return None
    message = str(errors[0]).lower()
    where = f"[database] url = {hide_password(url)}"
    db = f"the database file {path}"
    folder = path.resolve().parent
    if "unable to open database file" in message:
        if not path.parent.is_dir():
            return missing_directory(url)
        return f"cannot open {db}: make it and {folder} readable and writable by this user, or change {where}"
    if "readonly" in message or "read-only" in message:
        return f"{db} is read-only: make it and {folder} writable by this user, or change {where}"
    if "not a database" in message or "malformed" in message or "corrupt" in message:
        return f"{db} is not a SQLite database or is damaged: restore it from a backup, or move it away ({where})"
    if "disk is full" in message or "disk i/o" in message:
        return f"{db} cannot be written ({_first_line(errors[0])}): free disk space or change {where}"
    if "locked" in message:
        return f"{db} stayed locked by another process: retry, or stop the process holding it ({where})"
    return None


def missing_directory(url: str) -> str | None:
    """The line for a SQLite file whose directory does not exist (checked before anything connects:
    a failed open leaves aiosqlite's thread reporting to a closed loop); None when it exists."""
    path = sqlite_file(url)
    if path is None or path.parent.is_dir():
        return None
    where = f"[database] url = {hide_password(url)}"
    folder = path.resolve().parent
    return f"the directory of the database file {path} does not exist: create it (mkdir -p {folder}) or change {where}"


_UNREACHABLE_NAMES = ("gaierror", "CannotConnectNowError", "ConnectionDoesNotExistError")


def _postgres_problem(chain: list[BaseException], url: str) -> str | None:
    if not url.startswith(("postgres", "postgresql")):
        return None
    where = f"[database] url = {hide_password(url)} (PRIKBORD_DATABASE__URL)"
    for error in chain:
        name = type(error).__name__
        said = _first_line(error)
        if (isinstance(error, OSError) and not isinstance(error, FileNotFoundError)) or name in _UNREACHABLE_NAMES:
            return f"PostgreSQL is unreachable ({said}): start the server, or fix the host and port in {where}"
        if isinstance(error, TimeoutError):
            return f"PostgreSQL did not answer in time ({said}): check the server and the host in {where}"
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return f"PostgreSQL refused the login ({said}): fix the user or password in {where}"
        if name == "InvalidCatalogNameError":
            return f"PostgreSQL has no such database ({said}): create it (createdb) or fix {where}"
    return None


def database_problem(exc: BaseException, url: str) -> str | None:
    """One line for a database fault an operator can fix; None when ``exc`` is not one."""
    chain = _chain(exc)
    return _sqlite_problem(chain, url) or _postgres_problem(chain, url)


def run_async(coro_fn: Callable[[], Awaitable[T]], database_url: str) -> T:
    """Run a command's coroutine; config and database faults become one line and exit status 2."""
    import asyncio

    from bot.config import ConfigError

    async def main() -> T:
        return await coro_fn()

    if (missing := missing_directory(database_url)) is not None:
        raise fail(missing)
    try:
        return asyncio.run(main())
    except ConfigError as exc:  # raised while building adapters from a config that parsed
        raise fail(str(exc)) from None
    except CliError as exc:
        raise fail(str(exc), exc.code) from None
    except Exception as exc:
        problem = database_problem(exc, database_url)
        if problem is None:
            raise
        raise fail(problem) from None


def guard_arguments() -> None:
    """Refuse arguments that are not valid UTF-8 before any command sees them."""
    problem = invalid_argument(sys.argv[1:])
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise SystemExit(EXIT_OPERATOR)
