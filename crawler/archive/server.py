"""Choose the archive's MongoDB server: the one configured, or the embedded SecantusDB server.

With no ``MONGO_URI`` the archive lives in a SecantusDB server (a MongoDB-compatible server on
WiredTiger) whose data is under ``DATA_DIR/db``. It runs as a separate process, not in-process,
so its request handling doesn't compete with Scrapy for our GIL.

WiredTiger locks its directory, so only one server may run per ``DATA_DIR``. The first process
that needs it starts it and records it in ``DATA_DIR/secantusd.json``; every later process (a
CLI run during a crawl, a second crawl, a notebook) finds that record, checks the server answers
``ping`` and reuses it. An exclusive ``flock`` on ``DATA_DIR/secantusd.lock`` makes
find-or-start atomic across processes.

The server lives while anyone uses it, whoever started it: every handle holds a lease
(:mod:`crawler.archive.server_lease`). When the last lease is gone (released, or its holder
died), the server stays up *linger* seconds more, so that the next CLI call or notebook
reuses it instead of paying some seconds to start a server and stop it again; then it stops.
Each handle has its linger (``EMBEDDED_SERVER_LINGER_SECONDS``: the environment variable for
the CLI and notebooks, the setting of that name for crawls, default 600 s in
:mod:`crawler.settings`; 0 stops the server as soon as its last client leaves), and the
longest wait asked for wins: a crawl with a linger of 0 does not stop a server a CLI call
asked to keep. :func:`stop_if_unused` (``python -m crawler serve --stop``) stops a lingering
server at once; ``python -m crawler serve`` holds one up for as long as it runs. A client whose
server was killed calls :func:`find_or_start_server` again (or :meth:`EmbeddedServer.refresh`)
and gets a new one.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from crawler import settings
from crawler.archive.server_lease import (
    LEASE_DIR,
    LINGER_ENV,
    LOCK_FILE,
    STATE_FILE,
    STOP_TIMEOUT_SECONDS,
    Lease,
    StopResult,
    clear_state,
    extend_linger,
    is_secantus,
    is_supervisor,
    lease_holders,
    linger_until,
    locked,
    parse_linger,
    pid_alive,
    read_state,
    spawn_supervisor,
    spawn_watcher,
    stop_if_unused,
    stop_server,
    write_state,
)

__all__ = [
    "LEASE_DIR",
    "LINGER_ENV",
    "LOCK_FILE",
    "STATE_FILE",
    "STOP_TIMEOUT_SECONDS",
    "EmbeddedServer",
    "EmbeddedServerError",
    "StopResult",
    "default_linger",
    "find_or_start_server",
    "ping",
    "resolve_mongo_uri",
    "server_uri",
    "stop_if_unused",
]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOG_FILE = "secantusd.log"
CONFIG_FILE = "secantusd.toml"
DB_SUBDIR = "db"
#: WiredTiger cache; the default (1G) is sized for a database server, not a crawler's archive.
CACHE_SIZE = "256M"
#: Environment variable for another cache size (``1G``, ``4G``), read by whichever process starts
#: the server: an archive past ~10,000 records outgrows 256M, and once its indexes no longer fit,
#: WiredTiger's eviction makes every insert many times slower (seen generating 100k records).
CACHE_SIZE_ENV = "EMBEDDED_SERVER_CACHE_SIZE"
_CACHE_SIZE_SHAPE = re.compile(r"[1-9][0-9]*[MG]")
#: Seconds a server that is still running may take to answer: opening a large archive takes
#: a while (a 410,000-record one took more than 30 s with a cold page cache).
START_TIMEOUT_SECONDS = 180.0


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or found."""


