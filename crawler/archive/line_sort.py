"""Sorting more lines than memory holds: an external merge sort of byte lines.

Lines (each ending in ``\\n``) are sorted in memory in runs of about ``run_bytes``; a run is
spilled to a file in a temporary directory, and the runs are merged (:func:`heapq.merge`) with
at most ``fan_in`` files open at once, longer runs merged first in passes. Memory holds one run;
disk, the lines once (twice during a merge pass). Lines compare as bytes, so give them a
fixed-width key prefix. Input that fits in one run never touches the disk.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

RUN_BYTES = 32 * 1024 * 1024
MERGE_FAN_IN = 64


@contextmanager
def sorted_lines(
    lines: Iterable[bytes],
    *,
    temp_dir: str | os.PathLike[str] | None = None,
    prefix: str = "line-sort-",
    run_bytes: int = RUN_BYTES,
    fan_in: int = MERGE_FAN_IN,
) -> Iterator[Iterator[bytes]]:
    """Consume ``lines`` on entering, then yield them sorted; the temporary files (in a
    directory ``prefix...`` under ``temp_dir``, default ``TMPDIR``) go on leaving."""
    if fan_in < 2:
        raise ValueError(f"fan_in must be at least 2, got {fan_in}")
    with tempfile.TemporaryDirectory(prefix=prefix, dir=temp_dir) as name:
        work = Path(name)
        runs: list[Path] = []
        buffer: list[bytes] = []
        size = 0
        for line in lines:
            buffer.append(line)
            size += len(line)
            if size >= run_bytes:
                runs.append(_spill(sorted(buffer), work / f"run-{len(runs):06d}"))
                buffer, size = [], 0
        buffer.sort()
        if not runs:
            yield iter(buffer)
            return
        if buffer:
            runs.append(_spill(buffer, work / f"run-{len(runs):06d}"))
        del buffer
        passes = 0
        while len(runs) > fan_in:
            passes += 1
            groups = [runs[start : start + fan_in] for start in range(0, len(runs), fan_in)]
            runs = [
                _merge(group, work / f"merge-{passes}-{i:06d}") for i, group in enumerate(groups)
            ]
        with ExitStack() as stack:
            files = [stack.enter_context(open(run, "rb")) for run in runs]
            yield heapq.merge(*files)


def _spill(lines: Iterable[bytes], path: Path) -> Path:
    with open(path, "wb") as handle:
        handle.writelines(lines)
    return path


def _merge(runs: list[Path], path: Path) -> Path:
    with ExitStack() as stack:
        files = [stack.enter_context(open(run, "rb")) for run in runs]
        _spill(heapq.merge(*files), path)
    for run in runs:
        run.unlink()
    return path
