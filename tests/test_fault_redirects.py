"""No silent drops (issue 7.9): redirect loops, redirects to another host, and Retry-After.

One real ``scrapy crawl`` of the mirror, whose terkini listing also links six article URLs
that misbehave:

- ``LOOP_A`` redirects to ``LOOP_B``, which redirects back (Scrapy's dupefilter used to drop the
  hop back without a stat or a line above DEBUG);
- ``OFFSITE`` redirects to ``http://localhost:<port>/...``, another host name for the same
  server (Scrapy's offsite filter used to drop it the same way);
- ``REMOVED`` redirects to ``/terkini``, which the crawl already requested (a drop, but counted);
- ``RETRY_SECONDS`` answers 429 with ``Retry-After: 2`` once, ``RETRY_DATE`` 503 with an
  HTTP-date a few seconds ahead once, then both serve the article (Scrapy used to retry at once);
- ``RETRY_TOO_LONG`` answers 429 with ``Retry-After: 86400`` (over RETRY_AFTER_MAX_SECONDS).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crawler.archive.store import connect
from tests.mirror import (
    EXPECTED_URLS,
    LIVE_ORIGIN,
    CrawlRun,
    MirrorServer,
    listing_with,
    mirror_crawl_args,
    run_crawl,
)

LOOP_A = "/berita/990001/redirect-loop-a"
LOOP_B = "/berita/990002/redirect-loop-b"
OFFSITE = "/berita/990003/redirect-ke-host-lain"
#: A removed story that redirects to the listing, which the crawl requested already.
REMOVED = "/berita/990004/berita-dihapus"
#: Fixture articles that fail first, so the retry has a real page to archive.
RETRY_SECONDS = EXPECTED_URLS[0].removeprefix(LIVE_ORIGIN)
RETRY_DATE = EXPECTED_URLS[1].removeprefix(LIVE_ORIGIN)
RETRY_TOO_LONG = EXPECTED_URLS[2].removeprefix(LIVE_ORIGIN)
OFFSITE_TARGET = EXPECTED_URLS[3].removeprefix(LIVE_ORIGIN)


@dataclass
class Crawl:
    run: CrawlRun
    counts: dict[str, int]
    times: dict[str, list[float]]  # wall-clock times of each request for a path
    retry_at: float  # the HTTP-date in RETRY_DATE's Retry-After
    archived: set[str]


@pytest.fixture(scope="module")
def crawl(mongo_uri: str) -> Iterator[Crawl]:
    database = f"redirects_{uuid.uuid4().hex[:12]}"
    try:
        with MirrorServer() as mirror:
            mirror.add_page(
                "/terkini",
                listing_with(
                    "terkini.html", [LOOP_A, OFFSITE, REMOVED], "28 Januari 2026 09:00", "r"
                ),
            )
            mirror.add_page(LOOP_A, "", status=302, headers={"Location": LOOP_B})
            mirror.add_page(LOOP_B, "", status=302, headers={"Location": LOOP_A})
            offsite = f"http://localhost:{mirror.port}{OFFSITE_TARGET}"
            mirror.add_page(OFFSITE, "", status=301, headers={"Location": offsite})
            mirror.add_page(REMOVED, "", status=302, headers={"Location": "/terkini"})
            mirror.fail(RETRY_SECONDS, 1, 429, headers={"Retry-After": "2"})
            # A fixed date: the article is asked for a few seconds into the crawl, before it.
            retry_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
            header = format_datetime(retry_at, usegmt=True)
            mirror.fail(RETRY_DATE, 1, 503, headers={"Retry-After": header})
            mirror.fail(RETRY_TOO_LONG, 5, 429, headers={"Retry-After": "86400"})
            run = run_crawl("antara_kalteng", *mirror_crawl_args(mirror, mongo_uri, database))
            paths = (RETRY_SECONDS, RETRY_DATE, RETRY_TOO_LONG)
            # The mirror's times are monotonic; the Retry-After date is wall-clock time.
            to_wall = time.time() - time.monotonic()
            times = {p: [t + to_wall for t in mirror.times(p)] for p in paths}
            crawl_result = Crawl(run, mirror.counts, times, retry_at.timestamp(), set())
        db = connect(mongo_uri, database)
        try:
            crawl_result.archived = {doc["url"] for doc in db.articles.find({}, {"url": 1})}
        finally:
            db.client.close()
        assert run.returncode == 0, run.log[-3000:]
        assert "Traceback" not in run.log, run.log[-3000:]
        yield crawl_result
    finally:
        db = connect(mongo_uri, database)
        db.client.drop_database(database)
        db.client.close()


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_redirect_loop_is_a_counted_failure_with_a_warning(crawl: Crawl) -> None:
    assert crawl.counts.get(LOOP_A) == 1 and crawl.counts.get(LOOP_B) == 1
    assert crawl.run.stats.get("antara_kalteng/download_errors/redirect_loop") == 1
    assert "WARNING: Redirect loop (" in crawl.run.log
    assert f"{LOOP_B} -> " in crawl.run.log


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_redirect_to_another_host_is_a_counted_failure_with_a_warning(crawl: Crawl) -> None:
    assert crawl.counts.get(OFFSITE) == 1
    assert crawl.run.stats.get("antara_kalteng/download_errors/redirect_offsite") == 1
    assert "WARNING: Redirected to another site (http://localhost:" in crawl.run.log


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_redirect_to_a_url_already_requested_is_a_counted_drop(crawl: Crawl) -> None:
    assert crawl.counts.get(REMOVED) == 1 and crawl.counts.get("/terkini") == 1
    assert crawl.run.stats.get("antara_kalteng/dropped/redirect_to_seen") == 1
    assert "INFO: Not following a redirect to http://127.0.0.1:" in crawl.run.log


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_retry_after_seconds_is_waited_for(crawl: Crawl) -> None:
    first, second = crawl.times[RETRY_SECONDS]
    assert second - first >= 2.0, crawl.times
    assert LIVE_ORIGIN + RETRY_SECONDS in crawl.archived


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_retry_after_http_date_is_waited_for(crawl: Crawl) -> None:
    first, second = crawl.times[RETRY_DATE]
    assert first < crawl.retry_at <= second, (crawl.times, crawl.retry_at)
    assert LIVE_ORIGIN + RETRY_DATE in crawl.archived
    assert crawl.run.stats.get("retry_after/delayed") == 2


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_retry_after_beyond_the_cap_gives_up_at_once(crawl: Crawl) -> None:
    assert len(crawl.times[RETRY_TOO_LONG]) == 1
    assert crawl.run.stats.get("retry_after/gave_up") == 1
    assert crawl.run.stats.get("antara_kalteng/skipped/http_429") == 1
    assert "asks to retry after 86400 s" in crawl.run.log


@pytest.mark.slow  # shares one crawl of ~17 s (the HTTP-date is 15 s ahead)
def test_every_article_link_is_accounted_for(crawl: Crawl) -> None:
    stats = crawl.run.stats
    assert crawl.archived == set(EXPECTED_URLS) - {LIVE_ORIGIN + RETRY_TOO_LONG}
    assert stats.get("monitors/item_count/failed") == 0, stats.get("monitors/item_count/message")
    # 17 fixture links (one a 404) and the three redirecting ones; the hops are the same
    # links, not new ones.
    assert stats.get("monitors/article_links") == len(EXPECTED_URLS) + 1 + 3


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (b" 7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | bytes | None, seconds: float | None) -> None:
    from crawler.components.retry_after import (
        retry_after_seconds,  # here: the module is new in issue 7
    )

    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds
