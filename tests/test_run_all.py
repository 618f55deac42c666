"""``python -m crawler run --all`` / ``run 'PATTERN'``: several desks in one crawl process.

``--all`` and wildcards select the ANTARA spiders only; a configured publisher's spider runs
when named or with ``--publishers`` (tested without a crawl, with every lock held).

The scenario runs the real command against generated desk mirrors (:mod:`tests.desk_mirrors`,
one port per desk, i.e. one host each) and the session's MongoDB server; the pieces it is made
of (the stats lines per spider, per-crawler log counts, argument routing) are tested below it
without a crawl.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from pymongo.database import Database
from scrapy import Spider
from scrapy.utils.test import get_crawler

from crawler.archive.spool import encode
from crawler.cli.main import cli
from crawler.components.crawl_scope import ScopedLogCount, crawler_scope
from crawler.components.stats_dump import StatsDump
from crawler.ops.run_all import matching_spiders, split_arguments
from crawler.ops.run_record import CRAWL_RUNS
from crawler.ops.runner import EX_TEMPFAIL, load_settings, lock_path, spider_lock
from crawler.ops.stats_handoff import StatsPipe
from crawler.sites.antara_desks import DESKS as DESK_ROWS
from crawler.sites.publisher_config import shipped_configs
from tests.desk_mirrors import EXPECTED_PATHS, DeskMirror
from tests.mirror import FAST_SETTINGS, REPO_DIR, free_port

Doc = dict[str, Any]
#: The desks of the scenario: three mirrors, one dead host, one desk locked by another run.
PATTERN = "antara_kal*"
DESKS = ["antara_kalbar", "antara_kalsel", "antara_kaltara", "antara_kalteng", "antara_kaltim"]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "run", *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def settings_args(tmp_path: Path, mongo_uri: str, database: str) -> list[str]:
    return [
        "-s", f"MONGO_URI={mongo_uri}",
        "-s", f"MONGO_DATABASE={database}",
        "-s", f"DATA_DIR={tmp_path / 'data'}",
        "-s", f"LOG_DIR={tmp_path / 'logs'}",
        "-s", "RETRY_TIMES=1",
        *FAST_SETTINGS,
    ]  # fmt: skip


@contextlib.contextmanager
def held_locks(data_dir: Path, spiders: list[str]) -> Iterator[list[IO[str] | None]]:
    """The locks of ``spiders``, held as another run would hold them."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(spider_lock(lock_path(data_dir, s))) for s in spiders]


def request_span(mirror: DeskMirror) -> tuple[float, float]:
    """When the first and the last request reached ``mirror``."""
    times = [t for path in mirror.counts for t in mirror.times(path)]
    return min(times), max(times)


@pytest.mark.slow
def test_all_desks_in_one_process_each_recorded_and_judged_on_its_own(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc]
) -> None:
    # Every matched desk gets a local base_url: nothing may reach a live host.
    assert matching_spiders(load_settings([]), [PATTERN]) == DESKS
    kalbar, kalsel, kaltara, kalteng, kaltim = DESKS
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: every listing fails
    with (
        DeskMirror(1) as one,
        DeskMirror(2) as two,
        DeskMirror(3) as three,
        held_locks(tmp_path / "data", [kaltim]) as (lock,),
    ):
        assert lock is not None
        for mirror in (one, two, three):
            mirror.slow_down(0.25)  # a few seconds of crawl each, so overlap is no accident
        done = run_cli(
            PATTERN,
            f"{kalbar}:base_url={one.base_url}",
            f"{kalsel}:base_url={two.base_url}",
            f"{kalteng}:base_url={three.base_url}",
            f"{kaltara}:base_url={dead}",
            f"{kaltim}:base_url={dead}",
            *settings_args(tmp_path, mongo_uri, mongo_db.name),
        )
        mirrors = {kalbar: one, kalsel: two, kalteng: three}
        spans = {desk: request_span(mirror) for desk, mirror in mirrors.items()}
    assert done.returncode == 1, done.stderr + done.stdout

    # The locked desk is skipped and said so (its holder named), and gets no record (below).
    assert f"Another {kaltim} run is active (pid {os.getpid()}" in done.stdout
    assert f"skipping {kaltim}." in done.stdout
    # One summary line per desk crawled, then the run's, naming the failed desk.
    for desk in (kalbar, kalsel, kalteng):
        assert f"{desk} run ok: 16 new, 0 updated" in done.stdout
    assert f"{kaltara} run failed: 0 new" in done.stderr
    assert "monitor listings: no listing page was fetched" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"crawlall {PATTERN}: 4 spider(s) crawled, 3 ok, 1 failed: {kaltara}; "
        f"skipped (another run active): {kaltim} (log "
    )

    # The desks crawled at the same time: every mirror's first request came before the last
    # request to every other.
    assert all(spans[a][0] < spans[b][1] for a in mirrors for b in mirrors if a != b), spans

    # One record per desk crawled, each judged on its own stats: the dead host's errors are
    # not the others'.
    runs = {run["spider"]: run for run in mongo_db[CRAWL_RUNS].find()}
    assert sorted(runs) == [kalbar, kalsel, kaltara, kalteng]
    assert len({run["batch"]["id"] for run in runs.values()}) == 1
    assert runs[kalbar]["batch"]["skipped"] == [kaltim]
    for desk, mirror in mirrors.items():
        run = runs[desk]
        assert run["status"] == "ok" and run["failures"] == [], run["failures"]
        assert run["args"] == {"base_url": mirror.base_url}
        assert run["counts"]["new"] == 16 and run["counts"]["errors"] == 0
        log = Path(run["log_file"])
        assert log.parent == tmp_path / "logs" / desk
        text = log.read_text()
        assert f"[{desk}] [scrapy.core.engine] INFO: Spider closed (finished)" in text
        assert all(f"[{other}]" not in text for other in DESKS if other != desk)
        assert text.rstrip().endswith(")") and f"{desk} run ok" in text.splitlines()[-1]
    failed = runs[kaltara]
    assert failed["status"] == "failed" and failed["counts"]["errors"] > 0
    assert "monitor listings: no listing page was fetched" in failed["failures"]

    # Each desk archived its own 16 articles, under its own host, none a duplicate.
    for desk in mirrors:
        docs = list(mongo_db.articles.find({"source": desk}, {"url": 1, "duplicate_of": 1}))
        assert sorted(urlsplit(doc["url"]).path for doc in docs) == EXPECTED_PATHS
        assert len({urlsplit(doc["url"]).hostname for doc in docs}) == 1
        assert all(doc["duplicate_of"] is None for doc in docs)
    assert mongo_db.articles.count_documents({}) == 3 * 16

    # The combined log has every desk's lines and every summary.
    combined = Path(runs[kalbar]["batch"]["log_file"]).read_text()
    assert all(f"[{desk}]" in combined for desk in (kalbar, kalsel, kalteng, kaltara))
    assert combined.count("[crawler.ops.runner] INFO: ") == 5


