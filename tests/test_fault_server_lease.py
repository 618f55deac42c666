"""Issue 7, point 5: the embedded server lives while any client uses it, whoever started it.

Real processes, a real SecantusDB server, real signals: clients are subprocesses (the Python
API, the CLI, ``scrapy crawl``, ``python -m crawler run``) sharing one ``DATA_DIR``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.archive.server import STATE_FILE, find_or_start_server, ping
from crawler.archive.store import ARTICLES, connect
from crawler.ops.run_record import CRAWL_RUNS
from tests.mirror import EXPECTED_URLS, FAST_SETTINGS, REPO_DIR, MirrorServer, parse_stats

#: Where clients' leases live (``crawler.archive.server_lease.LEASE_DIR``; spelled out so that this
#: file also runs, and fails for the right reason, on a checkout without leases).
LEASE_DIR = "secantusd.leases"
HOLDER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from crawler.archive.query import Archive
    archive = Archive.connect(data_dir=sys.argv[1], timeout_ms=3000)
    server = archive.server
    print(json.dumps({"pid": server.pid, "uri": server.uri, "owner": server.owner}), flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            try:
                print(archive.db["articles"].count_documents({}), flush=True)
            except Exception as exc:
                print(f"error {type(exc).__name__}", flush=True)
        elif line.strip() == "release":
            archive.close()
            print("released", flush=True)
    """
)


def client_env() -> dict[str, str]:
    """The environment of a client of the embedded server (no MONGO_URI, no linger)."""
    # The linger set, not removed: unset means the default, which lingers.
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "EMBEDDED_SERVER_LINGER_SECONDS": "0"}
    for name in ("MONGO_URI", "DATA_DIR"):
        env.pop(name, None)
    return env


class Holder:
    """A Python-API client (a notebook, say) in its own process, steered over stdin."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT, str(data_dir)],
            cwd=REPO_DIR,
            env=env or client_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self._line())

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._line()

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the holder exited with {self.process.wait()}"
        return line.strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def server_processes(data_dir: Path, supervisors: bool = True) -> list[int]:
    """Servers (and supervisors) whose command line names ``data_dir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes()
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            ours = b"secantus" in cmdline or (supervisors and b"server_lease.py" in cmdline)
            if ours and str(data_dir).encode() in cmdline and state != "Z":
                pids.append(int(proc.name))
    return pids


def nothing_left_running(data_dir: Path) -> None:
    """No server now; its supervisor exits moments after it (it wakes when the server ends)."""
    assert server_processes(data_dir, supervisors=False) == []
    wait_for(lambda: server_processes(data_dir) == [], "the supervisor to exit", 5)


def wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


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


def test_server_outlives_its_starter_while_another_process_uses_it(data_dir: Path) -> None:
    first = Holder(data_dir)
    second = Holder(data_dir)
    try:
        assert first.info["owner"] and not second.info["owner"]
        assert second.info["pid"] == first.info["pid"]
        assert first.ask("release") == "released"
        assert second.ask("count") == "0", "the starter stopped the server under another client"
        assert len(list((data_dir / LEASE_DIR).iterdir())) == 1  # the second client's
        assert second.ask("release") == "released"
        # The last client gone: nothing is left running, nothing is left behind.
        nothing_left_running(data_dir)
        assert not (data_dir / STATE_FILE).exists()
        assert list((data_dir / LEASE_DIR).iterdir()) == []
    finally:
        first.stop()
        second.stop()


def test_sigkilled_clients_do_not_keep_the_server_alive(data_dir: Path) -> None:
    first = Holder(data_dir)
    second = Holder(data_dir)
    try:
        uri = first.info["uri"]
        first.process.send_signal(signal.SIGKILL)  # the starter, killed: no release at all
        first.stop()
        assert second.ask("count") == "0", "the server went down with its starter"
        second.process.send_signal(signal.SIGKILL)
        second.stop()
        # Nobody holds a lease now: the server is stopped (cleanly) within moments.
        wait_for(lambda: server_processes(data_dir) == [], "the unused server to stop", 15)
        assert not ping(uri, timeout_ms=300)
        assert not (data_dir / STATE_FILE).exists()
        # And the next client simply starts a new one.
        server = find_or_start_server(data_dir)
        try:
            assert ping(server.uri) and server.owner
            assert [p.name for p in (data_dir / LEASE_DIR).iterdir()] == [server.lease.path.name]
        finally:
            server.release()
    finally:
        first.stop()
        second.stop()
    nothing_left_running(data_dir)


