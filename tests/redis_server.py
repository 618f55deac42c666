"""Debian's ``redis-server`` on a free port of 127.0.0.1, for the shared-frontier tests and
``bench/bench_frontier.py``; ``redis-cli`` to look inside."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.mirror import free_port

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """Debian's redis-server on a free port, persisting every write to its append-only file,
    so that a stop and a start is the restart a machine's reboot would be."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while redis_cli(self.url, "ping").strip() != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # a clean shutdown, as systemd's restart does
            self.process.wait(timeout=10)
            self.process = None


def redis_cli(redis_url: str, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-u", redis_url, *args], capture_output=True, text=True)
    return done.stdout
