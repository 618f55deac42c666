"""One scheduled crawl, as cron runs it: lock, log file, crawl, run record, exit status.

The crawl runs as a ``scrapy crawl`` subprocess, not in this process. For a cron job that
isolation is worth more than the start-up second it costs: a crash, a hung reactor, a memory
blow-up or a C extension segfault in the crawl cannot take the runner down with it, so the run
is always recorded and the lock always released; the runner can enforce a wall-clock limit
(``RUN_TIMEOUT_SECONDS``: SIGTERM, i.e. Scrapy's graceful shutdown, then SIGKILL); and the crawl
runs exactly as ``scrapy crawl`` does by hand. The crawl hands its final stats back through
:class:`crawler.components.stats_dump.StatsDump` over a pipe (``STATS_DUMP_FD``), which needs
no disk. Starting and watching that process, with secrets kept off its command line, is
:mod:`crawler.ops.crawl_process`. The embedded server is not handed over as a URI: the crawl
finds it itself (the runner holds a lease on it meanwhile), so if it dies the crawl can start
a new one.

Settings (project settings plus ``-s`` overrides): ``DATA_DIR`` (locks in ``DATA_DIR/locks``,
run records waiting for the database in ``DATA_DIR/runs/pending``), ``LOG_DIR``, ``LOG_KEEP``,
``RUN_MAX_ERRORS``, ``RUN_TIMEOUT_SECONDS``, ``MONGO_URI``, ``MONGO_DATABASE``,
``ALERT_COMMAND``, ``ALERT_WEBHOOK_URL``, ``ALERT_TIMEOUT_SECONDS``.

Exit status: 0 the run succeeded; 1 it failed (finish reason not "finished", more than
``RUN_MAX_ERRORS`` errors, a failed monitor, a crashed or timed-out crawl, or its run record
could be stored neither in the database nor on disk); 75 (EX_TEMPFAIL) another run of the same
spider holds the lock, nothing was done.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler import stats_keys
from crawler.archive.location import ArchiveLocation
from crawler.archive.redaction import redact_text
from crawler.archive.server import EmbeddedServer, EmbeddedServerError, find_or_start_server
from crawler.archive.store import utc_now
from crawler.config import redis_url
from crawler.ops.alerts import send_alert
from crawler.ops.crawl_process import crawl_command, supervise
from crawler.ops.redis_lock import LockUnavailable, redis_lock_holder, redis_run_lock
from crawler.ops.run_record import build_record, judge, save_record
from crawler.ops.stats_handoff import HandedBack, StatsPipe

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EX_TEMPFAIL = 75


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
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
            handle.flush()
        except OSError as exc:  # e.g. a full disk: the holder note is a courtesy, the lock is not
            logger.warning("Could not note the lock holder in %s: %s", path, exc)
        yield handle
    finally:
        handle.close()


@contextlib.contextmanager
def run_lock(settings: Settings, data_dir: Path, spider: str) -> Iterator[IO[str] | None]:
    """The locks of one scheduled run of ``spider``: the ``flock`` in ``DATA_DIR/locks`` and,
    with ``REDIS_URL``, the cross-machine one in Redis (:mod:`crawler.ops.redis_lock`); yields
    the flock's file (handed to the crawl) or None if another run holds either."""
    url = redis_url(settings)
    with contextlib.ExitStack() as held:
        if url is not None and not held.enter_context(redis_run_lock(url, spider)):
            yield None
            return
        yield held.enter_context(spider_lock(lock_path(data_dir, spider)))


def run_lock_holder(settings: Settings, data_dir: Path, spider: str) -> str:
    """Who holds the lock ``run_lock`` could not take, as the holder noted ("" if unknown)."""
    url = redis_url(settings)
    return (url and redis_lock_holder(url, spider)) or lock_holder(lock_path(data_dir, spider))


def lock_path(data_dir: Path, spider: str) -> Path:
    """The lock every run of ``spider`` takes, single or ``--all``."""
    return data_dir / "locks" / f"{spider}.lock"


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
    data_dir = Path(settings.get("DATA_DIR")).resolve()
    try:
        locking = contextlib.ExitStack()
        lock = locking.enter_context(run_lock(settings, data_dir, spider))
    except LockUnavailable as exc:  # Redis away: no run that a second machine might double
        print(f"Cannot run {spider}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    with locking:
        if lock is None:
            holder = run_lock_holder(settings, data_dir, spider)
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
        Path(settings.get("LOG_DIR")).resolve() / spider, settings.getint("LOG_KEEP")
    )
    server = embedded_server(settings, data_dir)
    started_at = utc_now()
    try:
        with StatsPipe() as pipe:
            command, env = crawl_command(
                spider,
                spider_args,
                [*overrides, ("LOG_FILE", str(log_path)), ("STATS_DUMP_FD", str(pipe.write_fd))],
            )
            returncode, timed_out = supervise(
                command, env, log_path, (lock.fileno(), pipe.write_fd), settings, pipe, spider
            )
            handed_back = pipe.result()
        outcome = record_run(
            spider,
            spider_args,
            overrides,
            (started_at, utc_now()),
            handed_back,
            returncode,
            timed_out,
            log_path,
            settings,
            data_dir,
            server,
        )
    finally:
        if server is not None:
            server.release()
    report(outcome, settings)
    return EXIT_FAILED if outcome.failures else EXIT_OK


