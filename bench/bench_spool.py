"""Benchmark the spool: fsynced appends, and replay into the archive (records/s).

Run: ``python bench/bench_spool.py [--n 5000] [--batch-size 200]``. Uses ``MONGO_URI`` when set,
else an embedded SecantusDB server in a temporary directory. Records are the same realistic
article records as ``bench_archive.py`` (~3 KB body, 5% sharing a story).

Measures: appending N records in batches (one fsync per batch, as the pipeline does while the
database is down); reading them back without a database (the spool's own cost); replaying
them into an empty archive (all inserts: the case after an outage); replaying the same
records again (all unchanged: a replay repeated after a crash).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_archive import records, scratch_db

from crawler.archive.server import find_or_start_server
from crawler.archive.spool import Spool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="records (default 5000)")
    parser.add_argument("--batch-size", type=int, default=200, help="records per append/replay")
    args = parser.parse_args()
    data = records(args.n)
    server = None
    uri = os.environ.get("MONGO_URI")
    if not uri:
        server = find_or_start_server(tempfile.mkdtemp(prefix="bench-spool-db-"), linger=0)
        uri = server.uri
    try:
        with tempfile.TemporaryDirectory(prefix="bench-spool-") as scratch, scratch_db(uri) as db:
            spool = Spool(Path(scratch) / "spool")
            began = time.perf_counter()
            for start in range(0, len(data), args.batch_size):
                spool.append(data[start : start + args.batch_size])
            spool.close()
            elapsed = time.perf_counter() - began
            size = sum(path.stat().st_size for path in spool.files())
            print(
                f"append, one fsync per batch          {args.n / elapsed:>10,.0f} records/s"
                f"  ({size / 1e6:.1f} MB, {len(data) // args.batch_size} fsyncs)"
            )
            copy = Path(scratch) / "copy.jsonl"
            (path,) = spool.files()
            copy.write_bytes(path.read_bytes())

            began = time.perf_counter()
            assert sum(1 for _ in spool.records(path)) == args.n
            elapsed = time.perf_counter() - began
            print(f"read and decode only (no database)     {args.n / elapsed:>10,.0f} records/s")

            began = time.perf_counter()
            result = spool.replay(db, args.batch_size)
            elapsed = time.perf_counter() - began
            assert result.records == args.n and result.archive.inserted == args.n, result
            print(f"replay into an empty archive (inserts) {args.n / elapsed:>10,.0f} records/s")

            copy.rename(path)
            began = time.perf_counter()
            result = spool.replay(db, args.batch_size)
            elapsed = time.perf_counter() - began
            assert result.archive.unchanged == args.n, result
            print(f"replay again (all unchanged)           {args.n / elapsed:>10,.0f} records/s")
    finally:
        if server is not None:
            server.release()


if __name__ == "__main__":
    main()
