"""``python -m crawler run --all`` (or ``run 'PATTERN'``, ``run SPIDER SPIDER...``): every
matching spider crawled once, all in one crawl process.

Cron's way to crawl a whole site family (every ANTARA desk) each hour. The spiders are
Scrapy's spider list (``SpiderLoader.list()``) matched with :func:`fnmatch.fnmatchcase`
against each pattern given (``--all`` is ``*``; a plain name matches itself). Two kinds of
spider match only their own name, never a wildcard: one that needs an argument (``news``),
and a configured publisher's (``run_group = "publishers"``, :mod:`spiders.news`: tabengan,
prokalteng, ...), whose sites a cron'd ``--all`` must not start crawling just because a config
was added; ``publishers=True`` (``run --publishers``) adds every one of those. Per spider,
what ``run SPIDER`` does (:mod:`crawler.ops.runner`): its lock
(``DATA_DIR/locks/<spider>.lock``, the same file, so a single run and an ``--all`` run never
crawl one desk at once), its log (``LOG_DIR/<spider>/<UTC time>.log``), its ``crawl_runs``
record and its summary line. Only the crawl is shared: one ``scrapy crawlall`` subprocess
(:mod:`crawler.commands.crawlall`) runs every spider as its own crawler in one reactor, in
parallel across hosts and, per host, exactly as polite as a crawl of that desk alone.

Why one subprocess for all rather than all in this process or one process per desk: the
subprocess keeps what the single run's isolation buys (a crash, a hang or a blow-up of the
crawl cannot stop the runner from recording every desk and releasing every lock; one
``RUN_TIMEOUT_SECONDS`` limit for the whole crawl; secrets off the command line), while one
reactor for all desks pays the interpreter, Scrapy and the imports once instead of per desk
(see bench/bench_all_desks.py).

Locks: all are taken before the crawl starts and inherited by it. A spider whose lock another
run holds is **skipped**, named on stdout and in the final summary, and does not fail the run:
that other run records and alerts for it itself (e.g. a long backfill of one desk must not
turn every hourly ``--all`` red). When every matching spider is locked, nothing is done and
the exit status is 75, as for ``run SPIDER``.

Arguments: ``NAME=VALUE`` (or ``-a``) goes to every spider, ``SPIDER:NAME=VALUE`` to that one
(a mirror's ``base_url``, say). Records carry ``batch`` (``id``, the spiders crawled and
skipped, the combined ``log_file``) so one run's records are found together. The combined log
``LOG_DIR/crawlall/<UTC time>.log`` holds every line of the crawl process (each tagged with its
spider) and every summary line.

Exit status: 0 every spider crawled succeeded (skipped ones aside); 1 one failed (the last
line names which) or the crawl process failed on its own; 2 no spider matches, or a
``SPIDER:`` argument names none of them; 75 every matching spider was locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, Any

from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader

from crawler import stats_keys
from crawler.archive.redaction import redact_text
from crawler.archive.server import EmbeddedServer
from crawler.archive.store import utc_now
from crawler.ops.crawl_process import scrapy_command, supervise
from crawler.ops.redis_lock import LockUnavailable
from crawler.ops.runner import (
    EX_TEMPFAIL,
    EXIT_FAILED,
    EXIT_OK,
    RunOutcome,
    append_line,
    embedded_server,
    load_settings,
    new_log_file,
    record_run,
    report,
    run_lock,
    run_lock_holder,
)
from crawler.ops.stats_handoff import HandedBack, StatsPipe

EXIT_USAGE = 2
#: ``run_group`` of the configured publishers' spiders (spiders.news; ops is a floor below).
PUBLISHERS_GROUP = "publishers"
#: ``LOG_DIR/<this>/`` holds the combined logs of ``--all`` runs.
COMBINED_LOG_DIR = "crawlall"
#: crawler.commands.crawlall.SPIDER_LOG_FILES (ops is a floor below commands: no import).
SPIDER_LOG_FILES = "CRAWLALL_LOG_FILES"


def matching_spiders(
    settings: Settings, patterns: Sequence[str], *, publishers: bool = False
) -> list[str]:
    """The project's spiders whose name matches any of ``patterns`` (case-sensitive), sorted;
    with ``publishers``, every configured publisher's spider too.

    A spider that cannot run without an argument (``required_arguments``, e.g. ``news`` and
    its ``url``) matches only a pattern that is its very name, and so does a publisher's
    (``run_group`` :data:`PUBLISHERS_GROUP`) unless ``publishers``: ``--all`` means every
    ANTARA site, not every site a config names.
    """
    loader = SpiderLoader.from_settings(settings)

    def matches(name: str) -> bool:
        spider = loader.load(name)
        if getattr(spider, "required_arguments", ()):
            return name in patterns
        if getattr(spider, "run_group", None) == PUBLISHERS_GROUP:
            return publishers or name in patterns
        return any(fnmatchcase(name, pattern) for pattern in patterns)

    return sorted(name for name in loader.list() if matches(name))


def split_arguments(
    spider_args: Sequence[tuple[str, str]], spiders: Sequence[str]
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(arguments for every spider, ``{spider: its own}``); ValueError for a ``SPIDER:NAME``
    whose spider is not among ``spiders``."""
    shared: list[tuple[str, str]] = []
    own: dict[str, list[tuple[str, str]]] = {}
    for key, value in spider_args:
        spider, sep, name = key.partition(":")
        if not sep:
            shared.append((key, value))
        elif spider in spiders and name:
            own.setdefault(spider, []).append((name, value))
        else:
            raise ValueError(f"{key}=...: {spider!r} is not one of the spiders matched")
    return shared, own


