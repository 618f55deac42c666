"""Incremental crawling: what a second crawl of an unchanged site costs next to the first.

Crawls the local mirror twice into one throwaway database and prints, per run, the requests
the mirror answered (all / article pages / other), the wall time of the ``scrapy crawl``
process and Scrapy's own ``elapsed_time_seconds``. The database server is started before the
first run (``MONGO_URI``, else an embedded server in a temporary directory), so neither run
pays for starting it.

    python bench/bench_incremental.py [--extra-articles 200] [--polite]

``--extra-articles`` continues ``/terkini`` with synthetic pages of article copies (as
``bench_crawl.py`` does); ``--polite`` keeps the project's politeness settings (1 s delay,
AutoThrottle) instead of crawling the local mirror flat out, which is what the hourly cron run
against the live site pays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
for path in (REPO_DIR, REPO_DIR / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_crawl import add_synthetic_articles  # noqa: E402

from crawler.archive.server import find_or_start_server  # noqa: E402
from crawler.archive.store import connect  # noqa: E402
from tests.mirror import CrawlRun, MirrorServer, run_crawl  # noqa: E402

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]


def crawl(mirror: MirrorServer, uri: str, database: str, polite: bool) -> CrawlRun:
    mirror.reset_counts()
    run = run_crawl(
        "antara_kalteng",
        "-a",
        f"base_url={mirror.base_url}",
        "-s",
        f"MONGO_URI={uri}",
        "-s",
        f"MONGO_DATABASE={database}",
        "-a",
        "max_pages=1000",
        *([] if polite else FAST),
    )
    if run.returncode != 0 or run.stats.get("finish_reason") != "finished":
        raise SystemExit(f"crawl failed:\n{run.log[-3000:]}")
    return run


def report(name: str, run: CrawlRun, counts: dict[str, int]) -> None:
    total = sum(counts.values())
    articles = sum(n for path, n in counts.items() if path.startswith("/berita/"))
    elapsed = float(run.stats.get("elapsed_time_seconds", 0))
    print(
        f"{name:10} requests {total:5}  article pages {articles:5}  other {total - articles:4}"
        f"  wall {run.seconds:6.2f} s  scrapy elapsed {elapsed:6.2f} s"
        f"  items {run.stats.get('item_scraped_count', 0)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-articles", type=int, default=0)
    parser.add_argument("--polite", action="store_true")
    args = parser.parse_args()
    database = f"bench_incremental_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        server = None if os.environ.get("MONGO_URI") else find_or_start_server(Path(tmp), linger=0)
        uri = os.environ.get("MONGO_URI") or (server.uri if server else "")
        try:
            with MirrorServer() as mirror:
                add_synthetic_articles(mirror, args.extra_articles)
                first = crawl(mirror, uri, database, args.polite)
                first_counts = mirror.counts
                second = crawl(mirror, uri, database, args.polite)
                second_counts = mirror.counts
            mode = "polite" if args.polite else "no delay"
            print(f"mirror: fixture site + {args.extra_articles} extra articles, {mode}")
            report("first", first, first_counts)
            report("second", second, second_counts)
            requests = sum(second_counts.values()) / sum(first_counts.values())
            print(
                f"second/first: requests {requests:.1%}, wall {second.seconds / first.seconds:.1%}"
            )
        finally:
            db = connect(uri, database)
            db.client.drop_database(database)
            db.client.close()
            if server is not None:
                server.release()


if __name__ == "__main__":
    main()
