"""Choose the archive's MongoDB server: the one configured, or the embedded SecantusDB server.

With no ``MONGO_URI`` the archive lives in a SecantusDB server (a MongoDB-compatible server on
WiredTiger) whose data is under ``DATA_DIR/db``. It runs as a child process, not in-process, so
its request handling doesn't compete with Scrapy for our GIL.

WiredTiger locks its directory, so only one server may run per ``DATA_DIR``. The first process
starts it and records it in ``DATA_DIR/secantusd.json``; every later process (a CLI run during
a crawl, a second crawl) finds that record, checks the server answers ``ping`` and reuses it.
An exclusive ``flock`` on ``DATA_DIR/secantusd.lock`` makes find-or-start atomic across
processes. Only the process that started the server stops it (:meth:`EmbeddedServer.release`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
STATE_FILE = "secantusd.json"
LOCK_FILE = "secantusd.lock"
LOG_FILE = "secantusd.log"
CONFIG_FILE = "secantusd.toml"
DB_SUBDIR = "db"
#: WiredTiger cache; the default (1G) is sized for a database server, not a crawler's archive.
CACHE_SIZE = "256M"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or found."""


@dataclass
class EmbeddedServer:
    """A SecantusDB server for ``data_dir``; ``owner`` is true in the process that started it."""

    uri: str
    port: int
    pid: int
    data_dir: Path
    owner: bool
    process: subprocess.Popen[bytes] | None = None

    def release(self) -> None:
        """Stop the server if this process started it; a process that reused it leaves it running.

        Held under the lock so a process looking for the server never picks up one that is
        shutting down.
        """
        if not self.owner:
            return
        self.owner = False
        with _locked(self.data_dir):
            _stop_process(self.pid, self.process)
            state = _read_state(self.data_dir)
            if state is not None and state.get("pid") == self.pid:
                (self.data_dir / STATE_FILE).unlink(missing_ok=True)
        logger.info("Stopped the embedded SecantusDB server (pid %s)", self.pid)


def server_uri(port: int) -> str:
    """URI for a server on localhost; ``directConnection`` because it advertises a replica set."""
    return f"mongodb://{HOST}:{port}/?directConnection=true"


def resolve_mongo_uri(
    mongo_uri: str | None, data_dir: str | os.PathLike[str]
) -> tuple[str, EmbeddedServer | None]:
    """Return the URI to use and, when it is the embedded server, its handle (call ``release``).

    ``mongo_uri`` (the MONGO_URI setting or environment variable) wins when set.
    """
    if mongo_uri:
        return mongo_uri, None
    server = find_or_start_server(data_dir)
    return server.uri, server


def find_or_start_server(
    data_dir: str | os.PathLike[str], start_timeout: float = START_TIMEOUT_SECONDS
) -> EmbeddedServer:
    """Reuse the server running for ``data_dir``, or start one."""
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        server = _find_running(root)
        if server is None:
            server = _start(root, start_timeout)
            action = "Started"
        else:
            action = "Reusing"
    logger.info(
        "%s the embedded SecantusDB server (pid %s); archive data in %s; connect with: "
        'mongosh "%s"',
        action,
        server.pid,
        root / DB_SUBDIR,
        server.uri,
    )
    return server


def ping(uri: str, timeout_ms: int = 1000) -> bool:
    """True if a server answers ``ping`` at ``uri`` within ``timeout_ms``."""
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(root: Path) -> dict[str, object] | None:
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _write_state(root: Path, state: dict[str, object]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = root / f"{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(root / STATE_FILE)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_secantus(pid: int) -> bool:
    """Best effort: is ``pid`` a SecantusDB server (and not an unrelated reuse of the pid)?"""
    try:
        return b"secantus" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: assume it is, the safe answer


def _find_running(root: Path) -> EmbeddedServer | None:
    state = _read_state(root)
    if state is None:
        return None
    pid, port = state.get("pid"), state.get("port")
    if not isinstance(pid, int) or not isinstance(port, int):
        logger.warning("Ignoring malformed %s", root / STATE_FILE)
        return None
    if not (_pid_alive(pid) and _is_secantus(pid)):
        logger.info("Embedded server state is stale (pid %s is gone); starting a new one", pid)
        return None
    uri = server_uri(port)
    if ping(uri, timeout_ms=5000):
        owner_pid = state.get("owner_pid")
        if isinstance(owner_pid, int) and _pid_alive(owner_pid):
            return EmbeddedServer(uri=uri, port=port, pid=pid, data_dir=root, owner=False)
        # Its starter died without stopping it: adopt it, so someone stops it eventually.
        logger.info("Adopting the embedded server (pid %s): its starter has exited", pid)
        _write_state(root, {**state, "owner_pid": os.getpid()})
        return EmbeddedServer(uri=uri, port=port, pid=pid, data_dir=root, owner=True)
    raise EmbeddedServerError(
        f"SecantusDB pid {pid} holds {root / DB_SUBDIR} but does not answer on {uri}; "
        f"stop it (kill {pid}) and retry. Server log tail:\n{_log_tail(root)}"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _start(root: Path, timeout: float, attempts: int = 3) -> EmbeddedServer:
    """Start a server; retry on a new port if it dies early (another process took the port)."""
    config = root / CONFIG_FILE
    if not config.exists():
        # An explicit (empty) config stops the server auto-discovering ./secantusd.toml.
        config.write_text("# Settings for the embedded archive server; flags override.\n")
    for attempt in range(1, attempts + 1):
        port = _free_port()
        uri = server_uri(port)
        cmd = [
            sys.executable, "-m", "secantus",
            "--config", str(config),
            "--host", HOST,
            "--port", str(port),
            "--storage-path", str(root / DB_SUBDIR),
            "--cache-size", CACHE_SIZE,
            "--log-level", "WARNING",
        ]  # fmt: skip
        with open(root / LOG_FILE, "ab") as log:
            # A new session: Ctrl-C on the crawl must not kill the server before the final flush.
            process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        if _wait_ready(uri, process, timeout):
            state = {
                "pid": process.pid,
                "port": port,
                "uri": uri,
                "storage_path": str(root / DB_SUBDIR),
                "started_at": datetime.now(UTC).isoformat(),
                "owner_pid": os.getpid(),
            }
            _write_state(root, state)
            return EmbeddedServer(uri, port, process.pid, root, owner=True, process=process)
        if process.poll() is None:  # alive but never answered: give up
            _stop_process(process.pid, process)
            break
        logger.warning("SecantusDB exited with %s (attempt %s)", process.returncode, attempt)
    raise EmbeddedServerError(
        f"SecantusDB did not start for {root / DB_SUBDIR} within {timeout:.0f}s. "
        f"Server log ({root / LOG_FILE}) tail:\n{_log_tail(root)}"
    )


def _wait_ready(uri: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ping(uri, timeout_ms=300):
            return True
        time.sleep(0.1)
    return False


def _stop_process(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (the server closes WiredTiger cleanly), then SIGKILL if it hangs."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not _pid_alive(pid):
            return
        time.sleep(0.05)
    logger.warning(
        "SecantusDB pid %s ignored SIGTERM for %ss; killing it", pid, STOP_TIMEOUT_SECONDS
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait()


def _log_tail(root: Path, lines: int = 30) -> str:
    try:
        text = (root / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
