"""Benchmark story linking on the archive write path, at two archive sizes.

Run: ``python bench/bench_story_linking.py [--sizes 10000,100000] [--probe 1000]``. Uses
``MONGO_URI`` when set, else an embedded SecantusDB server in a temporary directory.

The archive is filled with generated articles (no fixture page is long enough to make 100k
distinct ones): bodies of ~300 words drawn from a 4,000-word vocabulary with Zipf weights (so
common words make common phrases), one article in 20 a light edit of a recent one (a dateline,
one reworded sentence, one added paragraph: a desk copy), one in 50 a report of a look-alike
series (one template, a third of its words changed: the daily gold price; about 0.3 Jaccard
to each other, so their band keys collide without them being one story). One article every
five minutes of ``published_at``, so 100k span about a year (13 key periods).

At each size, in the same process, ``--probe`` more articles of the same mix are written through
``archive_batch`` in batches of ``--batch-size``, twice, alternating: with story linking, and
without it (``fingerprint`` returning no keys, ``link`` doing nothing: the write path before
story linking). It prints µs per article of each, their ratio, the share of it that is linking
(signature + keys + the lookup query and its updates), the records each lookup returned, and the
ratio of the linking cost at the largest size to the smallest (flat is the promise).

Filling uses direct ``insert_many`` of records as the write path stores them (signature and keys
computed the same way, ``story_id`` their own URL), which is ~3x faster than ``archive_batch``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.archive import stories
from crawler.archive.server import find_or_start_server
from crawler.archive.store import ARTICLES, archive_batch, connect, ensure_indexes

START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
VOCABULARY = 4000
WORDS = 300


class Articles:
    """An endless, seeded stream of article records of the mix described above."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.vocabulary = [self._word() for _ in range(VOCABULARY)]
        self.weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
        self.template = self._words(WORDS)
        self.recent: list[str] = []
        self.count = 0

    def _word(self) -> str:
        return "".join(
            self.rng.choice("abdeghijklmnoprstuwy") for _ in range(self.rng.randint(3, 9))
        )

    def _words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocabulary, self.weights, k=n)

    def _sentences(self, words: list[str]) -> str:
        out = []
        for start in range(0, len(words), 15):
            sentence = " ".join(words[start : start + 15])
            out.append(sentence[:1].upper() + sentence[1:] + ".")
        return " ".join(out)

    def body(self, i: int) -> str:
        if i % 50 == 49:
            words = [
                w if self.rng.random() > 0.33 else self.rng.choice(self.vocabulary)
                for w in self.template
            ]
            return self._sentences(words)
        if i % 20 == 19 and self.recent:
            sentences = self.rng.choice(self.recent).split(". ")
            spot = self.rng.randrange(len(sentences))
            sentences[spot] = " ".join(self._words(15))
            return ". ".join(sentences) + " " + self._sentences(self._words(45))
        body = self._sentences(self._words(WORDS))
        self.recent = [*self.recent[-49:], body]
        return body

    def take(self, n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(self.count, self.count + n):
            out.append(
                {
                    "url": f"https://kalteng.antaranews.com/berita/{i}/judul-{i}",
                    "source": "antara_kalteng",
                    "title": f"Judul berita {i}",
                    "body": self.body(i),
                    "published_at": START + STEP * i,
                    "content_hash": uuid.uuid4().hex,
                }
            )
        self.count += n
        return out


def fill(db: Any, records: list[dict[str, Any]]) -> None:
    docs = []
    for record in records:
        fields = stories.fingerprint(record["body"], record["published_at"])
        seen = record["published_at"] + timedelta(minutes=1)
        docs.append(
            {
                **record,
                **fields,
                "story_id": record["url"],
                "duplicate_of": None,
                "first_seen_at": seen,
                "last_seen_at": seen,
                "version": 1,
            }
        )
    db[ARTICLES].insert_many(docs, ordered=False)


class Timer:
    """Total seconds spent in the wrapped functions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - began

        return timed


@contextmanager
def linking(enabled: bool, timer: Timer) -> Iterator[None]:
    real_fingerprint, real_link = stories.fingerprint, stories.link
    if enabled:
        stories.fingerprint = timer.wrap(real_fingerprint)  # type: ignore[assignment]
        stories.link = timer.wrap(real_link)  # type: ignore[assignment]
    else:
        stories.fingerprint = lambda body, when: {  # type: ignore[assignment]
            "minhash": None,
            "story_bands": [],
            "signature_version": None,
        }
        stories.link = lambda collection, written, now, touched=None: 0  # type: ignore[assignment]
    try:
        yield
    finally:
        stories.fingerprint, stories.link = real_fingerprint, real_link


def write(db: Any, records: list[dict[str, Any]], batch_size: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        archive_batch(db, batch, batch[-1]["published_at"] + timedelta(minutes=1))
    return time.perf_counter() - began


def lookups(db: Any, records: list[dict[str, Any]]) -> tuple[float, float]:
    """Keys per lookup query, and records each returns, for ``records`` (already written)."""
    keys = returned = 0
    for record in records:
        doc = db[ARTICLES].find_one({"url": record["url"]}, {"story_bands": 1, "published_at": 1})
        wanted = stories.lookup_keys(doc or {})
        keys += len(wanted)
        if wanted:
            returned += db[ARTICLES].count_documents({"story_bands": {"$in": wanted}})
    return keys / len(records), returned / len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="archive sizes, comma-separated")
    parser.add_argument("--probe", type=int, default=1000, help="articles written per measurement")
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    server = None
    uri = os.environ.get("MONGO_URI")
    if not uri:
        server = find_or_start_server(tempfile.mkdtemp(prefix="bench-secantus-"), linger=0)
        uri = server.uri
    db = connect(uri, f"bench_{uuid.uuid4().hex[:8]}")
    ensure_indexes(db)
    articles = Articles()
    print(f"server {uri}, probe {args.probe} articles per measurement, batch {args.batch_size}")
    print(
        f"{'archive':>8} {'without µs':>11} {'with µs':>9} {'ratio':>6} {'linking µs':>11} "
        f"{'keys/lookup':>12} {'returned/lookup':>16}"
    )
    linking_cost: dict[int, float] = {}
    try:
        for size in sizes:
            began = time.perf_counter()
            while (have := db[ARTICLES].estimated_document_count()) < size:
                fill(db, articles.take(min(5000, size - have)))
            print(f"  (filled to {size} in {time.perf_counter() - began:.0f} s)", flush=True)
            without = with_linking = linked = 0.0
            probed: list[dict[str, Any]] = []
            for enabled in itertools.islice(itertools.cycle([False, True]), 4):
                records = articles.take(args.probe // 2)
                timer = Timer()
                with linking(enabled, timer):
                    seconds = write(db, records, args.batch_size)
                if enabled:
                    with_linking += seconds
                    linked += timer.seconds
                    probed += records
                else:
                    without += seconds
            n = len(probed)
            keys, returned = lookups(db, probed[:200])
            linking_cost[size] = linked / n * 1e6
            print(
                f"{size:>8} {without / n * 1e6:>11,.0f} {with_linking / n * 1e6:>9,.0f} "
                f"{with_linking / without:>5.1f}x {linking_cost[size]:>11,.0f} "
                f"{keys:>12.1f} {returned:>16.1f}",
                flush=True,
            )
        low, high = sizes[0], sizes[-1]
        growth = linking_cost[high] / linking_cost[low]
        print(f"linking cost per article at {high} / at {low}: {growth:.2f}x")
    finally:
        db.client.drop_database(db.name)
        db.client.close()
        if server is not None:
            server.release()


if __name__ == "__main__":
    main()
