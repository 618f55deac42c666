"""Reading the whole archive in windows of dates vs one ``find`` (crawler.archive.windowed).

Run: ``python bench/bench_windowed.py --data-dir /tmp/bench-scale-100k`` on an archive that
``bench_scale.py`` generated (any archive will do). In one process, against the same running
server, in turn, each written to Parquet by the same ``write_records``:

- ``Archive.export`` as it reads now: windows read two at once, only the exported fields asked
  of the server (an inclusion projection), read ahead of the writer;
- the same windows reading whole records, the internal fields dropped on this side (the way
  export read before it named its fields);
- one sorted ``find`` with the exclusion projection (the way export read before windows).

For each: records/s, the wait for the first record, and the server's resident memory
afterwards; then each one's mean records/s against the first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rss import status_kib  # noqa: E402

from crawler.archive.export import write_records  # noqa: E402
from crawler.archive.query import Archive  # noqa: E402
from crawler.archive.read_ahead import read_ahead  # noqa: E402
from crawler.archive.store import ARTICLES  # noqa: E402
from crawler.archive.stories import READ_PROJECTION  # noqa: E402


def server_mib(pid: int, field: str = "VmRSS") -> int:
    return status_kib(pid, field) // 1024


class FirstRecord:
    """Passes records through and notes when the first one arrived."""

    def __init__(self, records: Iterable[Any], started: float) -> None:
        self.records, self.started, self.after = records, started, float("nan")

    def __iter__(self) -> Iterator[Any]:
        for count, record in enumerate(self.records):
            if not count:
                self.after = time.perf_counter() - self.started
            yield record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-scale-100k"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--only",
        choices=("windows", "find"),
        help="one way, once, on a server this run starts (none may be running): its peak RSS",
    )
    args = parser.parse_args()
    if args.only:
        os.environ["EMBEDDED_SERVER_LINGER_SECONDS"] = "0"
    archive = Archive.connect(data_dir=args.data_dir)
    out = args.data_dir / "bench-windowed.parquet"
    pid = archive.server.pid if archive.server is not None else None
    print(f"load average (1/5/15 min): {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    ways = {
        "export now": lambda: read_ahead(archive.export_records()),
        "whole records": lambda: read_ahead(archive.search()),
        "one find": lambda: (
            archive.db[ARTICLES]
            .find({}, {"_id": 0, **READ_PROJECTION}, batch_size=1000)
            .sort("published_at", -1)
        ),
    }
    if args.only:
        wanted = "export now" if args.only == "windows" else "one find"
        ways = {wanted: ways[wanted]}
        if pid is None or archive.server is None or not archive.server.owner:
            sys.exit("--only needs a server started by this run: stop the running one first")
        args.rounds = 1
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, records in ways.items():
            started = time.perf_counter()
            first = FirstRecord(records(), started)
            count = write_records(first, out, "parquet")
            wall = time.perf_counter() - started
            rates[name].append(count / wall)
            rss = f", server RSS {server_mib(pid)} MiB" if pid else ""
            if args.only and pid:
                rss += f", server peak RSS (VmHWM) {server_mib(pid, 'VmHWM')} MiB"
            print(
                f"{name:13} {count} records in {wall:5.1f} s = {count / wall:7,.0f} records/s, "
                f"first record after {first.after:5.2f} s{rss}",
                flush=True,
            )
    out.unlink(missing_ok=True)
    if not args.only:
        means = {name: sum(values) / len(values) for name, values in rates.items()}
        first = next(iter(means))
        for name, mean in list(means.items())[1:]:
            print(f"ratio {first} / {name} (mean records/s): {means[first] / mean:.2f}x")
    print(f"load average (1/5/15 min): {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    archive.close()


if __name__ == "__main__":
    main()
