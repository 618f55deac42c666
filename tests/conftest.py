"""Shared pytest fixtures.

Archive tests run against a real MongoDB-compatible server, never a fake: ``MONGO_URI`` when
set, else one SecantusDB server started for the whole session in a temporary directory.

Embedded servers in tests do not linger: ``EMBEDDED_SERVER_LINGER_SECONDS`` is 0 for this
process and every process it starts (a test that needs a linger sets one itself), so a test's
temporary DATA_DIR has no server left once its clients are done, and the session checks at its
end that none is left (:func:`no_server_outlives_the_session`).
"""

from __future__ import annotations

import os

# Before any crawler import: crawler.settings reads it when first imported. Set, not
# defaulted: a linger exported in the developer's shell must not leave servers behind.
os.environ["EMBEDDED_SERVER_LINGER_SECONDS"] = "0"

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.server import find_or_start_server
from crawler.archive.store import connect

#: How long servers still stopping at the session's end (a supervisor's last poll, a stop in
#: progress) get before they count as left behind.
LEFTOVER_GRACE_SECONDS = 20.0


def servers_under(root: Path) -> list[int]:
    """Live SecantusDB servers (not zombies) whose command line names a path under ``root``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"secantus" in cmdline and str(root).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the session's end, no embedded server runs on a test's DATA_DIR: one that does is
    killed, and reported as an error of the session."""
    yield
    root = tmp_path_factory.getbasetemp().resolve()
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while (left := servers_under(root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"embedded servers left running under {root} (killed): {left}"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of the server the archive tests use (one per session)."""
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    server = find_or_start_server(tmp_path_factory.mktemp("secantus"))
    try:
        yield server.uri
    finally:
        server.release()


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[Database[dict[str, Any]]]:
    """A fresh, uniquely named database, dropped after the test."""
    db = connect(mongo_uri, f"test_{uuid.uuid4().hex[:12]}")
    try:
        yield db
    finally:
        db.client.drop_database(db.name)
        db.client.close()
