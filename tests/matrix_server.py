"""A real Synapse homeserver for the Matrix tests, started on a free loopback port.

Synapse comes with the test extra; ``PRIKBORD_SYNAPSE_PYTHON`` may name another interpreter that has
it (for instance a separate virtualenv). One generated ``homeserver.yaml`` is shared by
every instance; each instance layers its own files over it with more ``--config-path`` options
(Synapse merges them shallowly, later files win): ``common.json`` (offline, registration by shared
secret only, generous ``rc_*`` limits so ordinary tests are never throttled), ``instance.json``
(port, database, logs) and, for the low-rate instance, ``low-rate.json`` (a tight ``rc_message``
to provoke ``M_LIMIT_EXCEEDED``). JSON is valid YAML, so no YAML writer is needed.

Servers start lazily, once per test session, through :data:`SYNAPSES`: pytest fixtures and the
contract harness (whose factory takes no arguments) share them. A server that cannot start fails
every test that needs it with the tail of its log; it is never skipped.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_NAME = "localhost"
PASSWORD = "correct horse battery staple"
START_TIMEOUT = 60.0

DEFAULT = "default"
LOW_RATE = "low-rate"

_GENEROUS = {"per_second": 10_000, "burst_count": 100_000}
COMMON_CONFIG: dict[str, object] = {
    "trusted_key_servers": [],  # offline: never ask matrix.org for keys
    "suppress_key_server_warning": True,
    "enable_registration": False,
    "report_stats": False,
    "presence": {"enabled": False},
    "url_preview_enabled": False,
    "bcrypt_rounds": 4,  # password hashing at production cost makes every login slow
    "rc_message": _GENEROUS,
    "rc_registration": _GENEROUS,
    "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
    "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
    "rc_joins_per_room": _GENEROUS,
    "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
    "rc_room_creation": _GENEROUS,
    "rc_admin_redaction": _GENEROUS,
    "rc_3pid_validation": _GENEROUS,
    "rc_presence": {"per_user": _GENEROUS},
    "rc_delayed_event_mgmt": _GENEROUS,
    "rc_reports": _GENEROUS,
    "rc_profile": _GENEROUS,
}
# register_new_matrix_user's registration, for several users in one process (see SynapseServer.register).
_REGISTER = f"""
import sys
from synapse._scripts.register_new_matrix_user import request_registration
url, secret, admin, *users = sys.argv[1:]
for user in users:
    request_registration(user, {PASSWORD!r}, url, secret, admin=admin == "True", exists_ok=True)
