"""The shared crawl frontier on Redis (issue 12): opt-in, shared, safe when a worker dies.

A real ``redis-server`` (Debian's) is started per test on a free port with persistence on;
crawls are real ``scrapy crawl`` processes against a generated desk mirror.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pymongo import MongoClient

from crawler.ops.frontier_keys import FrontierKeys
from tests.desk_mirrors import EXPECTED_PATHS, DeskMirror
from tests.mirror import REPO_DIR, Page, free_port, run_crawl

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
CONCURRENCY = 2


class CountingMirror(DeskMirror):
    """A desk mirror that answers after a fixed latency and records the most requests it was
    ever answering at once."""

    def __init__(self, latency: float) -> None:
        super().__init__(0)
        self.latency = latency
        self.in_flight = 0
        self.most_in_flight = 0
        self._flight = threading.Lock()

    def respond(self, raw_path: str) -> Page:
        with self._flight:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            return super().respond(raw_path)
        finally:
            with self._flight:
                self.in_flight -= 1

    def article_fetches(self) -> dict[str, int]:
        return {p: n for p, n in self.counts.items() if p.startswith("/berita/")}


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    assert REDIS_SERVER is not None
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        ).stdout.strip()
        != "PONG"
    ):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def redis_cli(redis_url: str, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-u", redis_url, *args], capture_output=True, text=True)
    return done.stdout


def worker_args(mirror: DeskMirror, redis_url: str, mongo_uri: str, database: str) -> list[str]:
    return [
        "-a", f"base_url={mirror.base_url}",
        "-a", "max_pages=100000",
        "-s", f"REDIS_URL={redis_url}",
        "-s", f"MONGO_URI={mongo_uri}",
        "-s", f"MONGO_DATABASE={database}",
        "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={CONCURRENCY}",
        "-s", "FRONTIER_HEARTBEAT_SECONDS=0.5",
        "-s", "FRONTIER_WORKER_TIMEOUT_SECONDS=3",
    ]  # fmt: skip


def archived_paths(mongo_uri: str, database: str) -> list[str]:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        urls = [str(doc["url"]) for doc in client[database].articles.find({}, {"url": 1})]
        client.drop_database(database)
    finally:
        client.close()
    return sorted("/" + url.split("/", 3)[3] for url in urls)


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
    with CountingMirror(latency=0.01) as mirror:
        mirror.add_articles(300)
        args = worker_args(mirror, redis_url, mongo_uri, database)
        with ThreadPoolExecutor(3) as pool:
            runs = list(pool.map(lambda _: run_crawl("antara_kalteng", *args), range(3)))
        fetches = mirror.article_fetches()
        most_in_flight = mirror.most_in_flight
    expected = sorted([*EXPECTED_PATHS, *mirror.generated])
    for run in runs:
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("finish_reason") == "finished"
    assert [p for p, n in fetches.items() if n > 1] == []  # every article page fetched once
    assert archived_paths(mongo_uri, database) == expected  # every article archived once
    assert sum(1 for run in runs if run.stats.get("frontier/dequeued", 0) > 0) >= 2
    assert most_in_flight <= CONCURRENCY  # politeness per host across the workers


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(redis_url: str, mongo_uri: str) -> None:
    database = f"frontier_{uuid.uuid4().hex[:8]}"
    scrapy = Path(sys.executable).with_name("scrapy")
    with CountingMirror(latency=0.05) as mirror:
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
    assert archived_paths(mongo_uri, database) == sorted([*EXPECTED_PATHS, *mirror.generated])
    # The killed worker's registration, heartbeat and taken requests are gone.
    keys = FrontierKeys("antara_kalteng")
    leftover = redis_cli(redis_url, "--scan", "--pattern", f"{keys.base}:*").split()
    assert leftover == []
