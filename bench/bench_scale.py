"""The archive at national scale (issue 10): whole CLI commands on a generated archive.

Run: ``python bench/bench_scale.py --n 100000 --data-dir /tmp/bench-scale-100k``. The archive is
generated once into ``--data-dir`` (embedded SecantusDB) and reused by later runs with the same
``--n``. Records look like the real ones: 34 desks, ~3 years of dates, bodies of ~180 words
from a Zipf-distributed vocabulary of 20,000 words (so a word's frequency is realistic), 40
tags, 200 authors, 4% exact copies and 6% edited copies on another desk (sharing a story).
They are inserted directly with every derived field the write path maintains (signatures,
story ids, the word index's side documents, then ``recount`` for the counters): the write
path itself is measured separately, by ``import`` on a slice.

Measured, one run each, with the server already running (this process holds a lease, as a
notebook would): the wall time and peak RSS (``/usr/bin/time``, a small parent, so the figure
is the command's own) of ``search WORD`` for a rare and a common word, ``search WORD --source S
--since D``, ``stats --by day``, ``stats --by source``, ``report``, ``show URL``; the same
questions answered the naive way in this process (a ``$regex`` scan, a full-collection read,
both read in windows of dates: one ``find`` of a million records would make SecantusDB hold
them all at once, see :mod:`crawler.archive.windowed`);
``import`` and ``export --format parquet`` in records/s; the archive's size on disk and the
server's peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymongo.database import Database  # noqa: E402
from pymongo.errors import BulkWriteError  # noqa: E402
from rss import vmhwm_kib  # noqa: E402

from crawler.archive import search_terms, stories  # noqa: E402
from crawler.archive.query import Archive  # noqa: E402
from crawler.archive.server import cache_size  # noqa: E402
from crawler.archive.store import ARTICLES, ensure_indexes  # noqa: E402
from crawler.archive.tally import Tally  # noqa: E402
from crawler.archive.text_match import literal_pattern  # noqa: E402
from crawler.archive.windowed import find_windowed  # noqa: E402
from crawler.sites.antara_desks import DESKS  # noqa: E402

Doc = dict[str, Any]
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
VOCABULARY_SIZE = 20_000
SYLLABLES = [c + v for c in "bcdgjklmnprstw" for v in "aiueo"]


def vocabulary(rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY_SIZE:
        words["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


def records(n: int, seed: int = 10, start: int = 0) -> Iterator[Doc]:
    """Archive documents as the write path stores them, oldest first; those before ``start``
    are generated (the sequence stays the same) but not yielded."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    cumulative = []
    total = 0.0
    for rank in range(1, len(words) + 1):
        total += 1 / rank
        cumulative.append(total)
    tags = [f"tag{k}" for k in range(40)]
    authors = [f"Penulis {k}" for k in range(200)]
    recent: list[Doc] = []
    for i in range(n):
        published = START + SPAN * (i / n) + timedelta(minutes=rng.randint(0, 59))
        desk = DESKS[rng.randrange(len(DESKS))]
        kind = rng.random()
        original = rng.choice(recent) if recent and kind < 0.10 else None
        if original is not None and kind < 0.04:
            body = original["body"]
        elif original is not None:
            sentences = original["body"].split(". ")
            sentences[rng.randrange(len(sentences))] = "Kalimat baru dari desk daerah"
            body = ". ".join(sentences)
        else:
            paragraphs = [
                " ".join(rng.choices(words, cum_weights=cumulative, k=30)) + "." for _ in range(6)
            ]
            body = "\n\n".join(paragraphs)
        url = f"https://{desk.subdomain}.antaranews.com/berita/{i}/judul-{i}"
        content_hash = hashlib.sha256(body.encode()).hexdigest()
        same = original is not None and original["content_hash"] == content_hash
        doc: Doc = {
            "url": url,
            "source": desk.spider_name,
            "site_name": desk.site_name,
            "region": desk.region,
            "language": "id",
            "title": " ".join(rng.choices(words, cum_weights=cumulative, k=8)).capitalize(),
            "description": None if i % 4 else "Ringkasan berita.",
            "body": body,
            "dateline": "Palangka Raya",
            "published_at": published,
            "published_at_raw": published.strftime("%d/%m/%Y %H:%M"),
            "modified_at": None,
            "authors": [rng.choice(authors)] if i % 5 else [],
            "editors": ["Admin"],
            "uploader": None,
            "category": ["Daerah", "Ekonomi", "Politik", "Hukum", "Olahraga"][i % 5],
            "tags": rng.sample(tags, 2),
            "image_url": f"https://img.antaranews.com/{i}.jpg" if i % 2 else None,
            "image_caption": None,
            "image_credit": None,
            "word_count": len(body.split()),
            "content_hash": content_hash,
            "crawled_at": published + timedelta(minutes=30),
            "first_seen_at": published + timedelta(minutes=30),
            "last_seen_at": published + timedelta(minutes=30),
            "version": 1,
            "duplicate_of": original["url"] if same and original else None,
            "story_id": original["story_id"] if original else url,
        }
        if original is None:
            recent = [*recent[-499:], doc]
        if i >= start:
            yield doc | stories.fingerprint(body, published)