def run_in_process(*args: str) -> Result:
    """``python -m crawler run ARGS`` in this process: for the paths that never crawl."""
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def test_every_desk_locked_exits_75_without_crawling(tmp_path: Path) -> None:
    spiders = matching_spiders(load_settings([]), ["*"])
    assert len(spiders) == 34 and all(name.startswith("antara_") for name in spiders)
    with held_locks(tmp_path / "data", spiders) as locks:
        assert all(locks)
        done = run_in_process(
            "--all", "-s", f"DATA_DIR={tmp_path / 'data'}", "-s", f"LOG_DIR={tmp_path / 'logs'}"
        )
    assert done.exit_code == EX_TEMPFAIL, done.output
    assert "Every spider matching * is being crawled by another run" in done.stderr
    assert done.stdout.count("; skipping ") == len(spiders)
    assert not (tmp_path / "logs").exists()


def test_all_is_the_antara_spiders_and_publishers_run_only_when_asked_for() -> None:
    """A configured publisher is a third party's site: no wildcard and no --all crawls it."""
    settings = load_settings([])
    publishers = sorted(shipped_configs())
    assert {"tabengan", "prokalteng", "kalteng_tribunnews", "borneonews"} <= set(publishers)
    desks = matching_spiders(settings, ["*"])
    assert desks == sorted(desk.spider_name for desk in DESK_ROWS)
    assert not set(desks) & {*publishers, "news"}
    assert matching_spiders(settings, [], publishers=True) == publishers
    assert matching_spiders(settings, ["*"], publishers=True) == sorted(desks + publishers)
    assert matching_spiders(settings, ["antara_kalteng", "tabengan"]) == [
        "antara_kalteng",
        "tabengan",
    ]
    assert matching_spiders(settings, ["tab*", "*news*"]) == []


def test_publishers_run_with_their_option_and_one_by_its_name(tmp_path: Path) -> None:
    data = ["-s", f"DATA_DIR={tmp_path / 'data'}", "-s", f"LOG_DIR={tmp_path / 'logs'}"]
    publishers = sorted(shipped_configs())
    desks = matching_spiders(load_settings([]), ["*"])
    with held_locks(tmp_path / "data", [*desks, *publishers]) as locks:
        assert all(locks)
        alone = run_in_process("--publishers", *data)
        both = run_in_process("--all", "--publishers", *data)
        named = run_in_process("tabengan", *data)
    # Every one was locked, so nothing crawled: what each run would have crawled is named.
    assert alone.exit_code == EX_TEMPFAIL, alone.output
    assert [line.rsplit(" ", 1)[-1] for line in alone.stdout.splitlines()] == [
        f"{name}." for name in publishers
    ]
    assert "Every spider matching --publishers is being crawled" in alone.stderr
    assert both.exit_code == EX_TEMPFAIL, both.output
    assert both.stdout.count("; skipping ") == len(desks) + len(publishers)
    assert "Every spider matching * --publishers is being crawled" in both.stderr
    # One publisher by its name is a single run, as for a desk.
    assert named.exit_code == EX_TEMPFAIL, named.output
    assert "Another tabengan run is active" in named.stderr
    assert "not starting a second one" in named.stderr
    assert not (tmp_path / "logs").exists()


