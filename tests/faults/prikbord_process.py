"""A real ``prikbord run`` (a child process) against the loopback Telegram peer, and the CLI next to it.

The fault tests drive the service the way an operator does: a TOML config, ``prikbord run`` in the
background, ``prikbord post`` / ``prikbord stats`` as separate processes on the same database. The child's
output goes to files the tests read (``stderr_text``) to assert there is no traceback or lock error.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.telegram import TelegramPeer

REPO = Path(__file__).resolve().parents[2]
PRIKBORD = str(Path(sys.executable).with_name("prikbord"))
MODERATOR = 4242  # telegram user id of the moderator in every config written here


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and lists of them are the same in TOML


def write_config(
    directory: Path,
    peer: TelegramPeer,
    chats: Sequence[int],
    database_url: str,
    *,
    mode: str = "polling",
    web_port: int | None = None,
    extra: str = "",
) -> Path:
    lines = [
        'timezone = "Europe/Amsterdam"',
        "[database]",
        f"url = {_toml_value(database_url)}",
        "[console]",
        "enabled = false",
        "[telegram]",
        f"token = {_toml_value(peer.token)}",
        f"api_base_url = {_toml_value(peer.api_base_url)}",
        f"mode = {_toml_value(mode)}",
    ]
    if mode == "webhook":
        lines.append('webhook_secret = "fault-suite-secret_1"')
    if web_port is not None:
        lines += ["[web]", 'host = "127.0.0.1"', f"port = {web_port}", 'public_url = "https://prikbord.example"']
        lines.append('admin_token = "fault-suite-admin-token"')
    lines += ["[moderation]", f"moderators = {_toml_value([f'telegram:{MODERATOR}'])}"]
    for i, chat_id in enumerate(chats):
        lines += [
            "[[channels]]",
            f'name = "groep-{i}"',
            'platform = "telegram"',
            f'chat_id = "{chat_id}"',
            'tags = ["everyone"]',
        ]
    path = directory / "prikbord.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    env["PYTHONPATH"] = str(REPO)
    return env | overrides


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def ok(self) -> bool:
        return self.returncode == 0


async def cli(config: Path, *args: str, timeout: float = 90.0) -> CliResult:
    """One ``prikbord`` CLI command as its own process (what an operator types next to ``run``)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        PRIKBORD,
        *args,
        "--config",
        str(config),
        cwd=config.parent,
        env=clean_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"prikbord {' '.join(args)} did not finish within {timeout}s") from None
    return CliResult(list(args), process.returncode or 0, out.decode(), err.decode(), time.monotonic() - started)


@dataclass
class RunningPrikbord:
    """``prikbord run --config …`` as a child process; stopped (SIGTERM, then SIGKILL) by its own PID."""

    config: Path
    log_level: str = "warning"
    process: asyncio.subprocess.Process | None = None
    _stderr: Path = field(init=False)

    def __post_init__(self) -> None:
        self._stderr = self.config.parent / "run.stderr"

    async def start(self) -> RunningPrikbord:
        self._stderr.write_bytes(b"")
        with self._stderr.open("ab") as sink:
            self.process = await asyncio.create_subprocess_exec(
                PRIKBORD,
                "run",
                "--config",
                str(self.config),
                cwd=self.config.parent,
                env=clean_env(PRIKBORD_LOG_LEVEL=self.log_level),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stderr_text(self) -> str:
        return self._stderr.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, timeout: float = 15.0) -> int:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process is not None and self.process.returncode else 0
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()
            raise AssertionError(f"prikbord run did not stop within {timeout}s of SIGTERM") from None


async def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate()`` (sync or async) until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_until_polling(peer: TelegramPeer, run: RunningPrikbord, timeout: float = 30.0) -> None:
    def polling() -> bool:
        assert run.alive(), f"prikbord run exited early:\n{run.stderr_text()[-3000:]}"
        # A long poll is recorded only when it returns; deleteWebhook comes right before the first.
        return bool(peer.calls_to("deleteWebhook") or peer.calls_to("getUpdates"))

    await wait_for(polling, timeout, "prikbord run to start polling")


def no_traceback(log: str) -> None:
    """The child's log holds no traceback (each is shown with what led to it when there is one)."""
    at = log.find("Traceback")
    assert at < 0, "prikbord run logged a traceback:\n" + log[max(0, at - 1500) : at + 3000]


def button_data(peer: TelegramPeer, chat_id: int, message_id: int) -> str:
    """The callback_data of the first button under a bot message (the call to action)."""
    msg = peer.message(chat_id, message_id)
    assert msg is not None and msg.reply_markup is not None
    return str(msg.reply_markup["inline_keyboard"][0][0]["callback_data"])
