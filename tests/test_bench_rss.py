"""Issue 10, point 6: the benches' peak RSS is the measured process's own (``bench/rss.py``).

A child of a large process reports the parent's peak in its own ``ru_maxrss`` (Linux keeps it
over fork and exec; Scrapy's ``memusage/max`` is that figure), and so does the parent's
``RUSAGE_CHILDREN``. ``VmHWM``, polled while the child lives, and ``/usr/bin/time`` do not.
"""

from __future__ import annotations

import importlib.util
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
MIB = 1024  # KiB
#: The parent's size: far above the child's, so an inherited figure cannot pass for its own.
PARENT_MIB = 256
CHILD_MIB = 16
#: Interpreter and imports on top of what the child allocates; far below ``PARENT_MIB``.
SLACK_MIB = 64
#: The child: allocates, reports its own ``ru_maxrss``, waits (its argv carries a marker).
CHILD = (
    f"import resource, sys; data = bytearray({CHILD_MIB} << 20); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True); sys.stdin.read()"
)


def load_rss() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rss", REPO_DIR / "bench" / "rss.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def big_parent() -> bytearray:
    """This process grown by ``PARENT_MIB`` (touched, so resident)."""
    return bytearray(PARENT_MIB << 20)


def test_vmhwm_is_the_childs_own_peak_where_ru_maxrss_is_the_parents(
    big_parent: bytearray,
) -> None:
    rss = load_rss()

    def classify(pid: int, cmdline: bytes) -> str | None:
        return "child" if b"rss-probe" in cmdline else None

    with (
        rss.PeakPoller(classify) as poller,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "rss-probe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child,
    ):
        assert child.stdout is not None and child.stdin is not None
        inherited_kib = int(child.stdout.readline())
        poller.sample()  # the child is done allocating and waits: its peak is reached
        child.stdin.close()
        child.wait(timeout=30)
    own_kib = poller.kib["child"]
    assert CHILD_MIB * MIB <= own_kib < (CHILD_MIB + SLACK_MIB) * MIB
    # What the rusage figures say about the same child: this process's size.
    assert inherited_kib >= PARENT_MIB * MIB
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >= PARENT_MIB * MIB
    assert rss.vmhwm_kib() >= PARENT_MIB * MIB  # ours, read on ourselves
    assert rss.vmhwm_kib(child.pid) == 0  # gone: VmHWM must be read while it lives


@pytest.mark.skipif(shutil.which("time", path="/usr/bin") is None, reason="no /usr/bin/time")
def test_usr_bin_time_measures_the_command_not_its_parent(
    big_parent: bytearray, tmp_path: Path
) -> None:
    report = tmp_path / "rss"
    subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), sys.executable, "-c", "pass"],
        check=True,
    )
    assert int(report.read_text().split()[-1]) < SLACK_MIB * MIB


def test_bench_crawl_counts_only_the_crawl_not_its_own_fork_before_exec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Until it execs, the crawl's process has the bench's command line and memory: naming
    "scrapy" (``--no-scrapy-bench``) must not make it the crawl, or the crawl's peak is the
    bench's (the mirror's pages: 567 MiB reported for a crawl that peaked near 220 MiB)."""
    monkeypatch.syspath_prepend(str(REPO_DIR / "bench"))
    spec = importlib.util.spec_from_file_location(
        "bench_crawl_under_test", REPO_DIR / "bench" / "bench_crawl.py"
    )
    assert spec is not None and spec.loader is not None
    bench_crawl = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench_crawl)  # for its dataclasses
    spec.loader.exec_module(bench_crawl)

    def argv(*args: str) -> bytes:
        return b"\0".join(arg.encode() for arg in args) + b"\0"

    bench = argv("python", "bench/bench_crawl.py", "--extra-articles", "10", "--no-scrapy-bench")
    assert bench_crawl.classify(1, bench) is None
    venv = "/repo/.venv/bin"
    crawl = argv(f"{venv}/python3", f"{venv}/scrapy", "crawl", "antara_kalteng", "-a", "x=1")
    assert bench_crawl.classify(1, crawl) == "crawl"
    assert bench_crawl.classify(1, argv("python", "-m", "scrapy", "crawl", "a")) == "crawl"
    server = argv("python", "-m", "secantus", "--port", "1", "--standalone")
    assert bench_crawl.classify(1, server) == "server"
