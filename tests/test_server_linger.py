"""Issue 10, point 4: no start-up tax. The embedded server lingers after its last client.

A CLI call or a notebook leaving the embedded server asks it to stay up its linger
(``EMBEDDED_SERVER_LINGER_SECONDS``) more, so the next one reuses it instead of paying seconds
to start a server and stop it again; the longest linger asked for wins; a lingering server
still stops when its window is over, and ``serve --stop`` stops it at once. Real processes and
a real SecantusDB server, with short lingers set here explicitly (``tests/conftest.py`` sets 0
for every other test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from crawler.archive.location import ArchiveLocation
from crawler.archive.server import (
    LINGER_ENV,
    STATE_FILE,
    EmbeddedServerError,
    default_linger,
    find_or_start_server,
    ping,
    stop_if_unused,
)
from crawler.config import SettingError
from tests.mirror import EXPECTED_URLS, FAST_SETTINGS, REPO_DIR, MirrorServer
from tests.test_fault_server_lease import (
    LEASE_DIR,
    Holder,
    client_env,
    nothing_left_running,
    server_processes,
    wait_for,
)


def linger_env(seconds: float) -> dict[str, str]:
    """A client's environment with this linger."""
    return {**client_env(), LINGER_ENV: str(seconds)}


def cli(data_dir: Path, *args: str, linger: float = 0) -> subprocess.CompletedProcess[str]:
    """``python -m crawler --data-dir DATA_DIR ARGS...`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "crawler", "--data-dir", str(data_dir), *args],
        cwd=REPO_DIR,
        env=linger_env(linger),
        capture_output=True,
        text=True,
        timeout=120,
    )


def server_state(data_dir: Path) -> dict[str, object]:
    return dict(json.loads((data_dir / STATE_FILE).read_text()))


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh DATA_DIR; whatever server a failing test left behind for it is killed."""
    path = tmp_path / "data"
    path.mkdir()
    try:
        yield path
    finally:
        for pid in server_processes(path):
            os.kill(pid, signal.SIGKILL)