def test_linger_keeps_an_unused_server_up_for_the_next_client(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDED_SERVER_LINGER_SECONDS", "3")
    first = find_or_start_server(data_dir)
    first.release()
    assert ping(first.uri)  # still up after its last client ...
    second = find_or_start_server(data_dir)  # ... so the next CLI call pays no start-up
    assert (second.pid, second.owner) == (first.pid, False)
    second.release()
    released = time.monotonic()
    wait_for(lambda: not first.alive(), "the lingering server to stop", 20)
    assert time.monotonic() - released >= 2.5
    # The supervisor clears the state file just after its server exits, not at the same instant.
    wait_for(lambda: not (data_dir / STATE_FILE).exists(), "the state file to be cleared", 10)
    nothing_left_running(data_dir)


def crawl_args(mirror: MirrorServer, data_dir: Path, *extra: str) -> list[str]:
    return [
        "-a", f"base_url={mirror.base_url}",
        "-s", f"DATA_DIR={data_dir}",
        *FAST_SETTINGS,
        # A crawl of some seconds, so that other clients come and go while it runs.
        "-s", "DOWNLOAD_DELAY=0.2",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "-s", "LOG_LEVEL=INFO",
        *extra,
    ]  # fmt: skip


def archive_contents(data_dir: Path) -> tuple[list[str], list[dict[str, object]]]:
    """(archived URLs, crawl_runs documents) of the embedded archive of ``data_dir``."""
    server = find_or_start_server(data_dir)
    try:
        db = connect(server.uri, "news_archive")
        try:
            urls = sorted(doc["url"] for doc in db[ARTICLES].find({}, {"url": 1}))
            return urls, list(db[CRAWL_RUNS].find())
        finally:
            db.client.close()
    finally:
        server.release()


@pytest.mark.slow
def test_cli_and_crawl_overlapping_never_stop_the_server_under_each_other(
    tmp_path: Path, data_dir: Path
) -> None:
    env = client_env()
    cli = [sys.executable, "-m", "crawler", "--data-dir", str(data_dir)]
    # 1. A CLI call starts the server; it is frozen while the server comes up (holding the
    #    find-or-start lock), so that the crawl started now is sure to reuse *its* server.
    stats_cli = subprocess.Popen(
        [*cli, "stats"], cwd=REPO_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for(lambda: server_processes(data_dir) or stats_cli.poll() is not None, "a server")
    stats_cli.send_signal(signal.SIGSTOP)
    assert stats_cli.poll() is None, "the CLI finished before the crawl could start"
    crawl_log = tmp_path / "crawl.log"
    exports: list[subprocess.CompletedProcess[str]] = []
    with MirrorServer() as mirror, crawl_log.open("w") as log:
        crawl = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "antara_kalteng",
                *crawl_args(mirror, data_dir),
            ],
            cwd=REPO_DIR,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            wait_for(lambda: "Enabled item pipelines" in crawl_log.read_text(), "the crawl", 60)
            time.sleep(1)  # the pipeline now waits for the CLI's server
            stats_cli.send_signal(signal.SIGCONT)
            _, err = stats_cli.communicate(timeout=60)
            assert stats_cli.returncode == 0, err
            # 2. The CLI that started the server has finished; the crawl goes on. A notebook
            #    and CLI exports use the server while the crawl finishes.
            assert crawl.poll() is None, "the crawl finished too early to tell"
            notebook = Holder(data_dir)

            def export_until_the_crawl_ends() -> None:
                for n in range(100):
                    out = tmp_path / f"export-{n}.jsonl"
                    done = subprocess.run(
                        [*cli, "export", "--format", "jsonl", "--out", str(out)],
                        cwd=REPO_DIR,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=120,
                    )
                    exports.append(done)
                    if crawl.poll() is not None:
                        return

            exporter = threading.Thread(target=export_until_the_crawl_ends)
            exporter.start()
            crawl.wait(timeout=300)
            exporter.join(timeout=300)
        finally:
            if crawl.poll() is None:
                crawl.kill()
            crawl.wait()
    text = crawl_log.read_text()
    stats = parse_stats(text)
    try:
        assert crawl.returncode == 0, text[-3000:]
        assert stats.get("spool/written", 0) == 0, "the CLI stopped the server under the crawl"
        assert stats.get("archive/inserted") == len(EXPECTED_URLS)
        assert exports, "no export ran while the crawl was finishing"
        assert [done.returncode for done in exports] == [0] * len(exports), exports[-1].stderr
        # 3. The crawl has ended; the notebook still has its server.
        assert notebook.ask("count") == str(len(EXPECTED_URLS)), "the crawl stopped the server"
        assert notebook.ask("release") == "released"
    finally:
        notebook.stop()
    nothing_left_running(data_dir)


@pytest.mark.slow
def test_server_killed_during_a_cron_run_is_restarted_and_nothing_is_lost(
    tmp_path: Path, data_dir: Path
) -> None:
    logs = tmp_path / "logs"
    with MirrorServer() as mirror:
        args = crawl_args(
            mirror,
            data_dir,
            "-s", f"LOG_DIR={logs}",
            "-s", "ARCHIVE_BATCH_SIZE=1",
            "-s", "ARCHIVE_FLUSH_SECONDS=0.2",
            "-s", "ARCHIVE_RETRY_SECONDS=1",
        )  # fmt: skip
        run = subprocess.Popen(
            [sys.executable, "-m", "crawler", "run", "antara_kalteng", *args],
            cwd=REPO_DIR,
            env=client_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def articles_served() -> int:
                return sum(n for path, n in mirror.counts.items() if path.startswith("/berita/"))

            wait_for(lambda: articles_served() >= 5 or run.poll() is not None, "articles", 120)
            killed = json.loads((data_dir / STATE_FILE).read_text())["pid"]
            os.kill(killed, signal.SIGKILL)
            out, err = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
    (log,) = (logs / "antara_kalteng").glob("*.log")
    stats = parse_stats(log.read_text())
    assert "antara_kalteng run" in out + err, err
    spooled = stats.get("spool/written", 0)
    assert spooled > 0, "the server was killed too late to matter"
    assert stats.get("spool/replayed", 0) == spooled, "the crawl never got a server back"
    assert not list((data_dir / "spool").glob("*.jsonl*"))
    assert not list((data_dir / "runs" / "pending").glob("*.json"))
    urls, runs = archive_contents(data_dir)
    assert urls == EXPECTED_URLS  # each exactly once, none lost
    (record,) = runs
    assert record["counts"]["replayed"] == spooled
    nothing_left_running(data_dir)
