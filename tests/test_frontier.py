"""The shared crawl frontier on Redis (issue 12): opt-in, shared, safe when a worker dies.

A real ``redis-server`` (Debian's) is started per test on a free port with persistence on;
crawls are real ``scrapy crawl`` processes against a generated desk mirror.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from pymongo import MongoClient

from crawler.ops.frontier_keys import FrontierKeys, run_lock
from crawler.ops.runner import EX_TEMPFAIL
from tests.desk_mirrors import EXPECTED_PATHS, DeskMirror, LatencyMirror
from tests.mirror import (
    FAST_SETTINGS,
    REPO_DIR,
    MirrorServer,
    free_port,
    mirror_crawl_args,
    run_crawl,
    wait_for_an_article,
)
from tests.publisher_mirrors import BareMirror, PublisherMirror, WordPressMirror
from tests.redis_server import REDIS_SERVER, RedisServer, redis_cli

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
CONCURRENCY = 2


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


def worker_args(
    mirror: DeskMirror, redis_url: str, mongo_uri: str, database: str, *, timeout: float = 3
) -> list[str]:
    return mirror_crawl_args(
        mirror,
        mongo_uri,
        database,
        "-a", "max_pages=100000",
        "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={CONCURRENCY}",
        "-s", f"FRONTIER_WORKER_TIMEOUT_SECONDS={timeout}",
        *frontier_args(redis_url),
    )  # fmt: skip


def frontier_args(redis_url: str) -> tuple[str, ...]:
    """A worker of the shared frontier in ``redis_url``, beating every half second."""
    return ("-s", f"REDIS_URL={redis_url}", "-s", "FRONTIER_HEARTBEAT_SECONDS=0.5")


def archived_paths(mongo_uri: str, database: str) -> list[str]:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        urls = [str(doc["url"]) for doc in client[database].articles.find({}, {"url": 1})]
        client.drop_database(database)
    finally:
        client.close()
    return sorted("/" + url.split("/", 3)[3] for url in urls)


def test_a_request_is_marked_seen_and_queued_in_one_step(redis_url: str) -> None:
    """No moment where a request is seen but not queued (a worker killed then would lose it,
    and with a listing page every article it lists); queued once however often it is pushed,
    as when a push whose reply was lost is retried."""
    from scrapy import Request, Spider

    from crawler.components.frontier.taking_queue import TakingQueue
    from crawler.ops.redis_client import open_redis

    server = open_redis(redis_url)
    keys = FrontierKeys("antara_kalteng")
    queue = TakingQueue(server, Spider(name="antara_kalteng"), keys.queue, worker="w1")
    listing = Request("https://kalteng.antaranews.com/terkini/2", priority=5)
    assert queue.push_unseen(keys.seen, "fp-listing", listing) is True
    assert queue.push_unseen(keys.seen, "fp-listing", listing) is False
    assert len(queue) == 1
    assert server.scard(keys.seen) == 1
    taken = queue.take()
    assert taken is not None and taken[1].url == listing.url and taken[1].priority == 5


def test_a_workers_own_requests_are_fetched_by_it_alone(redis_url: str) -> None:
    """A discovery probe (``WORKER_OWN_META``) never reaches the shared queue, where another
    worker could take it: its callback reads the discovery state of the worker that asked."""
    from scrapy import Request, Spider
    from scrapy.utils.test import get_crawler

    from crawler.components.frontier.config import WORKER_OWN_META
    from crawler.components.frontier.shared import SharedScheduler

    spider = f"own_{uuid.uuid4().hex[:8]}"
    workers = []
    for _ in range(2):
        crawler = get_crawler(Spider, {"REDIS_URL": redis_url})
        crawler.engine = SimpleNamespace()  # type: ignore[assignment]  # idle, no slot yet
        scheduler = SharedScheduler.from_crawler(crawler)
        scheduler.open(Spider(name=spider))
        workers.append((crawler, scheduler))
    (first_crawler, first), (_, second) = workers
    try:
        probe = Request("https://example.id/sitemap.xml", meta={WORKER_OWN_META: True})
        article = Request("https://example.id/berita/1")
        assert first.enqueue_request(probe) and first.enqueue_request(article)
        assert len(first.queue) == 1  # only the article is shared
        assert first.has_pending_requests() and len(first) == 2
        taken = second.next_request()
        assert taken is not None and taken.url == article.url
        assert second.next_request() is None
        own = first.next_request()
        assert own is not None and own.url == probe.url
        assert first.next_request() is None and not first.has_pending_requests()
        assert first_crawler.stats is not None
        assert first_crawler.stats.get_value("frontier/own") == 1
    finally:
        for _, scheduler in workers:
            scheduler.close("finished")


def test_without_redis_url_nothing_of_redis_is_imported() -> None:
    code = (
        "import sys\n"
        "from scrapy.core.scheduler import Scheduler\n"
        "from scrapy.spiders import Spider\n"
        "from scrapy.utils.test import get_crawler\n"
        "import crawler.components.frontier.host_slots, crawler.components.monitors\n"
        "import crawler.ops.runner, crawler.ops.run_all, pipelines.archive\n"
        "from crawler.components.frontier.scheduler import FrontierScheduler\n"
        "crawler = get_crawler(Spider, {'REDIS_URL': None})\n"
        "assert type(FrontierScheduler.from_crawler(crawler)) is Scheduler\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('redis', 'scrapy_redis')]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "REDIS_URL": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


def test_redis_unreachable_at_start_refuses_the_crawl(tmp_path: Path) -> None:
    run = run_crawl(
        "antara_kalteng",
        "-a", "base_url=http://127.0.0.1:9",
        "-s", f"REDIS_URL=redis://127.0.0.1:{free_port()}/0",
        "-s", f"DATA_DIR={tmp_path}",
    )  # fmt: skip
    assert run.returncode == 1
    assert "The shared frontier at redis://127.0.0.1:" in run.log
    assert "is unreachable" in run.log
    assert "Traceback" not in run.log
    assert "Spider opened" not in run.log


@pytest.mark.slow
def test_three_workers_share_one_crawl(redis_url: str, mongo_uri: str) -> None:
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    with LatencyMirror(latency=0.01) as mirror:
        mirror.add_articles(2000)
        args = worker_args(mirror, redis_url, mongo_uri, database)
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda _: run_crawl("antara_kalteng", *args), range(3)))
        fetches = mirror.article_fetches()
        most_in_flight = mirror.most_in_flight
        kept = archive_contents(mongo_uri, database)
        # The next hourly run, 3 workers again: the archive-aware skipping holds across them.
        with ThreadPoolExecutor(3) as pool:
            again = list(pool.map(lambda _: run_crawl("antara_kalteng", *args), range(3)))
        refetched = {p: n - fetches.get(p, 0) for p, n in mirror.article_fetches().items()}
    expected = sorted([*EXPECTED_PATHS, *mirror.generated])
    for run in [*runs, *again]:
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("finish_reason") == "finished"
        assert run.stats.get("monitors/failed") == 0, run.log[-3000:]
    assert [p for p, n in fetches.items() if n > 1] == []  # every article page fetched once
    assert sum(1 for run in runs if run.stats.get("frontier/dequeued", 0) > 0) >= 2
    assert most_in_flight <= CONCURRENCY  # politeness per host across the workers
    # Every article archived once, its page kept (once: pages are unique by URL), every
    # record in a story.
    paths, pages, storied = kept
    assert (paths, storied) == (expected, len(expected))
    assert pages >= len(expected)
    assert {p: n for p, n in refetched.items() if n} == {}  # nothing known fetched again
    assert archived_paths(mongo_uri, database) == expected


def archive_contents(mongo_uri: str, database: str) -> tuple[list[str], int, int]:
    """Archived article paths, pages kept, records with a story."""
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        db = client[database]
        urls = [str(doc["url"]) for doc in db.articles.find({}, {"url": 1})]
        storied = db.articles.count_documents({"story_id": {"$type": "string"}})
        return (
            sorted("/" + url.split("/", 3)[3] for url in urls),
            db.pages.count_documents({}),
            storied,
        )
    finally:
        client.close()


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(redis_url: str, mongo_uri: str) -> None:
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    scrapy = Path(sys.executable).with_name("scrapy")
    with LatencyMirror(latency=0.05) as mirror:
        mirror.add_articles(150)
        args = worker_args(mirror, redis_url, mongo_uri, database)
        victim = subprocess.Popen(
            [str(scrapy), "crawl", "antara_kalteng", *args],
            cwd=REPO_DIR,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Killed only once it holds requests it has taken (on a slow machine a worker that
        # started second might have taken none before the other finished everything).
        pattern = f"{FrontierKeys('antara_kalteng').base}:taken:*:{victim.pid}:*"
        deadline = time.monotonic() + 120
        while not any(
            redis_cli(redis_url, "hlen", key).strip() not in {"", "0"}
            for key in redis_cli(redis_url, "--scan", "--pattern", pattern).split()
        ):
            assert victim.poll() is None and time.monotonic() < deadline, "nothing was taken"
            time.sleep(0.02)
        os.killpg(victim.pid, signal.SIGKILL)  # mid-crawl, with requests taken
        victim.wait()
        run = run_crawl("antara_kalteng", *args)  # joins, puts back what the dead one had
    assert run.returncode == 0, run.log[-3000:]
    assert run.stats.get("frontier/requeued", 0) > 0, run.log[-3000:]
    archived = archived_paths(mongo_uri, database)
    missing = sorted(set(mirror.generated) - set(archived))
    assert not missing, f"{len(missing)} missing, e.g. {missing[:3]}\n{run.log[-6000:]}"
    assert archived == sorted([*EXPECTED_PATHS, *mirror.generated])
    # The killed worker's registration, heartbeat and taken requests are gone.
    keys = FrontierKeys("antara_kalteng")
    leftover = redis_cli(redis_url, "--scan", "--pattern", f"{keys.base}:*").split()
    assert leftover == []


@pytest.mark.slow
def test_a_restarted_redis_resumes_the_crawl(redis_server: RedisServer, mongo_uri: str) -> None:
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    keys = FrontierKeys("antara_kalteng")
    with LatencyMirror(latency=0.05) as mirror:
        mirror.add_articles(200)
        # A worker timeout longer than the outage: the workers stay alive for each other.
        args = worker_args(mirror, redis_server.url, mongo_uri, database, timeout=20)
        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(run_crawl, "antara_kalteng", *args) for _ in range(2)]
            deadline = time.monotonic() + 120
            while (
                len(mirror.article_fetches()) < 30
                or int(redis_cli(redis_server.url, "zcard", keys.queue) or 0) == 0
            ):
                assert time.monotonic() < deadline, "the crawl did not get going"
                time.sleep(0.05)
            queued_before = int(redis_cli(redis_server.url, "zcard", keys.queue))
            redis_server.stop()  # mid-crawl: requests queued, taken and being archived
            time.sleep(2)
            redis_server.start()
            # Back from its append-only file, not empty: the crawl resumes where it was.
            assert int(redis_cli(redis_server.url, "scard", keys.seen)) >= queued_before
            results = [run.result() for run in runs]
        fetches = mirror.article_fetches()
    for run in results:
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("finish_reason") == "finished"
    assert sum(run.stats.get("frontier/redis_errors", 0) for run in results) > 0
    assert any("The shared frontier is back after" in run.log for run in results)
    assert [p for p, n in fetches.items() if n > 1] == []
    assert archived_paths(mongo_uri, database) == sorted([*EXPECTED_PATHS, *mirror.generated])


def run_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", "run", "antara_kalteng", *args]


@pytest.mark.slow
def test_the_run_lock_is_one_for_every_machine(
    tmp_path: Path, redis_url: str, mongo_uri: str
) -> None:
    """Two machines' cron (two DATA_DIRs: their flocks never meet) start the same run."""
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    lock = run_lock("antara_kalteng")

    def machine(name: str) -> list[str]:
        return [
            f"base_url={mirror.base_url}",
            "-s", f"REDIS_URL={redis_url}",
            "-s", f"MONGO_URI={mongo_uri}",
            "-s", f"MONGO_DATABASE={database}",
            "-s", f"DATA_DIR={tmp_path / name / 'data'}",
            "-s", f"LOG_DIR={tmp_path / name / 'logs'}",
            *FAST_SETTINGS,
        ]  # fmt: skip

    with MirrorServer() as mirror:
        slow = ["-s", "DOWNLOAD_DELAY=0.5", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
        first = subprocess.Popen(
            run_command(*machine("one"), *slow), cwd=REPO_DIR, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for_an_article(mirror, first)
            second = subprocess.run(
                run_command(*machine("two")), cwd=REPO_DIR, capture_output=True, text=True
            )
            assert second.returncode == EX_TEMPFAIL, second.stderr
            assert "Another antara_kalteng run is active" in second.stderr
            assert redis_cli(redis_url, "get", lock).strip() in second.stderr  # who holds it
            assert first.poll() is None, "the first run ended before the second was tried"
        finally:
            _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
        assert redis_cli(redis_url, "exists", lock).strip() == "0"  # released at the end
        # Redis away: no run at all, rather than one a second machine might double.
        unreachable = f"redis://127.0.0.1:{free_port()}/0"
        args = [*machine("three"), "-s", f"REDIS_URL={unreachable}"]
        refused = subprocess.run(run_command(*args), cwd=REPO_DIR, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "Cannot run antara_kalteng: could not take the run lock in Redis" in refused.stderr
    assert "Traceback" not in refused.stderr


def frontier_cli(redis_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "crawler", "frontier", *args],
        cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.slow
def test_frontier_status_and_clear(redis_url: str, mongo_uri: str) -> None:
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    with LatencyMirror(latency=0) as mirror:
        mirror.add_articles(100)
        args = [
            *worker_args(mirror, redis_url, mongo_uri, database),
            "-s",
            "CLOSESPIDER_PAGECOUNT=8",
        ]
        stopped = run_crawl("antara_kalteng", *args)  # stopped early: the frontier is kept
    archived_paths(mongo_uri, database)  # drops the database
    assert stopped.stats.get("finish_reason") == "closespider_pagecount", stopped.log[-2000:]
    status = frontier_cli(redis_url, "status")
    assert status.returncode == 0, status.stderr
    queued, seen = (int(redis_cli(redis_url, command, key)) for command, key in (
        ("zcard", FrontierKeys("antara_kalteng").queue),
        ("scard", FrontierKeys("antara_kalteng").seen),
    ))  # fmt: skip
    assert queued > 0 and seen > queued
    assert f"antara_kalteng: {queued} queued, {seen} seen, 0 worker(s)" in status.stdout
    # A live worker (as one registers itself): clearing under it is refused without --force.
    keys = FrontierKeys("antara_kalteng")
    redis_cli(redis_url, "hset", keys.workers, "elsewhere:42:abc", '{"host": "elsewhere"}')
    redis_cli(redis_url, "set", keys.alive("elsewhere:42:abc"), "0", "px", "60000")
    status = frontier_cli(redis_url)
    assert "1 worker(s)" in status.stdout and "elsewhere:42:abc  alive" in status.stdout
    refused = frontier_cli(redis_url, "clear", "antara_kalteng")
    assert refused.returncode == 2 and "not cleared (--force" in refused.stderr
    cleared = frontier_cli(redis_url, "clear", "antara_kalteng", "--force")
    assert cleared.returncode == 0 and "antara_kalteng: cleared" in cleared.stdout
    assert frontier_cli(redis_url).stdout.strip() == "the shared frontier is empty"
    assert redis_cli(redis_url, "--scan", "--pattern", f"{keys.base}:*").split() == []


def test_frontier_cli_without_or_with_an_unreachable_redis() -> None:
    unset = frontier_cli(None, "status")
    assert unset.returncode == 2 and "REDIS_URL is not set" in unset.stderr
    away = frontier_cli(f"redis://:secret@127.0.0.1:{free_port()}/0", "status")
    assert away.returncode == 3, away.stderr
    assert "The shared frontier at redis://:***@127.0.0.1:" in away.stderr
    assert "is unreachable" in away.stderr and "secret" not in away.stderr
    assert "Traceback" not in away.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spider", "site"), [("tabengan", WordPressMirror), ("borneonews", BareMirror)]
)
def test_publisher_spiders_share_a_crawl_too(
    spider: str, site: type[PublisherMirror], redis_url: str, mongo_uri: str
) -> None:
    """The WordPress API's pages and a bare site's listings, each fetched by one worker."""
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    with site() as mirror:
        args = mirror_crawl_args(mirror, mongo_uri, database, *frontier_args(redis_url))
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda _: run_crawl(spider, *args), range(2)))
        twice = {path: n for path, n in mirror.counts.items() if n > 1}
    for run in runs:
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("monitors/failed") == 0, run.log[-3000:]
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        urls = sorted(str(doc["url"]) for doc in client[database].articles.find({}, {"url": 1}))
        client.drop_database(database)
    finally:
        client.close()
    assert urls == mirror.expected_urls
    # Each worker runs its own discovery (robots.txt, the home page, the API index, guessed
    # sitemaps and feeds: a few requests each); articles, API pages, listings once in all.
    discovery = {"/robots.txt", "/", "/rss", "/feed/", "/wp-json/"}
    assert {p for p in twice if "sitemap" not in p} <= discovery, twice