@dataclass
class EmbeddedServer:
    """A handle on the SecantusDB server for ``data_dir``, holding a lease on it until
    :meth:`release`. ``owner`` is true in the handle whose call started the server (for
    information only: the server stops when its last lease goes, whoever started it).
    ``linger``: seconds the server is to stay up after this handle is released, if nobody
    else uses it by then."""

    uri: str
    port: int
    pid: int
    data_dir: Path
    owner: bool
    lease: Lease | None = field(default=None, repr=False)
    linger: float = 0.0

    def alive(self) -> bool:
        """True while the server process runs (a slow server is still alive)."""
        return pid_alive(self.pid) and is_secantus(self.pid, self.data_dir)

    def refresh(self, start_timeout: float = START_TIMEOUT_SECONDS) -> None:
        """If the server is gone, find the one running now or start one; the lease is kept."""
        if self.alive():
            return
        with locked(self.data_dir):
            current = _find_running(self.data_dir) or _start(self.data_dir, start_timeout)
        logger.info("The embedded server (pid %s) is gone; now using pid %s", self.pid, current.pid)
        self.uri, self.port, self.pid = current.uri, current.port, current.pid

    def release(self) -> None:
        """Drop this handle's lease and ask the server to stay up :attr:`linger` seconds more;
        stop it now if nobody else holds a lease and no client's linger is left. Idempotent.

        The linger is recorded even while others hold leases, so that it still counts when
        they leave before it is over. Under the lock, so a process looking for the server never
        picks up one that is shutting down, and no lease is taken while the others are counted.
        """
        if self.lease is None:
            return
        with locked(self.data_dir):
            self.lease.drop()
            self.lease = None
            state = read_state(self.data_dir)
            if state is None:
                return  # stopped already (killed, or by a supervisor)
            pid = state.get("pid")
            if not isinstance(pid, int):
                return
            extend_linger(self.data_dir, self.linger)
            if lease_holders(self.data_dir):
                return
            state = read_state(self.data_dir) or state  # as extended, by us or a dead lease
            left = linger_until(state) - time.monotonic()
            supervisor = state.get("supervisor_pid")
            if left > 0 and isinstance(supervisor, int) and is_supervisor(supervisor):
                logger.info(
                    "The embedded SecantusDB server (pid %s) stays up %.0f s more for the next "
                    "client (python -m crawler serve --stop stops it now)",
                    pid,
                    left,
                )
                return  # its supervisor stops it when the linger is over
            stop_server(pid)
            clear_state(self.data_dir, pid)
        logger.info("Stopped the embedded SecantusDB server (pid %s): no other clients", pid)


def default_linger() -> float:
    """This process's linger: env ``EMBEDDED_SERVER_LINGER_SECONDS`` as it is now, else
    :data:`crawler.settings.EMBEDDED_SERVER_LINGER_SECONDS`. Raises
    :class:`EmbeddedServerError` for a value that is not a number of seconds, 0 or more."""
    raw = os.environ.get(LINGER_ENV) or settings.EMBEDDED_SERVER_LINGER_SECONDS
    try:
        return parse_linger(raw)
    except (TypeError, ValueError):
        raise EmbeddedServerError(
            f"{LINGER_ENV} must be a number of seconds, 0 or more, got {raw!r}"
        ) from None


def cache_size() -> str:
    """The WiredTiger cache for a server started now: env ``EMBEDDED_SERVER_CACHE_SIZE``
    (megabytes or gigabytes: ``512M``, ``4G``) or :data:`CACHE_SIZE`. Raises
    :class:`EmbeddedServerError` for another shape."""
    raw = os.environ.get(CACHE_SIZE_ENV, "").strip() or CACHE_SIZE
    if not _CACHE_SIZE_SHAPE.fullmatch(raw):
        raise EmbeddedServerError(f"{CACHE_SIZE_ENV} must look like 512M or 4G, got {raw!r}")
    return raw


def server_uri(port: int, host: str = HOST) -> str:
    """URI for a server listening on ``host``; ``directConnection`` because it advertises a
    replica set. A wildcard address is reached on localhost."""
    connect_to = HOST if host in {"", "0.0.0.0", "::"} else host
    if ":" in connect_to:
        connect_to = f"[{connect_to}]"
    return f"mongodb://{connect_to}:{port}/?directConnection=true"


def resolve_mongo_uri(
    mongo_uri: str | None, data_dir: str | os.PathLike[str], *, linger: float | None = None
) -> tuple[str, EmbeddedServer | None]:
    """Return the URI to use and, when it is the embedded server, its handle (call ``release``).

    ``mongo_uri`` (the MONGO_URI setting or environment variable) wins when set. ``linger``:
    as for :func:`find_or_start_server`.
    """
    if mongo_uri:
        return mongo_uri, None
    server = find_or_start_server(data_dir, linger=linger)
    return server.uri, server


def find_or_start_server(
    data_dir: str | os.PathLike[str],
    start_timeout: float = START_TIMEOUT_SECONDS,
    *,
    host: str = HOST,
    port: int | None = None,
    linger: float | None = None,
) -> EmbeddedServer:
    """Reuse the server running for ``data_dir``, or start one (on ``host``:``port``, default a
    free port on localhost). The handle holds a lease: call :meth:`EmbeddedServer.release`.

    ``linger``: seconds the server is to stay up after this handle's release (or this
    process's death) if nobody else uses it; None: :func:`default_linger`. Benches and tests
    on a throw-away ``data_dir`` pass 0.
    """
    linger = default_linger() if linger is None else parse_linger(linger)
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with locked(root):
        server = _find_running(root)
        if server is None:
            server = _start(root, start_timeout, host=host, port=port, fallback_linger=linger)
            action = "Started"
        else:
            action = "Reusing"
        server.lease = Lease.take(root, linger)
        server.linger = linger
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


