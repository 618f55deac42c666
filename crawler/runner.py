"""One scheduled crawl, as cron runs it: lock, log file, crawl, run record, exit status.

The crawl runs as a ``scrapy crawl`` subprocess, not in this process. For a cron job that
isolation is worth more than the start-up second it costs: a crash, a hung reactor, a memory
blow-up or a C extension segfault in the crawl cannot take the runner down with it, so the run
is always recorded and the lock always released; the runner can enforce a wall-clock limit
(``RUN_TIMEOUT_SECONDS``: SIGTERM, i.e. Scrapy's graceful shutdown, then SIGKILL); and the crawl
runs exactly as ``scrapy crawl`` does by hand. The crawl hands its final stats back through
:class:`crawler.stats_dump.StatsDump` (``STATS_DUMP_FILE``).

Settings (project settings plus ``-s`` overrides): ``DATA_DIR`` (locks in ``DATA_DIR/locks``,
run records waiting for the database in ``DATA_DIR/runs/pending``), ``LOG_DIR``, ``LOG_KEEP``,
``RUN_MAX_ERRORS``, ``RUN_TIMEOUT_SECONDS``, ``MONGO_URI``, ``MONGO_DATABASE``,
``ALERT_COMMAND``, ``ALERT_WEBHOOK_URL``, ``ALERT_TIMEOUT_SECONDS``.

Exit status: 0 the run succeeded; 1 it failed (finish reason not "finished", more than
``RUN_MAX_ERRORS`` errors, a failed monitor, a crashed or timed-out crawl); 75 (EX_TEMPFAIL)
another run of the same spider holds the lock, nothing was done.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import types
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.alerts import send_alert
from crawler.archive import utc_now
from crawler.mongo_server import EmbeddedServer, find_or_start_server
from crawler.run_record import build_record, judge, store_record
from crawler.stats_dump import load_stats

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EX_TEMPFAIL = 75
#: After SIGTERM, Scrapy finishes in-flight requests and flushes the archive; then SIGKILL.
TERMINATE_GRACE_SECONDS = 60
PROJECT_DIR = Path(__file__).resolve().parent.parent


def load_settings(overrides: Sequence[tuple[str, str]]) -> Settings:
    settings = get_project_settings()
    for name, value in overrides:
        settings.set(name, value, priority="cmdline")
    return settings


@contextlib.contextmanager
def spider_lock(path: Path) -> Iterator[IO[str] | None]:
    """Hold an exclusive, non-blocking ``flock`` on ``path``; yields None if another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        yield handle
    finally:
        handle.close()


def new_log_file(log_dir: Path, keep: int) -> Path:
    """``log_dir/<UTC time>.log`` for this run; removes all but the newest ``keep`` logs."""
    log_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = log_dir / f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z.log"
    path.touch()
    logs = sorted(log_dir.glob("*.log"))  # names sort in time order
    for old in logs[: max(0, len(logs) - max(1, keep))]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


def run(
    spider: str,
    spider_args: Sequence[tuple[str, str]] = (),
    overrides: Sequence[tuple[str, str]] = (),
) -> int:
    """Run ``spider`` once under its lock; returns the exit status (see module docstring)."""
    settings = load_settings(overrides)
    data_dir = Path(settings.get("DATA_DIR", "./data")).resolve()
    with spider_lock(data_dir / "locks" / f"{spider}.lock") as lock:
        if lock is None:
            holder = _read(data_dir / "locks" / f"{spider}.lock")
            print(
                f"Another {spider} run is active ({holder or 'holder unknown'}); "
                f"not starting a second one (exit {EX_TEMPFAIL}).",
                file=sys.stderr,
            )
            return EX_TEMPFAIL
        return _locked_run(spider, spider_args, overrides, settings, data_dir, lock)


