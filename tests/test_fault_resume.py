"""A JOBDIR crawl killed with SIGKILL is rebuilt on resume, not silently finished (issue 7.3).

Scrapy saves its request queue only when the scheduler closes; after SIGKILL the queue is gone
but ``requests.seen`` still names every request scheduled, so a resume used to filter its own
start requests, make no request and finish with every monitor passing.

The scenario: the mirror with 260 more articles, 200 on ``/terkini/2`` and 20 on each of three
deeper pages; a real ``scrapy crawl`` (breadth-first, so the top listing's articles come first)
is SIGKILLed once the fixture articles are archived and ``requests.seen`` holds fingerprints,
then resumed with the same JOBDIR. The incremental middleware is on, as in production: what
the killed run archived must not be fetched again, and the walk must not stop at page 1 (all
of whose articles are archived) while the pages below it were never fully fetched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.store import connect
from crawler.components.incremental import ArchiveAwareMiddleware, Lookup
from crawler.components.monitors import MonitorConfig, evaluate
from spiders.antara import AntaraKaltengSpider
from tests.mirror import (
    EXPECTED_URLS,
    LIVE_ORIGIN,
    REPO_DIR,
    MirrorServer,
    listing_with,
    mirror_crawl_args,
    run_crawl,
)
from tests.test_incremental import new_article

#: New articles per page of /terkini; page 2 alone schedules enough requests for
#: ``requests.seen`` to reach the disk (it is buffered: SIGKILL loses its last 4 KiB block,
#: ~186 fingerprints, so a crawl killed earlier leaves it empty and resumes from scratch).
NEW_ARTICLES = {2: 200, 3: 20, 4: 20, 5: 20}
#: Scrapy's documented breadth-first order, for the killed run only.
BREADTH_FIRST = (
    "-s", "DEPTH_PRIORITY=1",
    "-s", "SCHEDULER_DISK_QUEUE=scrapy.squeues.PickleFifoDiskQueue",
    "-s", "SCHEDULER_MEMORY_QUEUE=scrapy.squeues.FifoMemoryQueue",
    "-s", "CONCURRENT_REQUESTS=2",
)  # fmt: skip


def listing_page(page: int, paths: list[str]) -> str:
    """Page ``page`` of /terkini: ``paths`` on top of the fixture's page 2, and a next link."""
    html = listing_with("terkini/2.html", paths, "20 Januari 2026 09:00", "arsip")
    if page == max(NEW_ARTICLES):
        return html
    pager = '<ul class="pagination pagination-sm">'
    next_link = f'<li><a href="{LIVE_ORIGIN}/terkini/{page + 1}" aria-label="Next">&raquo;</a></li>'
    return html.replace(pager, pager + next_link, 1)


def deep_site(mirror: MirrorServer) -> list[str]:
    """Serve the extra pages and articles; the URLs a full crawl must archive."""
    expected = list(EXPECTED_URLS)
    number = 100
    for page, count in NEW_ARTICLES.items():
        paths = []
        for _ in range(count):
            path, html = new_article(number)
            mirror.add_page(path, html)
            paths.append(path)
            expected.append(LIVE_ORIGIN + path)
            number += 1
        mirror.add_page(f"/terkini/{page}", listing_page(page, paths))
    return sorted(expected)


def archived(mongo_uri: str, database: str) -> list[dict[str, Any]]:
    db = connect(mongo_uri, database)
    try:
        return list(db.articles.find({}, {"_id": 0, "url": 1, "version": 1}))
    finally:
        db.client.close()


def article_requests(counts: dict[str, int]) -> dict[str, int]:
    return {path: n for path, n in counts.items() if path.startswith("/berita/")}


