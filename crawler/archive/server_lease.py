"""Leases on the embedded SecantusDB server, and the supervisor that stops it once unused.

Every process using the embedded server of a ``DATA_DIR`` holds a *lease*: a file
``DATA_DIR/secantusd.leases/<pid>-<random>`` with an exclusive ``flock`` held for as long as its
handle is open. The kernel drops the lock when the process dies, even on SIGKILL, so a lease
never outlives its holder: a lease file whose lock can be taken is dead, and is removed.

Lingering: a client leaving asks the server to stay up its *linger* seconds more, for the next
CLI call or notebook. Its lease file holds that linger; a release pushes the state file's
``linger_until`` to at least now + linger (never back: a client with no linger, a crawl say,
does not cut short another's), as the supervisor does for a lease whose holder died.
``linger_until`` is ``time.monotonic()``: one clock for all processes, unmoved by the wall clock.

The server is started by a small detached supervisor (this file run as a script; it is the
server's parent, so it reaps it). The supervisor stops the server (SIGTERM: WiredTiger closes
cleanly) once no lease is held and ``linger_until`` has passed, and clears the state file when
the server dies; SIGTERM to the supervisor stops the server too. A client releasing the last
lease once the linger has passed (a linger of 0) stops the server at once itself, so such a CLI
call leaves nothing behind; the supervisor covers lingering and holders that die without
releasing. All of this happens under ``DATA_DIR/secantusd.lock``, the lock under which clients
find or start the server, so nobody picks up a server that is shutting down and no lease is
taken while leases are counted.

Standard library only (it is run by path, not imported as part of the package): the supervisor
starts in tens of milliseconds and stays small while it waits.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STATE_FILE = "secantusd.json"
LOCK_FILE = "secantusd.lock"
LEASE_DIR = "secantusd.leases"
STOP_TIMEOUT_SECONDS = 15.0
#: How often the supervisor looks at the leases (it wakes at once when the server exits).
POLL_SECONDS = 0.5
#: Environment variable: seconds the server stays up after its last client (the default is
#: ``crawler.settings.EMBEDDED_SERVER_LINGER_SECONDS``; read by :mod:`crawler.archive.server`).
LINGER_ENV = "EMBEDDED_SERVER_LINGER_SECONDS"
#: State file key: the ``time.monotonic()`` until which an unused server is kept up.
LINGER_UNTIL = "linger_until"
_WAKE_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``root/secantusd.lock`` exclusively (blocking)."""
    with open(root / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_state(root: Path) -> dict[str, object] | None:
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(root: Path, state: dict[str, object]) -> None:
    """Write atomically: a reader never sees half a file, a full disk leaves no partial one."""
    tmp = root / f"{STATE_FILE}.tmp"
    try:
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(root / STATE_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def clear_state(root: Path, pid: int) -> None:
    """Remove the state file if it still names server ``pid`` (never a successor's)."""
    state = read_state(root)
    if state is not None and state.get("pid") == pid:
        (root / STATE_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
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


def is_secantus(pid: int, root: Path | None = None) -> bool:
    """Best effort: is ``pid`` a SecantusDB server (of ``root``, if given), and not an
    unrelated reuse of the pid?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: assume it is, the safe answer
    return b"secantus" in cmdline and (root is None or str(root).encode() in cmdline)


def is_supervisor(pid: int) -> bool:
    """Is ``pid`` alive and a supervisor (this file), not an unrelated reuse of the pid?"""
    try:
        return (
            pid_alive(pid)
            and Path(__file__).name.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
    except OSError:
        return pid_alive(pid)


def stop_server(pid: int, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM (the server closes WiredTiger cleanly), then SIGKILL if it hangs."""
    if not (pid_alive(pid) and is_secantus(pid)):
        return  # gone already, or the pid now belongs to someone else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    print(f"SecantusDB pid {pid} ignored SIGTERM for {timeout}s; killing it", file=sys.stderr)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def parse_linger(raw: str | float) -> float:
    """A linger in seconds: a finite number, 0 or more. Raises ValueError for anything else
    (an infinite one would keep a forgotten server up for ever; ``serve`` is for that)."""
    seconds = float(raw)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"not a number of seconds, 0 or more: {raw!r}")
    return seconds


def extend_linger(root: Path, seconds: float) -> None:
    """Keep the server of ``root`` up, unused, at least ``seconds`` from now; never shortens
    the wait another client asked for. Call under :func:`locked`."""
    state = read_state(root)
    if state is None or seconds <= 0:
        return
    until = time.monotonic() + seconds
    if until > linger_until(state):
        write_state(root, {**state, LINGER_UNTIL: until})


def linger_until(state: dict[str, object]) -> float:
    """The ``time.monotonic()`` until which the server is to stay up unused (0: not at all)."""
    until = state.get(LINGER_UNTIL)
    return float(until) if isinstance(until, (int, float)) else 0.0


class Lease:
    """One client's claim on the server of ``root``: held until :meth:`drop` or process death.

    The file holds the client's linger (seconds, as text), applied by the supervisor if the
    client dies without releasing. A raw file descriptor, not a file object: a handle never
    released keeps its lease for the life of its process instead of losing it to the garbage
    collector. Not inherited by child processes (descriptors are non-inheritable by default),
    so a crawl the runner starts holds its own leases, not its parent's.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, root: Path, linger: float = 0.0) -> Lease:
        """A new lease; call under :func:`locked` so a count never misses it."""
        directory = root / LEASE_DIR
        directory.mkdir(exist_ok=True)
        path = directory / f"{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Written under the lock, read only by whoever finds the lock free: never half-read.
        # Unwritten (a full disk), the supervisor's own linger applies if this holder dies.
        with contextlib.suppress(OSError):
            os.write(fd, repr(linger).encode("ascii"))
        return cls(path, fd)

    def drop(self) -> None:
        if self._fd is None:
            return
        # Unlink before unlocking: a prober never finds an unlocked file that is still ours.
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


@dataclass(frozen=True)
class StopResult:
    """What :func:`stop_if_unused` found: the server's pid (None: none ran) and the pids of
    the clients holding leases on it (then it was left running)."""

    pid: int | None
    holders: tuple[int, ...] = ()

    @property
    def stopped(self) -> bool:
        return self.pid is not None and not self.holders


def stop_if_unused(data_dir: str | os.PathLike[str]) -> StopResult:
    """Stop the server of ``data_dir`` now if no client holds a lease on it: a lingering
    server, say. A server in use is left running (its clients are named in the result)."""
    root = Path(data_dir).resolve()
    if not root.is_dir():
        return StopResult(None)
    with locked(root):
        state = read_state(root)
        pid = state.get("pid") if state is not None else None
        if not isinstance(pid, int):
            return StopResult(None)
        if not (pid_alive(pid) and is_secantus(pid, root)):
            clear_state(root, pid)
            return StopResult(None)
        holders = tuple(lease_holders(root))
        if holders:
            return StopResult(pid, holders)
        stop_server(pid)
        clear_state(root, pid)
    return StopResult(pid)


def lease_holders(root: Path, dead_linger: float = 0.0) -> list[int]:
    """The pids holding leases (one entry a lease). Removes dead lease files, first keeping the
    server up for the linger each recorded (``dead_linger`` if it recorded none), as its holder
    would have asked on releasing. Call under :func:`locked`."""
    directory = root / LEASE_DIR
    try:
        paths = list(directory.iterdir())
    except OSError:
        return []
    holders: list[int] = []
    for path in paths:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = path.name.split("-", 1)[0]
            holders.append(int(pid) if pid.isdigit() else 0)
        else:  # nobody holds it: its holder died without dropping it
            extend_linger(root, _recorded_linger(fd, dead_linger))
            with contextlib.suppress(OSError):
                path.unlink()
        finally:
            os.close(fd)
    return holders


def _recorded_linger(fd: int, default: float) -> float:
    try:
        return parse_linger(os.pread(fd, 64, 0).decode("ascii"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return default  # a lease of an older version (empty), or cut short by a full disk


def spawn_supervisor(
    root: Path, command: Sequence[str], log_path: Path, linger: float
) -> tuple[int, int]:
    """Start ``command`` (the server) under a detached supervisor; returns (supervisor, server)
    pids. Raises OSError if the supervisor did not report a server."""
    # The command goes over stdin, not argv: a supervisor must not look like a server to
    # anyone looking for "secantus" processes (is_secantus, pgrep).
    return _spawn(
        ["supervise", "--root", str(root), "--linger", str(linger)],
        log_path,
        json.dumps(list(command)).encode("utf-8"),
    )


def spawn_watcher(root: Path, pid: int, log_path: Path, linger: float) -> int:
    """Supervise an already running server ``pid`` (one whose supervisor died)."""
    watcher, _ = _spawn(
        ["watch", "--root", str(root), "--linger", str(linger), "--pid", str(pid)], log_path, b""
    )
    return watcher


def _spawn(arguments: list[str], log_path: Path, command: bytes) -> tuple[int, int]:
    with open(log_path, "ab") as log:
        starter = subprocess.Popen(
            # Isolated (-I): run by path, this file's directory must not shadow stdlib modules.
            [sys.executable, "-I", str(Path(__file__).resolve()), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    assert starter.stdin is not None and starter.stdout is not None
    with starter.stdin:
        starter.stdin.write(command)
    with starter.stdout:
        line = starter.stdout.readline().decode("ascii", "replace").split()
    starter.wait()  # the first process exits as soon as it has forked the supervisor
    if len(line) != 2 or not all(part.isdigit() for part in line):
        raise OSError(f"the server supervisor did not start (see {log_path})")
    return int(line[0]), int(line[1])


def _supervise(root: Path, pid: int, child: subprocess.Popen[bytes] | None, linger: float) -> None:
    """Stop server ``pid`` once no lease is held and the state's ``linger_until`` has passed
    (``linger``: for a dead holder's lease that recorded no linger), or when signalled."""
    stop = False
    while True:
        woke = signal.sigtimedwait(_WAKE_SIGNALS, POLL_SECONDS)
        if woke is not None and woke.si_signo != signal.SIGCHLD:
            stop = True
        with locked(root):
            # Looked at under the lock: a client may have stopped it while we waited for it.
            state = read_state(root)
            if _exited(pid, child):
                if state is not None and state.get("pid") == pid:  # nobody stopped it: it died
                    clear_state(root, pid)
                    _log(f"SecantusDB pid {pid} exited on its own (killed or crashed)")
                return
            unused = not lease_holders(root, linger)
            if unused:
                state = read_state(root)  # a dead lease may have pushed linger_until
            expired = state is None or time.monotonic() >= linger_until(state)
            if stop or (unused and expired):
                _log(f"stopping SecantusDB pid {pid}: {'asked to' if stop else 'no clients'}")
                stop_server(pid)
                clear_state(root, pid)
                if child is not None:
                    child.wait()
                return


def _exited(pid: int, child: subprocess.Popen[bytes] | None) -> bool:
    return child.poll() is not None if child is not None else not pid_alive(pid)


def _log(message: str) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} supervisor: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("mode", choices=["supervise", "watch"])
    parser.add_argument("--root", type=Path, required=True)
    # For a dead holder's lease that recorded no linger (one taken by an older version).
    parser.add_argument("--linger", type=float, default=0.0)
    parser.add_argument("--pid", type=int)
    args = parser.parse_args(argv)
    command = json.loads(sys.stdin.buffer.read() or b"[]")
    if (args.mode == "watch" and args.pid is None) or (args.mode == "supervise" and not command):
        parser.error("supervise takes a command on stdin, watch takes --pid")
    # Detach: the starter waits only for this first process; the supervisor lives on in a
    # session of its own (a terminal's Ctrl-C must not stop the server under a crawl's flush).
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAKE_SIGNALS)
    child: subprocess.Popen[bytes] | None = None
    if args.mode == "supervise":
        # The server must not inherit the blocked signal mask: it handles SIGTERM itself.
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
            stderr=sys.stderr.fileno(),
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAKE_SIGNALS),
        )
        pid = child.pid
    else:
        pid = args.pid
    print(os.getpid(), pid, flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the starter's pipe closes: it reads no further
    os.close(devnull)
    _supervise(args.root.resolve(), pid, child, args.linger)


if __name__ == "__main__":
    main()
