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
