"""The embedded SecantusDB server: start, reuse from another process, stale state, release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.server import (
    CACHE_SIZE_ENV,
    LOG_FILE,
    STATE_FILE,
    EmbeddedServerError,
    cache_size,
    find_or_start_server,
    ping,
    resolve_mongo_uri,
)

ROOT = Path(__file__).resolve().parents[1]

RESOLVE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from crawler.archive.server import resolve_mongo_uri
    uri, server = resolve_mongo_uri(None, sys.argv[1])
    print(json.dumps({"uri": uri, "pid": server.pid, "owner": server.owner}), flush=True)
    time.sleep(float(sys.argv[2]))
    server.release()
    """
)


def resolve_in_subprocess(data_dir: Path, hold_seconds: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONGO_URI", None)
    return subprocess.Popen(
        [sys.executable, "-c", RESOLVE_SCRIPT, str(data_dir), str(hold_seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def result_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    answer: dict[str, Any] = json.loads(out)
    return answer


def secantus_pids(data_dir: Path) -> list[int]:
    """Server processes whose command line names this data directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"secantus" in cmdline and str(data_dir).encode() in cmdline:
                pids.append(int(proc.name))
    return pids


def test_given_uri_wins(tmp_path: Path) -> None:
    assert resolve_mongo_uri("mongodb://db.example:27017", tmp_path) == (
        "mongodb://db.example:27017",
        None,
    )
    assert not (tmp_path / STATE_FILE).exists()


def test_start_reuse_from_another_process_and_release(tmp_path: Path) -> None:
    server = find_or_start_server(tmp_path)
    try:
        assert server.owner
        assert "directConnection=true" in server.uri
        assert ping(server.uri)
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert (state["pid"], state["port"]) == (server.pid, server.port)
        assert (tmp_path / "db").is_dir()

        other = result_of(resolve_in_subprocess(tmp_path))
        assert other == {"uri": server.uri, "pid": server.pid, "owner": False}
        # The other process released its handle: the server keeps running for its starter.
        assert ping(server.uri)
        assert secantus_pids(tmp_path) == [server.pid]
    finally:
        server.release()
    assert not ping(server.uri, timeout_ms=300)
    assert not (tmp_path / STATE_FILE).exists()
    assert secantus_pids(tmp_path) == []


def test_concurrent_starts_share_one_server(tmp_path: Path) -> None:
    first = resolve_in_subprocess(tmp_path, hold_seconds=2)
    second = resolve_in_subprocess(tmp_path, hold_seconds=2)
    answers = [result_of(first), result_of(second)]
    assert answers[0]["uri"] == answers[1]["uri"]
    assert sorted(a["owner"] for a in answers) == [False, True]
    assert secantus_pids(tmp_path) == []  # the starter stopped it on release


def test_stale_state_file_is_recovered(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "port": 1, "uri": "mongodb://127.0.0.1:1/?directConnection=true"}
    (tmp_path / STATE_FILE).write_text(json.dumps(stale))
    server = find_or_start_server(tmp_path)
    try:
        assert server.owner and server.pid != dead.pid
        assert ping(server.uri)
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert state["pid"] == server.pid

        # Another client's lease keeps the server up when its starter lets go.
        other = find_or_start_server(tmp_path)
        assert (other.pid, other.owner) == (server.pid, False)
        server.release()
        assert ping(other.uri)
        other.release()
        assert not ping(server.uri, timeout_ms=300)
    finally:
        server.release()


def test_failed_start_reports_log_tail(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("not a directory")  # WiredTiger cannot open its home
    with pytest.raises(EmbeddedServerError) as excinfo:
        find_or_start_server(tmp_path, start_timeout=10)
    assert str(tmp_path / LOG_FILE) in str(excinfo.value)
    assert "FileExistsError" in str(excinfo.value)  # the server's own error, from its log


def test_cache_size_comes_from_the_environment_and_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CACHE_SIZE_ENV, raising=False)
    assert cache_size() == "256M"
    monkeypatch.setenv(CACHE_SIZE_ENV, "2G")
    assert cache_size() == "2G"
    monkeypatch.setenv(CACHE_SIZE_ENV, "lots")
    with pytest.raises(EmbeddedServerError, match="512M or 4G, got 'lots'"):
        find_or_start_server(tmp_path, start_timeout=10)  # refused before any process starts
    assert not (tmp_path / STATE_FILE).exists()
