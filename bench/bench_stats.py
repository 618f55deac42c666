"""Benchmark ``stats`` and ``report``: from the archive's counters vs one scan of the records.

Run: ``python bench/bench_stats.py [--n 20000] [--write-sample 2000]``. Uses ``MONGO_URI`` when
set (a fresh, uniquely named database, dropped at the end), else an embedded SecantusDB server
in a temporary ``DATA_DIR``. The archive is generated here and inserted with ``insert_many`` (as
an archive written before the counters): distinct texts (``bench_story_linking.Articles``),
34 sources taking turns, in publication order over
``--days`` days (default 60: ~10 records per desk and day at 20k), tags from a vocabulary of
5,000 (long-tailed), 300 authors, 5% exact copies on another desk (multi-desk stories); then
``recount`` builds the counters (timed). Each figure is one run:

- ``Archive.stats(by=...)`` for every group, and with ``--since`` a month ago, from the
  counters and from the scan (``Archive.tally(scan=True)``), checked equal;
- ``report.collect`` (what ``report`` computes), counters vs scan, checked equal;
- whole ``python -m crawler stats --by day|source`` and ``report`` processes (the server is
  already running), with the counters, then with the marker removed (so they scan);
- with ``--write-sample N``: ``archive_batch`` of N new records in batches of 200, and the
  time spent in the counter hook (its cost on the write path), for batches of one desk (a
  crawl) and of all desks at once (an ``import`` of an export, ``run --all``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_story_linking import Articles  # noqa: E402
from pymongo.database import Database  # noqa: E402

from crawler.archive import counters  # noqa: E402
from crawler.archive.query import STATS_GROUPS, Archive  # noqa: E402
from crawler.archive.recount import recount  # noqa: E402
from crawler.archive.report import collect  # noqa: E402
from crawler.archive.server import find_or_start_server  # noqa: E402
from crawler.archive.store import ARTICLES, archive_batch, connect, ensure_indexes  # noqa: E402

SOURCES = tuple(f"antara_desk{i:02d}" for i in range(34))
START = datetime(2025, 1, 1, tzinfo=UTC)


def documents(
    n: int, days: int, offset: int = 0, archived: bool = True, desks: int = len(SOURCES)
) -> Iterator[dict[str, Any]]:
    """Records (as stored when ``archived``, else as the crawler hands them over) of the first
    ``desks`` sources, published in order over ``days`` days."""
    rng = random.Random(offset or 7)
    texts = Articles(seed=offset or 7)  # distinct texts, some near copies (bench_story_linking)
    tags = [f"tag {i}" for i in range(5000)]
    step = days * 1440 / n
    body = ""
    for i in range(offset, offset + n):
        copy = i % 20 == 19  # an exact copy of the previous record, on another desk
        story = i - 1 if copy else i
        body = body if copy else texts.body(i)
        url = f"https://desk.antaranews.com/berita/{i}/judul-{i}"
        published = START + timedelta(minutes=int(i * step) + rng.randrange(60))
        doc: dict[str, Any] = {
            "url": url,
            "source": SOURCES[i % desks],
            "site_name": "ANTARA",
            "region": None if i % 9 == 0 else "Kalimantan Tengah",
            "language": "id",
            "title": f"Judul berita {i}",
            "description": None if i % 4 else f"Ringkasan {i}",
            "body": body,
            "dateline": "Palangka Raya",
            "published_at": published,
            "published_at_raw": "Senin, 1 Januari 2025 07:00 WIB",
            "modified_at": None,
            "authors": [f"Penulis {int(rng.paretovariate(1.2)) % 300}"] if i % 5 else [],
            "editors": ["Admin"],
            "uploader": None,
            "category": f"Kategori {i % 20}",
            "tags": sorted({tags[int(rng.paretovariate(0.8)) % 5000] for _ in range(3)}),
            "image_url": f"https://img.antaranews.com/{i}.jpg" if i % 2 else None,
            "image_caption": None,
            "image_credit": None,
            "word_count": len(body.split()),
            "content_hash": hashlib.sha256(body.encode()).hexdigest(),
            "crawled_at": published,
        }
        if archived:
            first = f"https://desk.antaranews.com/berita/{story}/judul-{story}"
            doc.update(
                first_seen_at=published,
                last_seen_at=published,
                version=1,
                duplicate_of=first if copy else None,
                story_id=first,
            )
        yield doc


def generate(db: Database[dict[str, Any]], n: int, days: int) -> float:
    ensure_indexes(db)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for doc in documents(n, days):
        batch.append(doc)
        if len(batch) == 1000:
            db[ARTICLES].insert_many(batch, ordered=False)
            batch = []
    if batch:
        db[ARTICLES].insert_many(batch, ordered=False)
    return time.perf_counter() - started


def timed(label: str, action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    print(f"  {label:52} {seconds * 1000:9.1f} ms")
    return seconds, value


def cli(uri: str, database: str, *args: str) -> float:
    """Wall time of one whole ``python -m crawler`` process."""
    cmd = [sys.executable, "-m", "crawler", "--mongo-uri", uri, "--database", database, *args]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(uri: str, n: int, days: int, write_sample: int, workdir: Path) -> None:
    name = f"bench_stats_{uuid.uuid4().hex[:8]}"
    db = connect(uri, name)
    try:
        print(f"generating {n} records over {days} days (insert_many) ...")
        print(f"  inserted in {generate(db, n, days):.1f} s")
        seconds, result = timed("recount (builds the counters)", lambda: recount(db))
        print(f"  -> {result.records / seconds:,.0f} records/s, {result.buckets} buckets, "
              f"{result.multi_desk_stories} multi-desk stories")  # fmt: skip
        archive = Archive(db)
        since = (START + timedelta(days=days - 30)).date().isoformat()
        print("\nArchive.stats / report.collect, one run each: counters | scan")
        for by in STATS_GROUPS:
            for window in (None, since):
                label = f"stats(by={by!r}{f', since={window!r}' if window else ''})"
                fast, got = timed(f"{label} counters", lambda: archive.stats(by, window))  # noqa: B023
                slow, scan = timed(f"{label} scan", lambda: archive.tally(window, scan=True))  # noqa: B023
                assert got.groups == scan.ordered(by) and got.total == scan.total, label
                print(f"  -> {slow / fast:.0f}x")
        fast, data = timed("report.collect() counters", lambda: asdict(collect(archive)))
        db[counters.COUNTS].delete_one({"_id": counters.MARKER_ID})
        slow, scan_data = timed("report.collect() scan", lambda: asdict(collect(archive)))
        for figures in (data, scan_data):
            figures.pop("generated_at")
        assert data == scan_data
        print(f"  -> {slow / fast:.0f}x")

        print("\nwhole CLI processes (server already running), one run each:")
        recount(db)
        out = workdir / "report.html"
        commands = [("stats", "--by", "day"), ("stats", "--by", "source"),
                    ("report", "--out", str(out))]  # fmt: skip
        with_counters = [cli(uri, name, *command) for command in commands]
        db[counters.COUNTS].delete_one({"_id": counters.MARKER_ID})
        scanning = [cli(uri, name, *command) for command in commands]
        for command, fast, slow in zip(commands, with_counters, scanning, strict=True):
            label = " ".join(command[:3] if command[0] == "stats" else command[:1])
            print(f"  {label:30} counters {fast:6.2f} s   scan {slow:6.2f} s")
        start_up = cli(uri, f"{name}_empty", "stats")  # reads nothing: start-up and connect
        print(f"  {'stats of an empty database':30} {start_up:6.2f} s (the process alone)")
        if write_sample:
            write_cost(db, n, write_sample)
    finally:
        db.client.drop_database(name)
        db.client.close()


def write_cost(db: Database[dict[str, Any]], n: int, sample: int) -> None:
    """What the counters cost ``archive_batch``: the time spent in the hook (its pending
    document before the article writes, its story refresh and bucket bulk after them), as a
    share of the whole batch, measured in the same run (so a busy machine skews both alike)."""
    print(f"\narchive_batch of {sample} new records, batches of 200, one run each:")
    spent = [0.0]
    real_pending, real_commit = counters._pending, counters.BatchCounts.commit

    def timed_pending(db: Any) -> str:
        started = time.perf_counter()
        try:
            return real_pending(db)
        finally:
            spent[0] += time.perf_counter() - started

    def timed_commit(self: counters.BatchCounts, lost: Any, retry: Any) -> None:
        started = time.perf_counter()
        try:
            real_commit(self, lost, retry)
        finally:
            spent[0] += time.perf_counter() - started

    counters._pending = timed_pending  # type: ignore[assignment]
    counters.BatchCounts.commit = timed_commit  # type: ignore[method-assign]
    offset = n
    try:
        for desks, what in ((1, "one desk a batch (a crawl)"), (len(SOURCES), "34 desks a batch")):
            # ~60 records per desk and day, as ANTARA's desks publish.
            span = max(1, round(sample / (60 * desks)))
            records = list(documents(sample, span, offset, False, desks))
            offset += sample
            spent[0] = 0.0
            started = time.perf_counter()
            for start in range(0, sample, 200):
                archive_batch(db, records[start : start + 200])
            seconds = time.perf_counter() - started
            batches = sample / 200
            print(f"  {what:28} {sample / seconds:5.0f} records/s, {seconds / batches * 1000:5.0f}"
                  f" ms a batch, of which counters {spent[0] / batches * 1000:4.0f} ms"
                  f" ({spent[0] / seconds:.1%})")  # fmt: skip
    finally:
        counters._pending = real_pending  # type: ignore[assignment]
        counters.BatchCounts.commit = real_commit  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="records to generate")
    parser.add_argument("--days", type=int, default=60, help="days they are published over")
    parser.add_argument("--write-sample", type=int, default=0, help="records for the write cost")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_stats_") as tmp:
        workdir = Path(tmp)
        if os.environ.get("MONGO_URI"):
            run(os.environ["MONGO_URI"], args.n, args.days, args.write_sample, workdir)
            return
        server = find_or_start_server(workdir / "data", linger=0)
        try:
            run(server.uri, args.n, args.days, args.write_sample, workdir)
        finally:
            server.release()


if __name__ == "__main__":
    main()