def _locked_run(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
    settings: Settings,
    data_dir: Path,
    lock: IO[str],
) -> int:
    log_path = new_log_file(
        Path(settings.get("LOG_DIR", "./logs")).resolve() / spider, settings.getint("LOG_KEEP", 48)
    )
    stats_path = data_dir / "runs" / f"{log_path.stem}-{os.getpid()}.stats.json"
    server = _embedded_server(settings, data_dir)
    extra = [("LOG_FILE", str(log_path)), ("STATS_DUMP_FILE", str(stats_path))]
    if server is not None:  # the crawl reuses it instead of starting its own
        extra.append(("MONGO_URI", server.uri))
    started_at = utc_now()
    try:
        returncode, timed_out = _crawl(
            spider, spider_args, [*overrides, *extra], log_path, lock, settings
        )
        finished_at = utc_now()
        stats = load_stats(stats_path)
        stats_path.unlink(missing_ok=True)
        record = build_record(
            spider, spider_args, overrides, started_at, finished_at, stats, log_path
        )
        failures = judge(record, stats, returncode, timed_out, settings.getint("RUN_MAX_ERRORS", 0))
        record["returncode"] = returncode
        record["status"] = "failed" if failures else "ok"
        record["failures"] = failures
        where = store_record(
            record,
            server.uri if server is not None else settings.get("MONGO_URI") or None,
            settings.get("MONGO_DATABASE", "news_archive"),
            data_dir,
        )
    finally:
        if server is not None:
            server.release()
    summary = _summary(record, log_path, where)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} [crawler.runner] INFO: {summary}\n")
    print(summary, file=sys.stderr if failures else sys.stdout)
    if failures and not (stats or {}).get("monitors/alerted"):
        send_alert(
            summary,
            command=settings.get("ALERT_COMMAND") or None,
            webhook_url=settings.get("ALERT_WEBHOOK_URL") or None,
            timeout=settings.getfloat("ALERT_TIMEOUT_SECONDS", 10.0),
            env={"ALERT_SPIDER": spider},
        )
    return EXIT_FAILED if failures else EXIT_OK


def _crawl(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
    log_path: Path,
    lock: IO[str],
    settings: Settings,
) -> tuple[int, bool]:
    """Run ``scrapy crawl``; returns (exit code, whether it had to be stopped for time)."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in spider_args:
        command += ["-a", f"{name}={value}"]
    for name, value in overrides:
        command += ["-s", f"{name}={value}"]
    timeout = settings.getfloat("RUN_TIMEOUT_SECONDS", 3300) or None
    with log_path.open("ab") as output:
        # The lock fd goes to the crawl too: if the runner dies, the lock lives on with it.
        # Its own session: a terminal's Ctrl-C reaches only the runner, which forwards it once.
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=(lock.fileno(),),
            start_new_session=True,
        )
        with _forward_signals(process):
            try:
                return process.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                logger.error("%s ran longer than %ss; stopping it", spider, timeout)
                process.terminate()
                try:
                    process.wait(timeout=TERMINATE_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                return process.wait(), True


@contextlib.contextmanager
def _forward_signals(process: subprocess.Popen[bytes]) -> Iterator[None]:
    def forward(signum: int, frame: types.FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _embedded_server(settings: Settings, data_dir: Path) -> EmbeddedServer | None:
    """Without MONGO_URI, start (or reuse) the embedded server once for crawl and record."""
    if settings.get("MONGO_URI"):
        return None
    try:
        return find_or_start_server(data_dir)
    except Exception as exc:
        logger.warning("Embedded archive server unavailable (%s); the crawl will spool", exc)
        return None


def _summary(record: dict[str, Any], log_path: Path, where: str) -> str:
    counts = record["counts"]
    text = (
        f"{record['spider']} run {record['status']}: {counts['new']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{counts['duplicate']} duplicate, {counts['dropped']} dropped, "
        f"{counts['failed_pages']} failed pages, {counts['errors']} errors "
        f"(finish reason {record['finish_reason']}; recorded in {where}; log {log_path})"
    )
    if record["failures"]:
        text += "; failed: " + "; ".join(record["failures"])
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