def test_a_second_cli_call_within_the_linger_reuses_the_running_server(data_dir: Path) -> None:
    started = time.perf_counter()
    first = cli(data_dir, "stats", linger=60)
    first_seconds = time.perf_counter() - started
    assert first.returncode == 0, first.stderr
    # The call is over, and its server is still up, nobody holding a lease on it.
    state = server_state(data_dir)
    assert ping(str(state["uri"]))
    assert list((data_dir / LEASE_DIR).iterdir()) == []

    started = time.perf_counter()
    second = cli(data_dir, "stats", linger=60)
    second_seconds = time.perf_counter() - started
    assert second.returncode == 0, second.stderr
    again = server_state(data_dir)
    # The same server (same process, same start), not a new one on the same port.
    assert (again["pid"], again["started_at"]) == (state["pid"], state["started_at"])
    assert second.stdout == first.stdout
    print(f"\nCLI `stats`: first {first_seconds:.2f} s (starts the server), second "
          f"{second_seconds:.2f} s (reuses pid {state['pid']})")  # fmt: skip

    stopped = cli(data_dir, "serve", "--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"Stopped the server for {data_dir} (pid {state['pid']})" in stopped.stderr
    nothing_left_running(data_dir)
    assert not (data_dir / STATE_FILE).exists()
    nothing = cli(data_dir, "serve", "--stop")
    assert (nothing.returncode, nothing.stderr.strip()) == (0, f"No server runs for {data_dir}.")


def test_a_lingering_server_stops_when_its_window_is_over(data_dir: Path) -> None:
    done = cli(data_dir, "stats", linger=2)
    left_at = time.monotonic()
    assert done.returncode == 0, done.stderr
    pid = server_state(data_dir)["pid"]
    assert isinstance(pid, int) and server_processes(data_dir, supervisors=False) == [pid]
    wait_for(lambda: not server_processes(data_dir, supervisors=False), "the server to stop", 30)
    assert time.monotonic() - left_at >= 1.5, "stopped before its linger was over"
    wait_for(lambda: not (data_dir / STATE_FILE).exists(), "the state file to be cleared", 10)
    nothing_left_running(data_dir)


def test_a_killed_client_leaves_its_linger_behind(data_dir: Path) -> None:
    notebook = Holder(data_dir, env=linger_env(3))
    try:
        pid = notebook.info["pid"]
        notebook.process.send_signal(signal.SIGKILL)  # no release: only its lease file tells
        notebook.stop()
        time.sleep(1.0)  # the supervisor has found the dead lease (it looks every 0.5 s) ...
        assert server_processes(data_dir, supervisors=False) == [pid], "stopped at once"
        # ... and the next client within the linger reuses the server.
        reused = find_or_start_server(data_dir, linger=0)
        assert (reused.pid, reused.owner) == (pid, False)
        reused.release()  # no linger of its own: the dead notebook's still counts
        assert reused.alive()
        wait_for(lambda: not server_processes(data_dir), "the lingering server to stop", 30)
    finally:
        notebook.stop()
    assert not (data_dir / STATE_FILE).exists()


def test_serve_stop_leaves_a_server_in_use_running(data_dir: Path) -> None:
    notebook = Holder(data_dir, env=linger_env(60))
    try:
        refused = cli(data_dir, "serve", "--stop")
        assert refused.returncode == 75, refused.stderr
        assert f"in use by 1 client(s) (pid {notebook.process.pid})" in refused.stderr
        assert notebook.ask("count") == "0", "serve --stop stopped a server in use"
        assert notebook.ask("release") == "released"
        assert ping(notebook.info["uri"])  # lingering now, for 60 s ...
        stopped = cli(data_dir, "serve", "--stop")  # ... unless stopped
        assert stopped.returncode == 0, stopped.stderr
        nothing_left_running(data_dir)
    finally:
        notebook.stop()


def test_the_longest_linger_asked_for_wins(data_dir: Path) -> None:
    analyst = find_or_start_server(data_dir, linger=60)
    crawl = find_or_start_server(data_dir, linger=0)
    analyst.release()
    crawl.release()  # the last to leave asks for no linger: the analyst's still stands
    assert crawl.alive()
    after = find_or_start_server(data_dir, linger=0)
    try:
        assert (after.pid, after.owner) == (analyst.pid, False)
        # Lingering or not, a server in use is not stopped.
        assert stop_if_unused(data_dir).holders == (os.getpid(),)
    finally:
        after.release()
    result = stop_if_unused(data_dir)
    assert (result.pid, result.stopped) == (analyst.pid, True)
    nothing_left_running(data_dir)


def test_the_linger_is_read_from_the_setting_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def location(**settings: object) -> ArchiveLocation:
        return ArchiveLocation.from_settings(get_crawler(settings_dict=settings).settings)

    assert location(EMBEDDED_SERVER_LINGER_SECONDS="5").linger_seconds == 5.0
    for bad in ("-1", "soon", "inf"):
        with pytest.raises(SettingError, match="EMBEDDED_SERVER_LINGER_SECONDS"):
            location(EMBEDDED_SERVER_LINGER_SECONDS=bad)
    monkeypatch.setenv(LINGER_ENV, "7.5")
    assert default_linger() == 7.5
    monkeypatch.setenv(LINGER_ENV, "nan")
    with pytest.raises(EmbeddedServerError, match=LINGER_ENV):
        default_linger()
    # Unset, the CLI and notebooks linger by default (crawler.settings); this session sets 0.
    env = {k: v for k, v in client_env().items() if k != LINGER_ENV}
    code = "from crawler.archive.server import default_linger; print(default_linger())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True, text=True
    )
    assert done.stdout.strip() == "600.0", done.stderr


@pytest.mark.slow
def test_a_crawl_without_linger_keeps_a_server_a_notebook_and_the_cli_are_using(
    tmp_path: Path, data_dir: Path
) -> None:
    assert cli(data_dir, "stats", linger=60).returncode == 0  # the analyst's call: lingers
    pid = server_state(data_dir)["pid"]
    notebook = Holder(data_dir, env=linger_env(0))
    try:
        assert notebook.info["pid"] == pid
        with MirrorServer() as mirror:
            crawl = subprocess.run(
                [
                    sys.executable, "-m", "scrapy", "crawl", "antara_kalteng",
                    "-a", f"base_url={mirror.base_url}",
                    "-s", f"DATA_DIR={data_dir}",
                    "-s", "EMBEDDED_SERVER_LINGER_SECONDS=0",
                    *FAST_SETTINGS,
                ],
                cwd=REPO_DIR,
                env=client_env(),
                capture_output=True,
                text=True,
                timeout=300,
            )  # fmt: skip
        assert crawl.returncode == 0, crawl.stderr[-3000:]
        assert f"Reusing the embedded SecantusDB server (pid {pid})" in crawl.stderr
        # The crawl has ended; the notebook still has its server, and the data.
        assert notebook.ask("count") == str(len(EXPECTED_URLS)), "the crawl stopped the server"
        assert notebook.ask("release") == "released"
    finally:
        notebook.stop()
    # Neither the crawl nor the notebook asked for a linger; the analyst's call did.
    assert server_state(data_dir)["pid"] == pid and ping(str(server_state(data_dir)["uri"]))
    assert cli(data_dir, "serve", "--stop").returncode == 0
    nothing_left_running(data_dir)