@pytest.mark.slow
def test_run_several_desks_on_the_shared_frontier(
    tmp_path: Path, redis_url: str, mongo_uri: str
) -> None:
    """``run 'PATTERN'`` with REDIS_URL: each desk a worker of its own shared crawl, locked in
    Redis, its frontier left empty when it ends."""
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    with DeskMirror(1) as one, DeskMirror(2) as two:
        done = subprocess.run(
            [sys.executable, "-m", "crawler", "run", "antara_kalbar", "antara_kalsel",
             f"antara_kalbar:base_url={one.base_url}", f"antara_kalsel:base_url={two.base_url}",
             "-s", f"REDIS_URL={redis_url}", "-s", f"MONGO_URI={mongo_uri}",
             "-s", f"MONGO_DATABASE={database}", "-s", f"DATA_DIR={tmp_path / 'data'}",
             "-s", f"LOG_DIR={tmp_path / 'logs'}", *FAST_SETTINGS],
            cwd=REPO_DIR, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        fetched = [dict(one.counts), dict(two.counts)]
    assert done.returncode == 0, done.stderr + done.stdout
    for desk in ("antara_kalbar", "antara_kalsel"):
        assert f"{desk} run ok: 16 new, 0 updated" in done.stdout
    for counts in fetched:
        assert [p for p, n in counts.items() if n > 1 and p.startswith("/berita/")] == []
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        assert client[database].articles.count_documents({}) == 32
        client.drop_database(database)
    finally:
        client.close()
    # Lock released, queues and seen sets cleared; only the hosts' next start times remain
    # (they expire within the hour).
    left = redis_cli(redis_url, "--scan", "--pattern", "frontier:*").split()
    assert [key for key in left if not key.startswith("frontier:host:")] == []
