"""robots.txt is obeyed for every request, including those that wait on its download (issue 7.6).

Scrapy 2.19.0's ``RobotsTxtMiddleware`` lets every request that arrives while robots.txt is
still downloading await one shared Deferred; awaiting a Deferred as a Future consumes its
result, so the first waiter gets the rules and the others get ``None``, i.e. no rules at all.
A crawl's start requests all arrive at once, so with ``Disallow: /`` three of the five were
fetched. ``crawler.components.robots.SharedRobotsTxtMiddleware`` replaces it.

Real ``scrapy crawl`` subprocesses against the mirror, whose robots.txt is overridden.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from crawler.archive.store import connect
from tests.mirror import EXPECTED_URLS, CrawlRun, MirrorServer, mirror_crawl_args, run_crawl

#: The feed, the home page and the three listings of ``LISTING_PATHS``.
START_REQUESTS = 5
#: Article links on the fixture site: the archived ones and one that answers 404.
ARTICLE_LINKS = len(EXPECTED_URLS) + 1


@pytest.fixture
def database(mongo_uri: str) -> Iterator[str]:
    name = f"robots_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        db = connect(mongo_uri, name)
        db.client.drop_database(name)
        db.client.close()


def crawl_with_robots(
    robots_txt: str, mongo_uri: str, database: str
) -> tuple[CrawlRun, dict[str, int]]:
    with MirrorServer() as mirror:
        mirror.add_page("/robots.txt", robots_txt, content_type="text/plain; charset=utf-8")
        run = run_crawl("antara_kalteng", *mirror_crawl_args(mirror, mongo_uri, database))
        counts = mirror.counts
    assert run.returncode == 0, run.log[-3000:]
    assert "Traceback" not in run.log, run.log[-3000:]
    return run, counts


def test_disallow_all_fetches_nothing_but_robots_txt(mongo_uri: str, database: str) -> None:
    run, counts = crawl_with_robots("User-agent: *\nDisallow: /\n", mongo_uri, database)
    assert counts == {"/robots.txt": 1}, counts
    assert run.stats.get("robotstxt/forbidden") == START_REQUESTS
    assert run.stats.get("antara_kalteng/dropped/robots_forbidden") == START_REQUESTS
    assert run.log.count("WARNING: Forbidden by robots.txt:") == START_REQUESTS
    # A run that could fetch no listing is not a healthy run.
    assert run.stats.get("monitors/listings/failed") == 1
    assert run.stats.get("monitors/listings/message") == "no listing page was fetched"


def test_disallowed_articles_are_counted_drops(mongo_uri: str, database: str) -> None:
    run, counts = crawl_with_robots("User-agent: *\nDisallow: /berita/\n", mongo_uri, database)
    assert not [path for path in counts if path.startswith("/berita/")]
    assert counts.get("/terkini") == 1 and counts.get("/terkini/2") == 1
    assert run.stats.get("antara_kalteng/dropped/robots_forbidden") == ARTICLE_LINKS
    assert "item_scraped_count" not in run.stats
    # A drop by robots.txt is not a download error (main counted 17 as download_errors/IgnoreRequest).
    assert not [key for key in run.stats if key.startswith("antara_kalteng/download_errors/")]
    # Every requested article link ended as a counted drop.
    assert run.stats.get("monitors/item_count/failed") == 0
    assert run.stats.get("monitors/listings/failed") == 0
