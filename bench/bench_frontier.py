"""The shared frontier (issue 12): 1, 2 and 3 workers of one crawl against a slow mirror.

Each round starts N ``scrapy crawl antara_kalteng -s REDIS_URL=...`` processes at once
against a fresh generated desk mirror that answers every request after a fixed latency
(``--latency``), archiving into one database (an embedded server started here, or
``MONGO_URI``). Per round: pages/min over the round's wall time (first worker started to last
worker ended), article pages fetched more than once and other pages fetched more than once
(both must be 0 but robots.txt, which each worker's robots middleware asks for itself), the
most requests the mirror was answering at once (at most ``--concurrency``, which is per host
across all workers), articles archived, and the peak RSS (``VmHWM``) of each worker. Ratios
are against the 1-worker round of the same run.

    python bench/bench_frontier.py [--articles 600] [--latency 0.5] [--concurrency 12]
                                   [--worker-concurrency 4] [--workers 1 2 3]

What more workers buy is more requests in flight than one process allows itself
(``CONCURRENT_REQUESTS``, ``--worker-concurrency``: in real crawls, a machine's bandwidth and
CPU), up to the host's limit over all of them (``--concurrency``). The "latency ceiling" of a
round is ``min(concurrency, workers * worker-concurrency) / latency``; a round below it is bound
by parsing and archiving (CPU, and the one archive server every worker writes to).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from rss import PeakPoller, is_scrapy_crawl  # noqa: E402

from crawler.archive.server import find_or_start_server  # noqa: E402
from crawler.archive.store import connect  # noqa: E402
from tests.desk_mirrors import EXPECTED_PATHS, LatencyMirror  # noqa: E402
from tests.mirror import CrawlRun, run_crawl  # noqa: E402
from tests.redis_server import REDIS_SERVER, RedisServer, redis_cli  # noqa: E402


@dataclass(frozen=True)
class Round:
    workers: int
    seconds: float
    pages: int
    duplicated_articles: int
    duplicated_other: int
    most_in_flight: int
    archived: int
    expected: int
    worker_peaks_kib: list[int]
    failed: list[str]

    @property
    def pages_per_minute(self) -> float:
        return self.pages / self.seconds * 60 if self.seconds else 0.0


def classify(pid: int, cmdline: bytes) -> str | None:
    """Each ``scrapy crawl`` process started here is a worker of its own (not a short-lived
    fork of one, which has its command line until it execs)."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
    if parent != os.getpid():
        return None
    return f"worker {pid}" if is_scrapy_crawl(cmdline) else None


def crawl_round(
    workers: int, args: argparse.Namespace, redis: RedisServer, mongo_uri: str
) -> Round:
    database = f"bench_frontier_{uuid.uuid4().hex[:8]}"
    redis_cli(redis.url, "flushall")
    with LatencyMirror(latency=args.latency) as mirror:
        mirror.add_articles(args.articles)
        crawl_args = [
            "-a", f"base_url={mirror.base_url}",
            "-a", "max_pages=100000",
            "-s", f"REDIS_URL={redis.url}",
            "-s", f"MONGO_URI={mongo_uri}",
            "-s", f"MONGO_DATABASE={database}",
            "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "DOWNLOAD_DELAY=0",
            "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={args.concurrency}",
            "-s", f"CONCURRENT_REQUESTS={args.worker_concurrency}",
            "-s", "LOG_LEVEL=INFO",
        ]  # fmt: skip
        started = time.monotonic()
        with PeakPoller(classify) as peaks, ThreadPoolExecutor(workers) as pool:
            runs: list[CrawlRun] = list(
                pool.map(lambda _: run_crawl("antara_kalteng", *crawl_args), range(workers))
            )
        seconds = time.monotonic() - started
        counts = dict(mirror.counts)
        expected = len(EXPECTED_PATHS) + len(mirror.generated)
        most_in_flight = mirror.most_in_flight
    db = connect(mongo_uri, database)
    archived = db.articles.count_documents({})
    db.client.drop_database(database)
    db.client.close()
    failed = [
        f"exit {run.returncode}: {run.log[-1500:]}"
        for run in runs
        if run.returncode != 0 or run.stats.get("finish_reason") != "finished"
    ]
    twice = {path: n for path, n in counts.items() if n > 1}
    return Round(
        workers=workers,
        seconds=seconds,
        pages=sum(counts.values()),
        duplicated_articles=sum(n - 1 for p, n in twice.items() if p.startswith("/berita/")),
        duplicated_other=sum(
            n - 1 for p, n in twice.items() if not p.startswith("/berita/") and p != "/robots.txt"
        ),
        most_in_flight=most_in_flight,
        archived=archived,
        expected=expected,
        worker_peaks_kib=sorted(peaks.kib.values()),
        failed=failed,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=600, help="generated articles")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=12, help="per host, all workers")
    parser.add_argument(
        "--worker-concurrency", type=int, default=4, help="requests at once per worker"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    if REDIS_SERVER is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    print(
        f"mirror: {args.articles} generated articles, {args.latency:.2f} s per request, at "
        f"most {args.concurrency} requests at once towards it, {args.worker_concurrency} per "
        f"worker; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    # The embedded server started here stops with the bench, not 10 minutes later.
    os.environ["EMBEDDED_SERVER_LINGER_SECONDS"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-frontier-") as scratch:
        redis = RedisServer(Path(scratch))
        redis.start()
        server = None if os.environ.get("MONGO_URI") else find_or_start_server(Path(scratch))
        mongo_uri = os.environ.get("MONGO_URI") or (server.uri if server else "")
        try:
            rounds = []
            for workers in args.workers:
                result = crawl_round(workers, args, redis, mongo_uri)
                rounds.append(result)
                base = rounds[0].pages_per_minute
                in_flight = min(args.concurrency, workers * args.worker_concurrency)
                ceiling = in_flight / args.latency * 60
                peaks = ", ".join(f"{kib / 1024:.0f}" for kib in result.worker_peaks_kib)
                print(
                    f"{workers} worker(s): {result.pages} pages in {result.seconds:.1f} s -> "
                    f"{result.pages_per_minute:,.0f} pages/min "
                    f"({result.pages_per_minute / base:.2f}x of the first round; latency ceiling "
                    f"{ceiling:,.0f}); duplicated requests: "
                    f"{result.duplicated_articles} article, {result.duplicated_other} other; "
                    f"at most {result.most_in_flight} in flight; archived "
                    f"{result.archived}/{result.expected}; peak RSS per worker {peaks} MiB",
                    flush=True,
                )
                for failure in result.failed:
                    print(f"  a worker failed: {failure}", flush=True)
        finally:
            redis.stop()
            if server is not None:
                server.release()


if __name__ == "__main__":
    main()
