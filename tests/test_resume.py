"""Resume: a crawl with ``-s JOBDIR=...`` stopped by SIGTERM or SIGINT picks up where it stopped.

A real ``scrapy crawl`` subprocess crawls a slow mirror; once some articles were fetched it gets
the signal, shuts down gracefully (Scrapy finishes in-flight requests, the pipeline flushes, the
scheduler keeps the rest on disk) and is run again with the same JOBDIR. The incremental
middleware is off in both runs, so nothing but JOBDIR can keep the second run from fetching
again what the first one fetched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crawler.archive.store import connect
from tests.mirror import (
    EXPECTED_URLS,
    REPO_DIR,
    MirrorServer,
    mirror_crawl_args,
    parse_stats,
    run_crawl,
)

#: Articles fetched before the signal is sent (of 17 article links, one a 404).
FETCHED_BEFORE_SIGNAL = 3


def crawl_args(mirror: MirrorServer, mongo_uri: str, database: str, jobdir: Path) -> list[str]:
    return mirror_crawl_args(
        mirror,
        mongo_uri,
        database,
        "-s",
        f"JOBDIR={jobdir}",
        "-s",
        "INCREMENTAL_ENABLED=False",
        # Few requests in flight, so a graceful stop leaves most articles for the resumed run.
        "-s",
        "CONCURRENT_REQUESTS=2",
    )


def article_counts(mirror: MirrorServer) -> dict[str, int]:
    return {path: n for path, n in mirror.counts.items() if path.startswith("/berita/")}


def interrupted_crawl(args: list[str], mirror: MirrorServer, signum: int) -> tuple[int, str]:
    """Start a crawl, send ``signum`` once some articles were fetched, wait for it to exit."""
    scrapy = Path(sys.executable).with_name("scrapy")
    command = [str(scrapy)] if scrapy.exists() else [sys.executable, "-m", "scrapy"]
    with subprocess.Popen(
        [*command, "crawl", "antara_kalteng", *args],
        cwd=REPO_DIR,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while sum(article_counts(mirror).values()) < FETCHED_BEFORE_SIGNAL:
                assert process.poll() is None, "the crawl ended before it was interrupted"
                assert time.monotonic() < deadline, "the crawl fetched no articles in 60 s"
                time.sleep(0.05)
            process.send_signal(signum)
            _, log = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    return process.returncode, log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_crawl_resumes_and_archives_every_article_once(
    mongo_uri: str, tmp_path: Path, signum: int
) -> None:
    database = f"resume_{uuid.uuid4().hex[:12]}"
    jobdir = tmp_path / "job"
    try:
        with MirrorServer() as mirror:
            mirror.slow_down(0.5, "/berita/")
            args = crawl_args(mirror, mongo_uri, database, jobdir)

            returncode, log = interrupted_crawl(args, mirror, signum)
            first_stats = parse_stats(log)
            assert returncode == 0, log[-3000:]
            assert first_stats.get("finish_reason") == "shutdown", log[-3000:]
            first = mirror.counts
            assert 0 < sum(article_counts(mirror).values()) < len(EXPECTED_URLS) + 1
            assert (jobdir / "requests.seen").exists()

            mirror.reset_counts()
            second = run_crawl("antara_kalteng", *args)
            assert second.returncode == 0, second.log[-3000:]
            assert second.stats.get("finish_reason") == "finished"
            again = mirror.counts

        # Resumed, not restarted: nothing the first run fetched is fetched again (robots.txt is
        # fetched by every run, outside the scheduler), and the rest is fetched now.
        assert set(first) & set(again) <= {"/robots.txt"}, sorted(set(first) & set(again))
        assert "/terkini" not in again and "/rss/terkini.xml" not in again
        fetched = {p for p in {*first, *again} if p.startswith("/berita/")}
        assert {url.split("antaranews.com")[1] for url in EXPECTED_URLS} <= fetched

        first_inserted = first_stats.get("archive/inserted", 0)
        assert first_inserted > 0, "the first run's items were not flushed at shutdown"
        assert first_inserted + second.stats.get("archive/inserted", 0) == len(EXPECTED_URLS)
        db = connect(mongo_uri, database)
        try:
            docs = list(db.articles.find({}, {"_id": 0, "url": 1, "version": 1}))
            assert sorted(doc["url"] for doc in docs) == EXPECTED_URLS
            assert {doc["version"] for doc in docs} == {1}
            assert db.article_versions.count_documents({}) == 0
        finally:
            db.client.close()
    finally:
        db = connect(mongo_uri, database)
        db.client.drop_database(database)
        db.client.close()