@dataclass
class RunOutcome:
    """One spider's run, judged and stored: its record, why it failed (empty: it did not),
    where the record went (None: nowhere), its summary line."""

    record: dict[str, Any]
    failures: list[str]
    where: str | None
    stats: dict[str, Any] | None
    log_path: Path

    @property
    def spider(self) -> str:
        return str(self.record["spider"])

    @property
    def summary(self) -> str:
        return summary_line(self.record, self.failures, self.log_path, self.where or "nowhere")


def record_run(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
    times: tuple[datetime, datetime],
    handed_back: HandedBack,
    returncode: int,
    timed_out: bool,
    log_path: Path,
    settings: Settings,
    data_dir: Path,
    server: EmbeddedServer | None,
    extra: dict[str, Any] | None = None,
) -> RunOutcome:
    """Build, judge and store the ``crawl_runs`` record of one spider's run. ``returncode``
    and ``timed_out`` are what the judgement sees; ``extra`` fields are set on the record
    after it (e.g. the process's own exit code)."""
    started_at, finished_at = times
    stats = handed_back.stats
    record = build_record(spider, spider_args, overrides, started_at, finished_at, stats, log_path)
    failures = judge(
        record,
        stats,
        returncode,
        timed_out,
        settings.getint("RUN_MAX_ERRORS"),
        handed_back.problem,
    )
    record["returncode"] = returncode
    record["status"] = "failed" if failures else "ok"
    record["failures"] = failures
    record.update(extra or {})
    stored = save_record(
        record,
        record_uri(server, settings),
        settings.get("MONGO_DATABASE"),
        data_dir,
    )
    if stored.where is None:
        failures = [
            *failures,
            "THE RUN RECORD WAS LOST: it could be stored neither in the database nor on disk ("
            + "; ".join(stored.problems)
            + ")",
        ]
    return RunOutcome(record, failures, stored.where, stats, log_path)


def report(outcome: RunOutcome, settings: Settings) -> None:
    """Print the run's summary line, append it to its log, alert if nobody did yet."""
    summary = outcome.summary
    # The summary reaches cron's output first: the log may be on the disk that is full.
    print(summary, file=sys.stderr if outcome.failures else sys.stdout, flush=True)
    append_line(outcome.log_path, summary)
    # The monitors alerted already unless the run failed for a reason they cannot see.
    alerted = (outcome.stats or {}).get(stats_keys.MONITORS_ALERTED)
    if outcome.failures and (outcome.where is None or not alerted):
        send_alert(
            summary,
            command=settings.get("ALERT_COMMAND") or None,
            webhook_url=settings.get("ALERT_WEBHOOK_URL") or None,
            timeout=settings.getfloat("ALERT_TIMEOUT_SECONDS"),
            env={"ALERT_SPIDER": outcome.spider},
        )


def append_line(log_path: Path, line: str) -> None:
    """Append one runner line (in the log's own format) to ``log_path``; never raises."""
    try:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} [crawler.ops.runner] INFO: {line}\n")
    except OSError as exc:
        print(f"Could not append the summary to {log_path}: {exc}", file=sys.stderr)


def embedded_server(settings: Settings, data_dir: Path) -> EmbeddedServer | None:
    """Without MONGO_URI, start (or reuse) the embedded server once for crawl and record: the
    lease held meanwhile keeps it up between the two (no second start-up). Released, it lingers
    as the crawl's does (``EMBEDDED_SERVER_LINGER_SECONDS``)."""
    if settings.get("MONGO_URI"):
        return None
    try:
        linger = ArchiveLocation.from_settings(settings).linger_seconds
        return find_or_start_server(data_dir, linger=linger)
    except Exception as exc:
        logger.warning("Embedded archive server unavailable (%s); the crawl will spool", exc)
        return None


def record_uri(server: EmbeddedServer | None, settings: Settings) -> str | None:
    """Where to record the run: MONGO_URI, or the embedded server running now (the crawl may
    have started a new one after the first was killed)."""
    if server is None:
        return settings.get("MONGO_URI") or None
    try:
        server.refresh()
    except (EmbeddedServerError, OSError) as exc:
        logger.warning("Embedded archive server unavailable for the run record (%s)", exc)
        return None
    return server.uri


def summary_line(record: dict[str, Any], failures: list[str], log_path: Path, where: str) -> str:
    counts = record["counts"]
    text = (
        f"{record['spider']} run {'failed' if failures else 'ok'}: {counts['new']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{counts['duplicate']} duplicate, {counts['dropped']} dropped, "
        f"{counts['failed_pages']} failed pages, {counts['errors']} errors "
        f"(finish reason {record['finish_reason']}; recorded in {where}; log {log_path})"
    )
    if failures:
        text += "; failed: " + "; ".join(failures)
    return redact_text(text)


def lock_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
