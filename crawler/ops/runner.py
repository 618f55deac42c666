"""One scheduled crawl, as cron runs it: lock, log file, crawl, run record, exit status.

The crawl runs as a ``scrapy crawl`` subprocess, not in this process. For a cron job that
isolation is worth more than the start-up second it costs: a crash, a hung reactor, a memory
blow-up or a C extension segfault in the crawl cannot take the runner down with it, so the run
is always recorded and the lock always released; the runner can enforce a wall-clock limit
(``RUN_TIMEOUT_SECONDS``: SIGTERM, i.e. Scrapy's graceful shutdown, then SIGKILL); and the crawl
runs exactly as ``scrapy crawl`` does by hand. The crawl hands its final stats back through
:class:`crawler.components.stats_dump.StatsDump` over a pipe (``STATS_DUMP_FD``), which needs
no disk.

Secrets never go on the crawl's command line, which every user of the machine can read (``ps``,
``/proc/<pid>/cmdline``): ``MONGO_URI``, ``ALERT_WEBHOOK_URL`` and ``ALERT_COMMAND`` overrides
are passed in environment variables of the same name (settings.py reads them), any other
override that looks secret (:mod:`crawler.archive.redaction`) in ``CRAWLER_SECRET_SETTINGS`` (JSON).
The embedded server is not handed over as a URI either: the crawl finds it itself (the runner
holds a lease on it meanwhile), so if it dies the crawl can start a new one.

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
import json
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

from crawler.archive.redaction import is_secret_setting, redact_text
from crawler.archive.server import EmbeddedServer, EmbeddedServerError, find_or_start_server
from crawler.archive.store import utc_now
from crawler.ops.alerts import send_alert
from crawler.ops.run_record import build_record, judge, save_record
from crawler.ops.stats_handoff import StatsPipe

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EX_TEMPFAIL = 75
#: After SIGTERM, Scrapy finishes in-flight requests and flushes the archive; then SIGKILL.
TERMINATE_GRACE_SECONDS = 60
PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Settings that settings.py reads from an environment variable of the same name.
ENV_SETTINGS = frozenset({"MONGO_URI", "ALERT_WEBHOOK_URL", "ALERT_COMMAND"})
#: Other secret overrides travel to the crawl in this variable, as a JSON object.
SECRET_SETTINGS_ENV = "CRAWLER_SECRET_SETTINGS"


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
    server = _embedded_server(settings, data_dir)
    started_at = utc_now()
    try:
        with StatsPipe() as pipe:
            returncode, timed_out = _crawl(
                spider,
                spider_args,
                [*overrides, ("LOG_FILE", str(log_path)), ("STATS_DUMP_FD", str(pipe.write_fd))],
                log_path,
                lock,
                settings,
                pipe,
            )
            handed_back = pipe.result()
        finished_at = utc_now()
        stats = handed_back.stats
        record = build_record(
            spider, spider_args, overrides, started_at, finished_at, stats, log_path
        )
        failures = judge(
            record,
            stats,
            returncode,
            timed_out,
            settings.getint("RUN_MAX_ERRORS", 0),
            handed_back.problem,
        )
        record["returncode"] = returncode
        record["status"] = "failed" if failures else "ok"
        record["failures"] = failures
        stored = save_record(
            record,
            _record_uri(server, settings),
            settings.get("MONGO_DATABASE", "news_archive"),
            data_dir,
        )
    finally:
        if server is not None:
            server.release()
    where = stored.where
    if where is None:
        failures = [
            *failures,
            "THE RUN RECORD WAS LOST: it could be stored neither in the database nor on disk ("
            + "; ".join(stored.problems)
            + ")",
        ]
    summary = _summary(record, failures, log_path, where or "nowhere")
    # The summary reaches cron's output first: the log may be on the disk that is full.
    print(summary, file=sys.stderr if failures else sys.stdout, flush=True)
    try:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(
                f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} [crawler.ops.runner] INFO: {summary}\n"
            )
    except OSError as exc:
        print(f"Could not append the summary to {log_path}: {exc}", file=sys.stderr)
    # The monitors alerted already unless the run failed for a reason they cannot see.
    if failures and (where is None or not (stats or {}).get("monitors/alerted")):
        send_alert(
            summary,
            command=settings.get("ALERT_COMMAND") or None,
            webhook_url=settings.get("ALERT_WEBHOOK_URL") or None,
            timeout=settings.getfloat("ALERT_TIMEOUT_SECONDS", 10.0),
            env={"ALERT_SPIDER": spider},
        )
    return EXIT_FAILED if failures else EXIT_OK


def crawl_command(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """The ``scrapy crawl`` command line and the environment variables to add to the crawl's:
    secret overrides go into the environment (see the module docstring), the rest on argv."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in spider_args:
        command += ["-a", f"{name}={value}"]
    env: dict[str, str] = {}
    hidden: dict[str, str] = {}
    for name, value in overrides:
        if name in ENV_SETTINGS:
            env[name] = value  # an empty value too: it means "unset" to settings.py
        elif is_secret_setting(name, value):
            hidden[name] = value
        else:
            command += ["-s", f"{name}={value}"]
    if hidden:
        env[SECRET_SETTINGS_ENV] = json.dumps(hidden)
    return command, env


def _crawl(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
    log_path: Path,
    lock: IO[str],
    settings: Settings,
    pipe: StatsPipe,
) -> tuple[int, bool]:
    """Run ``scrapy crawl``; returns (exit code, whether it had to be stopped for time)."""
    command, env = crawl_command(spider, spider_args, overrides)
    timeout = settings.getfloat("RUN_TIMEOUT_SECONDS", 3300) or None
    with log_path.open("ab") as output:
        # The lock fd goes to the crawl too: if the runner dies, the lock lives on with it.
        # Its own session: a terminal's Ctrl-C reaches only the runner, which forwards it once.
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=(lock.fileno(), pipe.write_fd),
            start_new_session=True,
        )
        pipe.started()
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
    """Without MONGO_URI, start (or reuse) the embedded server once for crawl and record: the
    lease held meanwhile keeps it up between the two (no second start-up)."""
    if settings.get("MONGO_URI"):
        return None
    try:
        return find_or_start_server(data_dir)
    except Exception as exc:
        logger.warning("Embedded archive server unavailable (%s); the crawl will spool", exc)
        return None


def _record_uri(server: EmbeddedServer | None, settings: Settings) -> str | None:
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


def _summary(record: dict[str, Any], failures: list[str], log_path: Path, where: str) -> str:
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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