def generate(db: Database[Doc], n: int, start: int = 0) -> float:
    """Insert records ``start``..``n`` (a run stopped midway goes on where it stopped)."""
    ensure_indexes(db)
    started = time.perf_counter()
    batch: list[Doc] = []
    for count, doc in enumerate(records(n, start=start), start + 1):
        batch.append(doc)
        if len(batch) == 200 or count == n:
            search_terms.index_records(db, batch, [])
            try:
                db[ARTICLES].insert_many(batch, ordered=False)
            except BulkWriteError as exc:  # the stopped run's last batch, partly written
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise
            batch = []
        if count % 10_000 == 0:
            print(f"  generated {count} in {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


def cli(data_dir: Path, *args: str) -> tuple[float, int, int, str]:
    """(wall s, peak RSS KiB, exit code, first stdout line) of ``python -m crawler ARGS``."""
    rss_file = Path(tempfile.mktemp(suffix=".rss"))
    command = [sys.executable, "-m", "crawler", "--data-dir", str(data_dir), *args]
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    rss = int(rss_file.read_text().split()[-1])
    rss_file.unlink()
    lines = done.stdout.splitlines()
    return wall, rss, done.returncode, f"{len(lines)} lines" if lines else done.stderr.strip()


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--import-sample", type=int, default=2_000)
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(f"/tmp/bench-scale-{args.n}")
    data_dir.mkdir(parents=True, exist_ok=True)
    archive = Archive.connect(data_dir=data_dir)
    db = archive.db
    print(f"embedded server cache (EMBEDDED_SERVER_CACHE_SIZE): {cache_size()}", flush=True)
    have = db[ARTICLES].estimated_document_count()
    if have > args.n:
        sys.exit(f"{data_dir} holds {have} records, more than {args.n}: use another --data-dir")
    if have < args.n:
        start = have // 200 * 200
        print(f"generating records {start}..{args.n} into {data_dir} ...", flush=True)
        print(f"  generated in {generate(db, args.n, start):.0f} s")
    if args.generate_only:
        archive.close()
        return
    counted = data_dir / "recounted"
    if not counted.exists():
        wall, rss, code, result = cli(data_dir, "recount")
        print(f"recount (counters for stats/report): {wall:.1f} s, exit {code}, {result}")
        counted.touch()
    size = sum(f.stat().st_size for f in (data_dir / "db").rglob("*") if f.is_file())
    print(f"archive: {args.n} records, {size / 2**20:.0f} MiB on disk")
    print(f"load average (1/5/15 min) before measuring: {_load()}")
    words = vocabulary(random.Random(10))
    rare, common = words[12_000], words[400]
    sample = db[ARTICLES].find_one({"source": "antara_kalteng"}, {"url": 1, "published_at": 1})
    assert sample is not None
    since = (START + SPAN * 0.8).date().isoformat()

    print(f"\n{'command':58} {'wall s':>7} {'RSS MiB':>8}  result")
    commands = [
        ("search", rare),
        ("search", common),
        ("search", common, "--source", "antara_kalteng", "--since", since),
        ("stats", "--by", "day"),
        ("stats", "--by", "source"),
        ("report", "--out", str(data_dir / "report.html")),
        ("show", sample["url"]),
    ]
    for command in commands:
        wall, rss, code, result = cli(data_dir, *command)
        label = " ".join(command)[:58]
        print(f"{label:58} {wall:7.2f} {rss / 1024:8.0f}  exit {code}, {result}")

    print("\nthe same questions, the naive way (in this process, read in windows of dates):")
    for word in (rare, common):
        pattern = {"$regex": literal_pattern(word), "$options": "i"}
        either = {"$or": [{"title": pattern}, {"body": pattern}]}
        seconds, hits = timed(
            lambda either=either: sum(1 for _ in find_windowed(db[ARTICLES], either))
        )
        print(f"  $regex scan for {word!r}: {seconds:.2f} s ({hits} records)")
    seconds, total = timed(lambda: _scan_tally(db))
    print(f"  full-collection read for stats/report (Tally scan): {seconds:.2f} s ({total})")

    out = data_dir / "export.parquet"
    wall, rss, code, _ = cli(data_dir, "export", "--format", "parquet", "--out", str(out))
    print(
        f"\nexport --format parquet: {args.n / wall:,.0f} records/s ({wall:.1f} s, "
        f"RSS {rss / 1024:.0f} MiB, exit {code})"
    )
    sample_file = data_dir / "sample.jsonl"
    cli(
        data_dir,
        "export",
        "--format",
        "jsonl",
        "--limit",
        str(args.import_sample),
        "--out",
        str(sample_file),
    )
    target = Path(tempfile.mkdtemp(prefix="bench-import-"))
    wall, rss, code, _ = cli(target, "import", str(sample_file))
    print(
        f"import of {args.import_sample} records into an empty archive: "
        f"{args.import_sample / wall:,.1f} records/s ({wall:.1f} s incl. server start, "
        f"RSS {rss / 1024:.0f} MiB, exit {code})"
    )
    shutil.rmtree(target, ignore_errors=True)
    print(f"load average (1/5/15 min) after measuring: {_load()}")
    if archive.server is not None:
        print(f"server peak RSS (VmHWM): {vmhwm_kib(archive.server.pid) / 1024:.0f} MiB")
    archive.close()


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _scan_tally(db: Database[Doc]) -> int:
    tally = Tally()
    for doc in find_windowed(db[ARTICLES], {}, {"_id": 0, "body": 0}):
        tally.add(doc)
    return tally.total


if __name__ == "__main__":
    os.environ.setdefault("EMBEDDED_SERVER_LINGER_SECONDS", "0")
    main()
