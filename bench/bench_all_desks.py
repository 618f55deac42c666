"""All desks at once vs one by one: ``run DESK DESK...`` (one crawl process) against N ``run DESK``.

Serves N generated desk mirrors (``tests/desk_mirrors.py``: the reconstructed fixture site, one
port each, i.e. one host each, plus ``--extra-articles`` generated articles, every response
delayed ``--latency`` seconds like a remote server) and crawls them with N real desk spiders
(the first N regional ``antara_*`` desks, each given its mirror as ``base_url``), twice, each
time into a fresh database:

- **all at once**: ``python -m crawler run D1 D2 ... DN`` (what ``run --all`` / ``run 'antara_*'``
  does: one ``scrapy crawlall`` process, a crawler per desk, in parallel across hosts);
- **one by one**: ``python -m crawler run Di`` for each desk in turn, as N cron lines would.

Per host the crawl stays as polite as the project's settings make it
(``CONCURRENT_REQUESTS_PER_DOMAIN`` 2); the download delay and AutoThrottle are off unless
``--polite`` (with them, one by one costs N times the per-desk delay budget, which is the real
reason to crawl desks in parallel, but the bench then takes minutes).

Printed: wall time of each way, articles archived, and peak RSS (``VmHWM`` from
``/proc/<pid>/status``, polled every 50 ms over the runner and all its descendants while they
live; never the rusage of reaped children, which reports only the largest child ever
reaped) of the crawl process and of the runner, then the ratios. The database server is
started by the bench (``MONGO_URI`` if set, else an embedded server in a temporary
directory), outside the measured processes.

    python bench/bench_all_desks.py [--desks 4] [--extra-articles 40] [--latency 0.05] [--polite]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from crawler.archive.server import find_or_start_server  # noqa: E402
from crawler.archive.store import connect  # noqa: E402
from crawler.ops.run_all import matching_spiders  # noqa: E402
from crawler.ops.runner import load_settings  # noqa: E402
from tests.desk_mirrors import DeskMirror  # noqa: E402

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]
#: Desks whose paths the fixture site (a regional desk's) does not have.
NOT_REGIONAL = {"antara_nasional", "antara_en"}


@dataclass
class Measured:
    """One measured command: exit code, wall time, peak RSS (KiB) of each process seen."""

    returncode: int
    seconds: float
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)

    def peak(self, kind: str) -> int:
        return max((kib for name, kib in self.peaks.values() if name == kind), default=0)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found += [int(child) for child in text.split()]
    except OSError:
        pass
    return found


def _status(pid: int) -> tuple[str, int] | None:
    """(kind, VmHWM KiB) of a live process: kind "crawl" for a scrapy process, else "runner"."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0
    )
    kind = "crawl" if b"scrapy" in cmdline else "runner" if b"crawler" in cmdline else "other"
    return kind, kib


