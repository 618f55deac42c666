"""Peak RSS measured on the measured process itself: ``VmHWM`` from ``/proc/<pid>/status``.

Not the rusage figures: Linux carries ``ru_maxrss`` over fork *and* exec (at exec the old
address space's peak is kept in the process's figure; ``subprocess``'s vfork too), so a crawl
started by a bench that holds 1 GiB reports at least 1 GiB in its own
``getrusage(RUSAGE_SELF)``, in Scrapy's ``memusage/max`` (which is that) and in the bench's
children's rusage, though the crawl itself never passes ~150 MiB. ``VmHWM`` is the peak of the
process's current address space only. It goes with the process, so it is polled while the
process lives (:class:`PeakPoller`). ``/usr/bin/time -f %M`` is right: the command it measures is
forked from ``time``'s own small image.

    python bench/rss.py [--parent-mib 1024]

shows it: grows itself by ``--parent-mib``, then reports one small child (``python -c``) by
each method, with ``subprocess``'s default vfork and with a plain fork.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

#: (pid, command line) -> the kind of process to record it under, or None to skip it.
Classifier = Callable[[int, bytes], str | None]


def vmhwm_kib(pid: int | str = "self") -> int:
    """Peak resident set of ``pid`` (KiB) so far; 0 if it is gone (or has no memory, a zombie)."""
    return status_kib(pid, "VmHWM")


def status_kib(pid: int | str, field: str) -> int:
    """The ``field`` (``VmRSS``, ``VmHWM``) of ``/proc/<pid>/status`` in KiB; 0 if absent."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children of each of its threads, recursively)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            pending += children
    return found


def is_scrapy_crawl(cmdline: bytes) -> bool:
    """Whether ``/proc/<pid>/cmdline`` is a ``scrapy crawl`` process, told by its arguments:
    until it execs, a freshly forked child still has its parent's command line and memory, and
    a substring test ("scrapy" in ``--no-scrapy-bench``) once recorded a bench's peak as the
    crawl's."""
    argv = cmdline.split(b"\0")
    return any(
        (arg == b"scrapy" or arg.endswith(b"/scrapy")) and after == b"crawl"
        for arg, after in itertools.pairwise(argv)
    )


def embedded_server_pid(data_dir: Path) -> list[int]:
    """The embedded server of ``data_dir``, if its state file names one (it is not a
    descendant of whoever started it: its supervisor is detached)."""
    try:
        pid = json.loads((data_dir / "secantusd.json").read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [pid] if isinstance(pid, int) else []


class PeakPoller:
    """Polls, in a thread, the ``VmHWM`` of this process's descendants (and of the pids
    ``also`` returns) while they live; :attr:`kib` holds the largest seen per kind
    (``classify`` names the kind, or skips a process). A context manager."""

    def __init__(
        self,
        classify: Classifier,
        also: Callable[[], list[int]] = list,
        interval: float = 0.05,
    ) -> None:
        self.kib: dict[str, int] = {}
        self._classify = classify
        self._also = also
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self._interval):
                return

    def sample(self) -> None:
        for pid in {*descendants(os.getpid()), *self._also()}:
            try:
                kind = self._classify(pid, Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                continue  # gone meanwhile
            if kind is not None:
                self.kib[kind] = max(self.kib.get(kind, 0), vmhwm_kib(pid))


#: The child of :func:`main`: its own ``ru_maxrss`` and ``VmHWM``, read on itself.
_CHILD = (
    "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "[l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
)


def main() -> None:
    parser = argparse.ArgumentParser(description="ru_maxrss vs VmHWM of a big process's child")
    parser.add_argument("--parent-mib", type=int, default=1024)
    args = parser.parse_args()
    grown = bytearray(args.parent_mib << 20)  # zero-filled by us: resident, not just mapped
    print(f"parent VmHWM {vmhwm_kib()} KiB ({len(grown) >> 20} MiB allocated)")
    # Any preexec_fn makes subprocess fork instead of vfork.
    ways: list[tuple[str, Callable[[], object] | None]] = [("vfork", None), ("fork", int)]
    for how, preexec in ways:
        own, hwm = subprocess.run(
            [sys.executable, "-c", _CHILD],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=preexec,
        ).stdout.split()
        with tempfile.NamedTemporaryFile("r") as report:
            command = ["/usr/bin/time", "-f", "%M", "-o", report.name, sys.executable, "-c", "0"]
            subprocess.run(command, check=True, preexec_fn=preexec)
            timed = report.read().split()[-1]
        print(
            f"{how}: child's own ru_maxrss {own} KiB, child's VmHWM {hwm} KiB; "
            f"/usr/bin/time -f %M python -c 0: {timed} KiB"
        )


if __name__ == "__main__":
    main()