def killed_crawl(
    args: list[str], mongo_uri: str, database: str, jobdir: Path
) -> list[dict[str, Any]]:
    """Start a crawl, SIGKILL it once the fixture articles are archived and ``requests.seen``
    is on disk; what was archived then."""
    scrapy = Path(sys.executable).with_name("scrapy")
    command = [str(scrapy)] if scrapy.exists() else [sys.executable, "-m", "scrapy"]
    seen = jobdir / "requests.seen"

    def ready() -> bool:
        urls = {doc["url"] for doc in archived(mongo_uri, database)}
        return set(EXPECTED_URLS) <= urls and seen.exists() and seen.stat().st_size > 0

    with subprocess.Popen(
        [*command, "crawl", "antara_kalteng", *args],
        cwd=REPO_DIR,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:
        try:
            deadline = time.monotonic() + 120
            while not ready():
                assert process.poll() is None, "the crawl ended before it was killed"
                assert time.monotonic() < deadline, "the fixture articles took over 120 s"
                time.sleep(0.1)
            assert process.poll() is None, "the crawl ended before it was killed"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == -signal.SIGKILL
    return archived(mongo_uri, database)


@pytest.mark.slow
def test_sigkilled_crawl_is_rebuilt_on_resume(mongo_uri: str, tmp_path: Path) -> None:
    database = f"killed_{uuid.uuid4().hex[:12]}"
    jobdir = tmp_path / "job"
    try:
        with MirrorServer() as mirror:
            expected = deep_site(mirror)
            args = mirror_crawl_args(
                mirror, mongo_uri, database, "-s", f"JOBDIR={jobdir}",
                "-s", "ARCHIVE_FLUSH_SECONDS=0.5",
            )  # fmt: skip

            mirror.slow_down(0.05, "/berita/")  # the killed run must not finish first
            at_kill = {
                doc["url"]
                for doc in killed_crawl([*args, *BREADTH_FIRST], mongo_uri, database, jobdir)
            }
            assert len(at_kill) < len(expected)
            left_by_the_killed_run = {path.name for path in jobdir.iterdir()}

            mirror.slow_down(0, "/berita/")
            mirror.reset_counts()
            resumed = run_crawl("antara_kalteng", *args)
            resumed_counts = mirror.counts

            mirror.reset_counts()
            again = run_crawl("antara_kalteng", *args)
            again_counts = mirror.counts

        assert resumed.returncode == 0, resumed.log[-3000:]
        stats = resumed.stats
        fetched = article_requests(resumed_counts)
        docs = archived(mongo_uri, database)
        assert fetched, (
            f"the resumed run requested no article ({stats.get('downloader/request_count', 0)} "
            f"requests, finish reason {stats.get('finish_reason')!r}, {len(docs)} of "
            f"{len(expected)} articles archived, {stats.get('monitors/failed')} monitors failed)"
        )
        from crawler.components.jobdir import RUNNING_MARKER  # here, so this test runs on main too

        assert RUNNING_MARKER in left_by_the_killed_run
        assert stats.get("jobdir/unclean_resume") == 1
        assert "was killed before it saved its queue: rebuilding the crawl" in resumed.log
        # Start requests went out again, and /terkini was walked to its end although its
        # first page held only archived articles ...
        assert resumed_counts.get("/rss/terkini.xml") == 1 and resumed_counts.get("/terkini") == 1
        assert all(resumed_counts.get(f"/terkini/{page}") == 1 for page in NEW_ARTICLES)
        assert "incremental/stopped_listings" not in stats
        # ... but what the killed run archived was not downloaded again.
        assert not {LIVE_ORIGIN + path for path in fetched} & at_kill
        assert stats.get("incremental/skipped_known", 0) >= len(at_kill)
        assert max(fetched.values()) == 1
        # Every article archived, each once.
        assert sorted(doc["url"] for doc in docs) == expected
        assert {doc["version"] for doc in docs} == {1}
        assert stats.get("monitors/failed") == 0, {
            k: v for k, v in stats.items() if k.startswith("monitors/")
        }
        assert not (jobdir / RUNNING_MARKER).exists()

        # The job is finished: a run on its JOBDIR has nothing left to do, and says so.
        assert again.returncode == 0, again.log[-3000:]
        assert article_requests(again_counts) == {}
        assert "jobdir/unclean_resume" not in again.stats
        assert again.stats.get("monitors/listings/failed") == 1
        assert again.stats.get("monitors/listings/message") == "no listing page was fetched"
    finally:
        db = connect(mongo_uri, database)
        db.client.drop_database(database)
        db.client.close()


# --- the listings monitor ----------------------------------------------------------------------


def listings_verdict(listing_pages: int, stats: dict[str, int]) -> tuple[bool, str]:
    results = evaluate(
        {"item_scraped_count": 0, **stats},
        MonitorConfig(),
        spider="antara_kalteng",
        reason="finished",
        pages=0,
        found={},
        article_links=0,
        listing_pages=listing_pages,
    )
    (result,) = [result for result in results if result.name == "listings"]
    return result.passed, result.message


def test_a_run_that_fetched_no_listing_fails_the_listings_monitor() -> None:
    # What a resume of a SIGKILLed crawl looked like: no request, "finished".
    assert listings_verdict(0, {}) == (False, "no listing page was fetched")


def test_listings_fetched_pass() -> None:
    assert listings_verdict(6, {"scheduler/enqueued": 40, "scheduler/dequeued": 40}) == (
        True,
        "6 listing page(s) fetched",
    )


def test_a_clean_resume_of_queued_articles_passes() -> None:
    """After SIGTERM the queue may hold only articles: dequeued beyond enqueued were queued
    by the stopped run."""
    passed, message = listings_verdict(0, {"scheduler/enqueued": 0, "scheduler/dequeued": 12})
    assert passed and message == "0 listing page(s) fetched; 12 queued request(s) resumed"


def test_min_listing_pages_zero_turns_the_check_off() -> None:
    results = evaluate(
        {},
        MonitorConfig(min_listing_pages=0),
        spider="s",
        reason="finished",
        pages=0,
        found={},
        article_links=0,
        listing_pages=0,
    )
    assert all(result.passed for result in results if result.name == "listings")


# --- the dupefilter and the middleware, in process ---------------------------------------------


def make_filter(jobdir: Path) -> tuple[Any, dict[str, Any]]:
    from crawler.components.jobdir import ResumableDupeFilter

    crawler = get_crawler(AntaraKaltengSpider, settings_dict={"JOBDIR": str(jobdir)})
    dupefilter = ResumableDupeFilter.from_crawler(crawler)
    assert crawler.stats is not None
    return dupefilter, crawler.stats.get_stats()


def test_an_unclean_stop_discards_the_seen_requests(tmp_path: Path) -> None:
    from crawler.components.jobdir import RUNNING_MARKER

    request = Request("https://kalteng.antaranews.com/berita/1/a")
    first, _ = make_filter(tmp_path)
    assert not first.request_seen(request)
    first.close("finished")  # a clean stop keeps them
    assert not (tmp_path / RUNNING_MARKER).exists()

    second, stats = make_filter(tmp_path)
    assert second.request_seen(request) and "jobdir/unclean_resume" not in stats
    # Killed: its files are left as they are and its lock goes with the process.
    assert second.file is not None and second._marker is not None
    second.file.close()
    second._marker.close()
    (tmp_path / "requests.queue").mkdir(exist_ok=True)
    (tmp_path / "requests.queue" / "active.json").write_text("{}")
    third, stats = make_filter(tmp_path)
    assert not third.request_seen(request)
    assert stats["jobdir/unclean_resume"] == 1
    assert stats["jobdir/discarded_fingerprints"] == 1
    assert not (tmp_path / "requests.queue").exists()
    third.close("finished")


def test_a_jobdir_in_use_is_refused(tmp_path: Path) -> None:
    from crawler.components.jobdir import RUNNING_MARKER, JobdirInUse

    running, _ = make_filter(tmp_path)
    try:
        with pytest.raises(JobdirInUse):
            make_filter(tmp_path)
    finally:
        running.close("finished")
    assert not (tmp_path / RUNNING_MARKER).exists()


def test_a_rebuild_walks_listings_past_archived_pages() -> None:
    crawler = get_crawler(AntaraKaltengSpider)
    crawler.spider = crawler._create_spider()
    assert crawler.stats is not None
    crawler.stats.set_value("jobdir/unclean_resume", 1)
    middleware = ArchiveAwareMiddleware.from_crawler(crawler)
    known = f"{LIVE_ORIGIN}/berita/2/b"

    async def lookup(urls: set[str]) -> Lookup:
        return Lookup({known: None}, set())

    middleware._lookup = lookup  # type: ignore[method-assign]
    listing = Request(f"{LIVE_ORIGIN}/terkini", meta={"listing": "terkini", "listing_page": 1})
    response = HtmlResponse(listing.url, body=b"<html></html>", request=listing)
    next_page = Request(f"{LIVE_ORIGIN}/terkini/2", meta={"listing": "terkini", "pagination": True})
    article = Request(known, meta={"article": True}, cb_kwargs={"live_url": known})

    async def output() -> AsyncIterator[Any]:
        yield article
        yield next_page

    async def collect() -> list[Any]:
        return [r async for r in middleware.process_spider_output(response, output())]

    assert [r.url for r in asyncio.run(collect())] == [next_page.url]
    assert crawler.stats.get_value("incremental/skipped_known") == 1
    assert crawler.stats.get_value("incremental/stopped_listings") is None


def test_links_a_stopped_run_already_requested_are_not_counted_again() -> None:
    """A clean resume re-reads listings whose links the stopped run requested: the dupefilter
    drops them, and they are not this run's to account for (main failed item_count on a
    SIGTERM resume: "13 item(s) from 16 article link(s) requested")."""
    from crawler.components.monitors import RunMonitors

    crawler = get_crawler(AntaraKaltengSpider)
    spider = crawler._create_spider()
    monitors = RunMonitors(crawler, MonitorConfig())

    def article_request(path: str) -> Request:
        return Request(LIVE_ORIGIN + path, callback=spider.parse_article)

    old, queued, new = (article_request(p) for p in ("/berita/1/a", "/berita/2/b", "/berita/3/c"))
    for request in (old, queued, new):
        monitors.request_scheduled(request)
    monitors.request_dropped(old)  # seen by the stopped run, not fetched now
    monitors.request_dropped(queued)  # seen, but fetched now from the saved queue
    monitors.request_reached_downloader(queued)
    monitors.request_reached_downloader(new)
    assert monitors.requested_links() == {queued.url, new.url}