def test_a_wildcard_for_a_publisher_says_how_to_crawl_one(tmp_path: Path) -> None:
    done = run_in_process("tab*", "-s", f"DATA_DIR={tmp_path / 'data'}")
    assert done.exit_code == 2
    assert "No spider matches tab* (spiders: antara_aceh, " in done.stderr
    assert "a publisher's spider matches only its own name, or --publishers" in done.stderr
    neither = run_in_process("-s", f"DATA_DIR={tmp_path / 'data'}")
    assert neither.exit_code == 2 and "or --all, or --publishers" in neither.stderr


def test_no_matching_spider_or_a_stray_spider_argument_is_a_usage_error(tmp_path: Path) -> None:
    data = ["-s", f"DATA_DIR={tmp_path / 'data'}"]
    nothing = run_in_process("nothing_*", *data)
    assert nothing.exit_code == 2
    assert "No spider matches nothing_* (spiders: antara_aceh, " in nothing.stderr
    stray = run_in_process(PATTERN, "antara_aceh:base_url=http://127.0.0.1:9", *data)
    assert stray.exit_code == 2
    assert "'antara_aceh' is not one of the spiders matched" in stray.stderr
    both = run_in_process("--all", "antara_kalsel", *data)
    assert both.exit_code == 2 and "not both" in both.stderr
    assert not (tmp_path / "data" / "locks").exists()


# --- pieces, without a crawl ---------------------------------------------------------------


def test_spider_arguments_go_to_every_spider_or_to_the_one_named() -> None:
    shared, own = split_arguments(
        [("max_pages", "2"), ("a:base_url", "http://x"), ("b:since", "2026-01-01")], ["a", "b"]
    )
    assert shared == [("max_pages", "2")]
    assert own == {"a": [("base_url", "http://x")], "b": [("since", "2026-01-01")]}
    with pytest.raises(ValueError, match="'c' is not one of the spiders matched"):
        split_arguments([("c:base_url", "http://x")], ["a", "b"])


def test_stats_pipe_gives_each_spider_its_own_stats_or_why_not() -> None:
    with StatsPipe() as pipe:
        for line in (
            encode({"spider": "a", "stats": {"item_scraped_count": 3}}),
            '{"spider": "b", "error": "the crawl could not encode its stats: x"}',
            '{"spider": "c", "stats": {"item_scr',  # the process died writing it
        ):
            os.write(pipe.write_fd, (line + "\n").encode())
        results = pipe.results(["a", "b", "c"])
    assert results["a"].stats == {"item_scraped_count": 3}
    assert results["b"].stats is None and "could not encode" in str(results["b"].problem)
    assert results["c"].stats is None and "arrived incomplete" in str(results["c"].problem)


def test_crawlers_sharing_the_stats_fd_each_write_a_line_and_the_last_closes_it() -> None:
    read_fd, write_fd = os.pipe()
    try:
        crawlers = [
            get_crawler(type(name, (Spider,), {"name": name}), {"STATS_DUMP_FD": write_fd})
            for name in ("a", "b")
        ]
        dumps = [StatsDump.from_crawler(crawler) for crawler in crawlers]
        dumps[0].engine_stopped()
        os.fstat(write_fd)  # still open: "b" has yet to write
        dumps[1].engine_stopped()
        with pytest.raises(OSError):
            os.fstat(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            lines = pipe.read().decode().splitlines()
    finally:
        with contextlib.suppress(OSError):
            os.close(write_fd)
    assert [line.split('"')[3] for line in lines] == ["a", "b"]


def test_log_counts_are_per_crawler_and_nobodys_records_count_everywhere() -> None:
    spiders = [type(name, (Spider,), {"name": name}) for name in ("a", "b")]
    crawlers = [get_crawler(cls, {"LOG_LEVEL": "WARNING"}) for cls in spiders]
    counters = [ScopedLogCount.from_crawler(crawler) for crawler in crawlers]
    a, b = crawlers
    log = logging.getLogger("tests.crawl_scope")
    for counter, crawler in zip(counters, crawlers, strict=True):
        counter.spider_opened(crawler.spidercls())
    try:
        with crawler_scope(a):
            log.error("a's code logs")
        spider_b = crawlers[1].spidercls()
        spider_b.crawler = b
        log.error("b's spider is named", extra={"spider": spider_b})
        log.warning("nobody's")
        log.info("below LOG_LEVEL")
    finally:
        for counter, crawler in zip(counters, crawlers, strict=True):
            counter.spider_closed(crawler.spidercls(), "finished")
    assert a.stats is not None and b.stats is not None
    assert a.stats.get_value("log_count/ERROR") == 1
    assert b.stats.get_value("log_count/ERROR") == 1
    assert a.stats.get_value("log_count/WARNING") == b.stats.get_value("log_count/WARNING") == 1
    assert a.stats.get_value("log_count/INFO") is None