def measure(command: list[str], env: dict[str, str]) -> Measured:
    """Run ``command`` to its end, polling the VmHWM of it and its descendants."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peaks: dict[int, tuple[str, int]] = {}
    output: list[bytes] = []
    readers = [
        threading.Thread(target=lambda s=stream: output.append(s.read()), daemon=True)
        for stream in (process.stdout, process.stderr)
        if stream is not None
    ]
    for reader in readers:
        reader.start()
    while process.poll() is None:
        pending, seen = [process.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            status = _status(pid)
            if status is not None and status[1] >= peaks.get(pid, ("", 0))[1]:
                peaks[pid] = status
            pending += _children(pid)
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.join()
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(command[2:5])}... failed:\n{b''.join(output).decode()[-3000:]}"
        )
    return Measured(process.returncode, seconds, peaks)


def run_command(desks: list[str], mirrors: dict[str, DeskMirror], settings: list[str]) -> list[str]:
    """``python -m crawler run`` of ``desks``, each on its mirror."""
    if len(desks) == 1:
        arguments = [f"base_url={mirrors[desks[0]].base_url}"]
    else:
        arguments = [f"{desk}:base_url={mirrors[desk].base_url}" for desk in desks]
    return [sys.executable, "-m", "crawler", "run", *desks, *arguments, "max_pages=1000", *settings]


def crawl(
    way: str, desks: list[str], mirrors: dict[str, DeskMirror], uri: str, tmp: Path, polite: bool
) -> tuple[list[Measured], int]:
    """Crawl every desk ``way`` ("all" or "one_by_one") into a fresh database; returns the
    measured runs and the articles archived."""
    database = f"bench_{way}_{uuid.uuid4().hex[:8]}"
    settings = [
        "-s", f"MONGO_DATABASE={database}",
        "-s", f"DATA_DIR={tmp / way / 'data'}",
        "-s", f"LOG_DIR={tmp / way / 'logs'}",
        "-s", "RUN_TIMEOUT_SECONDS=0",
        *([] if polite else FAST),
    ]  # fmt: skip
    env = {**os.environ, "MONGO_URI": uri}
    groups = [desks] if way == "all" else [[desk] for desk in desks]
    measured = [measure(run_command(group, mirrors, settings), env) for group in groups]
    db = connect(uri, database)
    try:
        archived = db.articles.count_documents({})
        db.client.drop_database(database)
    finally:
        db.client.close()
    return measured, archived


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--desks", type=int, default=4, help="desk mirrors (N)")
    parser.add_argument("--extra-articles", type=int, default=40, help="generated, per desk")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--polite", action="store_true", help="keep delay and AutoThrottle")
    args = parser.parse_args(argv)

    spiders = matching_spiders(load_settings([]), ["antara_*"])
    desks = [desk for desk in spiders if desk not in NOT_REGIONAL][: args.desks]
    with (
        tempfile.TemporaryDirectory(prefix="bench-all-desks-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        uri = os.environ.get("MONGO_URI")
        if not uri:
            server = find_or_start_server(Path(tmp) / "server", linger=0)
            stack.callback(server.release)
            uri = server.uri
        mirrors: dict[str, DeskMirror] = {}
        for number, desk in enumerate(desks, start=1):
            mirrors[desk] = stack.enter_context(DeskMirror(number))
            mirrors[desk].add_articles(args.extra_articles)
            mirrors[desk].slow_down(args.latency)
        together, together_archived = crawl("all", desks, mirrors, uri, Path(tmp), args.polite)
        singles, singles_archived = crawl("one_by_one", desks, mirrors, uri, Path(tmp), args.polite)

    (all_at_once,) = together
    one_wall = sum(m.seconds for m in singles)
    one_crawl = max(m.peak("crawl") for m in singles)
    one_runner = max(m.peak("runner") for m in singles)
    all_crawl = all_at_once.peak("crawl")
    print(
        f"desks        : {len(desks)} ({', '.join(desks)}), each a mirror of "
        f"{16 + args.extra_articles} articles, {args.latency:.2f} s per response, "
        f"{'polite' if args.polite else 'no delay/AutoThrottle'}"
    )
    print(
        f"all at once  : {all_at_once.seconds:6.1f} s wall, {together_archived} articles "
        f"archived; peak RSS crawl process {all_crawl / 1024:.0f} MiB, runner "
        f"{all_at_once.peak('runner') / 1024:.0f} MiB"
    )
    print(
        f"one by one   : {one_wall:6.1f} s wall ({len(singles)} runs), {singles_archived} "
        f"articles archived; peak RSS crawl process {one_crawl / 1024:.0f} MiB (largest of the "
        f"{len(singles)}), runner {one_runner / 1024:.0f} MiB"
    )
    print(
        f"ratio        : one by one takes {one_wall / all_at_once.seconds:.2f}x the wall time of "
        f"all at once; all at once needs {all_crawl / max(1, one_crawl):.2f}x the memory of one "
        f"desk's crawl process ({all_crawl / max(1, one_crawl * len(desks)):.2f}x that of "
        f"{len(desks)} such processes running side by side)"
    )


if __name__ == "__main__":
    main()