"""
# Two messages at once, then one every two seconds: the third quick send is refused with 429.
LOW_RATE_CONFIG: dict[str, object] = {"rc_message": {"per_second": 0.5, "burst_count": 2}}


def synapse_python() -> Path:
    """The interpreter that runs Synapse: PRIKBORD_SYNAPSE_PYTHON, else this one when the test extra
    installed matrix-synapse beside prikbord (the README's test command), else ``.venv-synapse``."""
    configured = os.environ.get("PRIKBORD_SYNAPSE_PYTHON")
    if configured:
        return Path(configured)
    if importlib.util.find_spec("synapse") is not None:
        return Path(sys.executable)
    return REPO_ROOT / ".venv-synapse" / "bin" / "python"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class SynapseStartError(RuntimeError):
    pass


@dataclass
class Login:
    user_id: str
    access_token: str
    device_id: str


@dataclass
class SynapseServer:
    name: str
    base_url: str
    shared_secret: str
    directory: Path
    process: subprocess.Popen[bytes]
    startup_seconds: float
    _registered: set[str] = field(default_factory=set)
    _logins: dict[str, Login] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_name(self) -> str:
        return SERVER_NAME

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{SERVER_NAME}"

    def log_tail(self, lines: int = 40) -> str:
        return (
            _tail(self.directory / "homeserver.log", lines)
            + "\n--- stderr ---\n"
            + _tail(self.directory / "stderr.log", lines)
        )

    def register(self, *localparts: str, admin: bool = False) -> None:
        """Register users with register_new_matrix_user's shared-secret registration.

        One process of the Synapse interpreter runs the tool's own ``request_registration`` for every
        name: the command line takes one user per run, and a run per user costs a second of start-up
        on a busy two-core machine.
        """
        with self._lock:
            todo = [lp for lp in localparts if lp not in self._registered]
            if not todo:
                return
            result = subprocess.run(
                [str(synapse_python()), "-c", _REGISTER, self.base_url, self.shared_secret, str(admin), *todo],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
            if result.returncode != 0:
                output = (result.stdout + result.stderr).decode(errors="replace")
                raise SynapseStartError(f"register_new_matrix_user {' '.join(todo)} failed: {output}")
            self._registered.update(todo)

    def login(self, localpart: str, fresh: bool = False) -> Login:
        """A password login, cached per user unless ``fresh`` (a new device, as a new installation has).

        A bot that starts from scratch twice on one device within two minutes gets Synapse's cached
        answer to its first /sync (``sync_response_cache_duration``), which can predate a new invite.
        """
        self.register(localpart)
        with self._lock:
            if localpart in self._logins and not fresh:
                return self._logins[localpart]
            body = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": PASSWORD,
            }
            data = self.request("POST", "/_matrix/client/v3/login", body)
            login = Login(str(data["user_id"]), str(data["access_token"]), str(data["device_id"]))
            if not fresh:
                self._logins[localpart] = login
            return login

    def request(
        self, method: str, path: str, body: object | None = None, token: str | None = None
    ) -> dict[str, object]:
        """One client-server API call, for test set-up (not for the code under test)."""
        req = urllib.request.Request(self.base_url + path, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        payload = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(req, payload, timeout=30) as resp:
            result: dict[str, object] = json.loads(resp.read() or b"{}")
            return result

    def stop(self) -> None:
        # Our own child, by its own pid: never a broad kill by name.
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def _generate_base_config(root: Path) -> Path:
    python = synapse_python()
    if not python.exists():
        raise SynapseStartError(
            f"no Synapse interpreter at {python}: create it (python -m venv .venv-synapse && "
            ".venv-synapse/bin/pip install matrix-synapse) or set PRIKBORD_SYNAPSE_PYTHON"
        )
    config = root / "homeserver.yaml"
    result = subprocess.run(
        [
            str(python),
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            SERVER_NAME,
            "--config-path",
            str(config),
            "--generate-config",
            "--report-stats=no",
        ],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0 or not config.exists():
        raise SynapseStartError(
            f"synapse --generate-config failed:\n{result.stdout.decode()}\n{result.stderr.decode()}"
        )
    # The generated file ends in a comment without a newline: anything appended must start on a new line.
    with config.open("a") as fh:
        fh.write("\n# layered by tests/matrix_server.py: see common.json and instance.json beside it\n")
    return config


def _start_instance(root: Path, base_config: Path, name: str, shared_secret: str) -> SynapseServer:
    directory = root / name
    directory.mkdir()
    port = _free_port()
    common = directory / "common.json"
    common.write_text(json.dumps({**COMMON_CONFIG, "registration_shared_secret": shared_secret}))
    log_config = directory / "log.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "plain",
                        "filename": str(directory / "homeserver.log"),
                    }
                },
                "root": {"level": "INFO", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        )
    )
    instance = directory / "instance.json"
    instance.write_text(
        json.dumps(
            {
                "listeners": [
                    {
                        "port": port,
                        "bind_addresses": ["127.0.0.1"],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}],
                    }
                ],
                "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
                "pid_file": str(directory / "homeserver.pid"),
                "media_store_path": str(directory / "media_store"),
                "log_config": str(log_config),
            }
        )
    )
    configs = [base_config, common, instance]
    if name == LOW_RATE:
        low = directory / "low-rate.json"
        low.write_text(json.dumps(LOW_RATE_CONFIG))
        configs.append(low)
    args = [str(synapse_python()), "-m", "synapse.app.homeserver"]
    for path in configs:
        args += ["--config-path", str(path)]
    started = time.monotonic()
    with (directory / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(args, cwd=directory, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    server = SynapseServer(name, f"http://127.0.0.1:{port}", shared_secret, directory, process, 0.0)
    deadline = started + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise SynapseStartError(f"Synapse ({name}) exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.base_url + "/_matrix/client/versions", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise SynapseStartError(f"Synapse ({name}) did not answer within {START_TIMEOUT:g}s:\n{server.log_tail()}")
        time.sleep(0.05)
    server.startup_seconds = time.monotonic() - started
    return server


class SynapsePool:
    """Synapse instances of this test session, started on first use and stopped at its end."""

    def __init__(self, parent: str | None = None) -> None:
        """``parent``: where the instances' directories (and their SQLite databases) go; default the
        system's temporary directory (the benchmarks may put them on tmpfs)."""
        self._parent = parent
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._base_config: Path | None = None
        self._shared_secret = secrets.token_hex(16)
        self._servers: dict[str, SynapseServer] = {}
        self._failures: dict[str, str] = {}
        self.generate_seconds = 0.0
        self.report: list[str] = []  # one line per started instance, for the terminal summary

    def server(self, name: str = DEFAULT) -> SynapseServer:
        """The running instance ``name``; raises :class:`SynapseStartError` (cached) if it cannot start."""
        with self._lock:
            if name in self._servers:
                return self._servers[name]
            if name in self._failures:
                raise SynapseStartError(self._failures[name])
            try:
                if self._root is None:
                    self._root = Path(tempfile.mkdtemp(prefix="prikbord-synapse-", dir=self._parent))
                if self._base_config is None:
                    started = time.monotonic()
                    self._base_config = _generate_base_config(self._root)
                    self.generate_seconds = time.monotonic() - started
                server = _start_instance(self._root, self._base_config, name, self._shared_secret)
            except (SynapseStartError, OSError, subprocess.SubprocessError) as exc:
                self._failures[name] = str(exc)
                raise SynapseStartError(str(exc)) from exc
            self._servers[name] = server
            line = (
                f"Synapse {name!r} on {server.base_url}: answered after {server.startup_seconds:.2f}s "
                f"(config generated once in {self.generate_seconds:.2f}s)"
            )
            self.report.append(line)
            print("\n" + line, file=sys.stderr)
            return server

    def close(self) -> None:
        with self._lock:
            for server in self._servers.values():
                server.stop()
            self._servers.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
                self._base_config = None


SYNAPSES = SynapsePool()
# A safety net for an interrupted session; the session fixture below normally stops them first.
atexit.register(SYNAPSES.close)


def require_synapse(name: str = DEFAULT) -> SynapseServer:
    """The instance ``name``, or fail the test with the log tail (in CI and locally: never a skip)."""
    try:
        return SYNAPSES.server(name)
    except SynapseStartError as exc:
        where = "CI" if os.environ.get("CI") else "this machine"
        pytest.fail(f"Synapse could not start on {where}: {exc}", pytrace=False)


# ---------------------------------------------------------------------------------------------
# Fixtures (re-exported by tests/adapters/conftest.py; add this module to ``pytest_plugins`` in
# tests/conftest.py to use them elsewhere).


@pytest.fixture(scope="session", autouse=True)
def _synapse_teardown() -> Iterator[None]:
    """Stops whatever instances the session started (a no-op when none was needed)."""
    yield
    SYNAPSES.close()


@pytest.fixture(scope="session")
def synapse() -> SynapseServer:
    return require_synapse(DEFAULT)


@pytest.fixture(scope="session")
def synapse_low_rate() -> SynapseServer:
    return require_synapse(LOW_RATE)