def _find_running(root: Path) -> EmbeddedServer | None:
    """The server the state file names, if it runs; call under the lock."""
    state = read_state(root)
    if state is None:
        return None
    pid, port = state.get("pid"), state.get("port")
    if not isinstance(pid, int) or not isinstance(port, int):
        logger.warning("Ignoring malformed %s", root / STATE_FILE)
        return None
    if not (pid_alive(pid) and is_secantus(pid, root)):
        logger.info("Embedded server state is stale (pid %s is gone); starting a new one", pid)
        return None
    recorded = state.get("uri")
    uri = recorded if isinstance(recorded, str) and recorded else server_uri(port)
    if not ping(uri, timeout_ms=5000):
        raise EmbeddedServerError(
            f"SecantusDB pid {pid} holds {root / DB_SUBDIR} but does not answer on {uri}; "
            f"stop it (kill {pid}) and retry. Server log tail:\n{_log_tail(root)}"
        )
    supervisor = state.get("supervisor_pid")
    if not (isinstance(supervisor, int) and is_supervisor(supervisor)):
        # Its supervisor was killed (or an older version started it): without one, a server
        # whose last client dies without releasing would run forever.
        linger = state.get("linger_seconds")
        linger = float(linger) if isinstance(linger, (int, float)) else default_linger()
        try:
            watcher = spawn_watcher(root, pid, root / LOG_FILE, linger)
        except OSError as exc:
            logger.warning("Could not supervise the embedded server (pid %s): %s", pid, exc)
        else:
            write_state(root, {**state, "supervisor_pid": watcher, "linger_seconds": linger})
    return EmbeddedServer(uri=uri, port=port, pid=pid, data_dir=root, owner=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _start(
    root: Path,
    timeout: float,
    attempts: int = 3,
    *,
    host: str = HOST,
    port: int | None = None,
    fallback_linger: float = 0.0,
) -> EmbeddedServer:
    """Start a server under its supervisor; call under the lock. Without a fixed ``port``,
    retry on a new one if it dies early (another process took the port). ``fallback_linger``
    is for the supervisor, for a dead client's lease that recorded none."""
    config = root / CONFIG_FILE
    if not config.exists():
        # An explicit (empty) config stops the server auto-discovering ./secantusd.toml.
        config.write_text("# Settings for the embedded archive server; flags override.\n")
    linger = fallback_linger
    cache = cache_size()
    for attempt in range(1, attempts + 1):
        listen_port = port or _free_port()
        uri = server_uri(listen_port, host)
        cmd = [
            sys.executable, "-m", "secantus",
            "--config", str(config),
            "--host", host,
            "--port", str(listen_port),
            "--storage-path", str(root / DB_SUBDIR),
            "--cache-size", cache,
            "--log-level", "WARNING",
            # Standalone: no oplog. The archive uses no change streams or transactions, and a
            # replica set's oplog, once past its 100,000-entry cap, is pruned on every write, at
            # a cost that grows with the archive (seen filling a 100k-record archive).
            "--standalone",
        ]  # fmt: skip
        try:
            supervisor, pid = spawn_supervisor(root, cmd, root / LOG_FILE, linger)
        except OSError as exc:
            raise EmbeddedServerError(f"{exc}. Log tail:\n{_log_tail(root)}") from exc
        if _wait_ready(uri, pid, timeout):
            state: dict[str, object] = {
                "pid": pid,
                "port": listen_port,
                "uri": uri,
                "storage_path": str(root / DB_SUBDIR),
                "started_at": datetime.now(UTC).isoformat(),
                "supervisor_pid": supervisor,
                "linger_seconds": linger,
            }
            write_state(root, state)
            return EmbeddedServer(uri, listen_port, pid, root, owner=True)
        if pid_alive(pid):  # alive but never answered: give up
            stop_server(pid)
            break
        logger.warning("SecantusDB exited early (attempt %s)", attempt)
        if port is not None:
            break  # a port asked for (serve) is not swapped for another
    where = f"{host}:{port}" if port is not None else "localhost"
    raise EmbeddedServerError(
        f"SecantusDB did not start on {where} for {root / DB_SUBDIR} within {timeout:.0f}s "
        f"(it exited early: port in use? or it never answered). "
        f"Server log ({root / LOG_FILE}) tail:\n{_log_tail(root)}"
    )


def _wait_ready(uri: str, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return False
        if ping(uri, timeout_ms=300):
            return True
        time.sleep(0.1)
    return False


def _log_tail(root: Path, lines: int = 30) -> str:
    try:
        text = (root / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