def run_all(
    patterns: Sequence[str],
    spider_args: Sequence[tuple[str, str]] = (),
    overrides: Sequence[tuple[str, str]] = (),
    *,
    publishers: bool = False,
) -> int:
    """Crawl every spider matching one of ``patterns`` once (and, with ``publishers``, every
    configured publisher's); returns the exit status (see above)."""
    settings = load_settings(overrides)
    data_dir = Path(settings.get("DATA_DIR")).resolve()
    pattern = " ".join([*patterns, *(["--publishers"] if publishers else [])])
    spiders = matching_spiders(settings, patterns, publishers=publishers)
    unmatched = [p for p in patterns if not any(fnmatchcase(name, p) for name in spiders)]
    if unmatched or not spiders:
        known = ", ".join(sorted(SpiderLoader.from_settings(settings).list())) or "none"
        print(
            f"No spider matches {' '.join(unmatched) or pattern} (spiders: {known}; a "
            "publisher's spider matches only its own name, or --publishers).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        shared, own = split_arguments(spider_args, spiders)
    except ValueError as exc:
        print(f"Bad spider argument {exc}.", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as held:
        locks: dict[str, IO[str]] = {}
        skipped: list[str] = []
        for spider in spiders:
            try:
                lock = held.enter_context(run_lock(settings, data_dir, spider))
            except LockUnavailable as exc:
                print(f"Cannot run {spider}: {exc}", file=sys.stderr)
                return EXIT_FAILED
            if lock is None:
                holder = run_lock_holder(settings, data_dir, spider) or "holder unknown"
                print(f"Another {spider} run is active ({holder}); skipping {spider}.", flush=True)
                skipped.append(spider)
            else:
                locks[spider] = lock
        if not locks:
            print(
                f"Every spider matching {pattern} is being crawled by another run; "
                f"nothing to do (exit {EX_TEMPFAIL}).",
                file=sys.stderr,
            )
            return EX_TEMPFAIL
        crawl = _Crawl(pattern, list(locks), skipped, shared, own, overrides, settings, data_dir)
        return crawl.run(locks)


class _Crawl:
    """One ``--all`` crawl of the spiders whose locks are held."""

    def __init__(
        self,
        pattern: str,
        spiders: list[str],
        skipped: list[str],
        shared: list[tuple[str, str]],
        own: dict[str, list[tuple[str, str]]],
        overrides: Sequence[tuple[str, str]],
        settings: Settings,
        data_dir: Path,
    ) -> None:
        self.pattern = pattern
        self.spiders = spiders
        self.skipped = skipped
        self.shared = shared
        self.own = own
        self.overrides = list(overrides)
        self.settings = settings
        self.data_dir = data_dir
        log_root = Path(settings.get("LOG_DIR")).resolve()
        keep = settings.getint("LOG_KEEP")
        self.combined_log = new_log_file(log_root / COMBINED_LOG_DIR, keep)
        self.logs = {spider: new_log_file(log_root / spider, keep) for spider in spiders}

    def run(self, locks: dict[str, IO[str]]) -> int:
        server = embedded_server(self.settings, self.data_dir)
        started_at = utc_now()
        batch: dict[str, Any] = {
            "id": f"crawlall-{started_at:%Y%m%dT%H%M%S.%f}Z-{os.getpid()}",
            "started_at": started_at,
            "pattern": self.pattern,
            "spiders": self.spiders,
            "skipped": self.skipped,
            "log_file": str(self.combined_log),
        }
        try:
            with StatsPipe() as pipe:
                returncode, timed_out = self._crawl(locks, pipe)
                handed = pipe.results(self.spiders)
            batch["finished_at"] = utc_now()
            outcomes = [
                self._record(spider, handed[spider], returncode, timed_out, batch, server)
                for spider in self.spiders
            ]
        finally:
            if server is not None:
                server.release()
        for outcome in outcomes:
            report(outcome, self.settings)
            append_line(self.combined_log, outcome.summary)
        failed = [outcome.spider for outcome in outcomes if outcome.failures]
        process_failed = returncode != 0 and not failed
        summary = self._summary(outcomes, failed, returncode if process_failed else None)
        print(summary, file=sys.stderr if failed or process_failed else sys.stdout, flush=True)
        append_line(self.combined_log, summary)
        return EXIT_FAILED if failed or process_failed else EXIT_OK

    def _crawl(self, locks: dict[str, IO[str]], pipe: StatsPipe) -> tuple[int, bool]:
        arguments = [*self.shared]
        for spider, pairs in self.own.items():
            if spider in self.spiders:  # not a skipped one's
                arguments += [(f"{spider}:{name}", value) for name, value in pairs]
        logs = json.dumps({spider: str(path) for spider, path in self.logs.items()})
        command, env = scrapy_command(
            ["crawlall", *self.spiders],
            arguments,
            [
                *self.overrides,
                ("LOG_FILE", str(self.combined_log)),
                ("STATS_DUMP_FD", str(pipe.write_fd)),
                (SPIDER_LOG_FILES, logs),
            ],
        )
        fds = (*(lock.fileno() for lock in locks.values()), pipe.write_fd)
        return supervise(command, env, self.combined_log, fds, self.settings, pipe, "crawlall")

    def _record(
        self,
        spider: str,
        handed: HandedBack,
        returncode: int,
        timed_out: bool,
        batch: dict[str, Any],
        server: EmbeddedServer | None,
    ) -> RunOutcome:
        stats = handed.stats
        if stats is None and handed.problem is None:
            handed = HandedBack(
                None,
                "it handed back none: it could not start, or the crawl process died before it "
                f"finished (see {self.combined_log})",
            )
        finished = stats.get("finish_time") if stats else None
        if not isinstance(finished, datetime):
            finished = batch["finished_at"]
        # A spider whose stats came back is judged on them: the process's exit code is every
        # spider's (another's lost data, a crash after this one finished), its own trouble is
        # in its stats and monitors. Only a spider still crawling was cut short by the timeout.
        return record_run(
            spider,
            [*self.shared, *self.own.get(spider, [])],
            self.overrides,
            (batch["started_at"], finished),
            handed,
            returncode if stats is None else 0,
            timed_out and (stats is None or stats.get(stats_keys.FINISH_REASON) != "finished"),
            self.logs[spider],
            self.settings,
            self.data_dir,
            server,
            extra={"returncode": returncode, "batch": batch},
        )

    def _summary(self, outcomes: list[RunOutcome], failed: list[str], code: int | None) -> str:
        ok = len(outcomes) - len(failed)
        text = f"crawlall {self.pattern}: {len(outcomes)} spider(s) crawled, {ok} ok"
        text += f", {len(failed)} failed: {', '.join(failed)}" if failed else ", 0 failed"
        if self.skipped:
            text += f"; skipped (another run active): {', '.join(self.skipped)}"
        if code is not None:
            text += f"; the crawl process exited with code {code}"
        return redact_text(f"{text} (log {self.combined_log})")
