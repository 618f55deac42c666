"""Issue 7, point 2 (the runner's half): a cron run with ``DATA_DIR`` on a full filesystem.

``DATA_DIR`` is a real 1 MiB tmpfs, filled up, mounted in a private mount namespace
(``unshare``), so nothing outside the test sees it and it vanishes with the run. The runner
must still report what the crawl did, never leave a partial run record, and fail loudly when
the record can be stored nowhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.ops.run_record import CRAWL_RUNS
from tests.mirror import EXPECTED_URLS, FAST_SETTINGS, REPO_DIR, MirrorServer, free_port

Doc = dict[str, Any]

#: Runs inside the namespace, on the mounted tmpfs: fill it, run the runner, list what is left.
INSIDE = textwrap.dedent(
    """
    import json, os, subprocess, sys
    data_dir, *command = sys.argv[1:]
    # The lock file exists from earlier hourly runs; then the disk fills up.
    os.makedirs(os.path.join(data_dir, "locks"))
    with open(os.path.join(data_dir, "locks", "antara_kalteng.lock"), "w") as lock:
        lock.write("pid 1, started 2026-01-01T00:00:00Z\\n")
    try:
        with open(os.path.join(data_dir, "filler"), "wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
    except OSError:
        pass
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    files = {}
    for top, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(top, name)
            files[os.path.relpath(path, data_dir)] = os.path.getsize(path)
    print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr,
                      "files": files}))
    """
)


def can_mount_a_private_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not can_mount_a_private_tmpfs(), reason="needs unshare (user and mount namespaces)"
)


def run_on_full_data_dir(data_dir: Path, runner_args: Sequence[str]) -> dict[str, Any]:
    """``python -m crawler run antara_kalteng <runner_args>`` with ``data_dir`` a full tmpfs."""
    data_dir.mkdir()
    command = [sys.executable, "-m", "crawler", "run", "antara_kalteng", *runner_args]
    namespace = [
        "unshare", "--user", "--map-root-user", "--mount", "--",
        "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"', "sh",
        str(data_dir), sys.executable, "-c", INSIDE, str(data_dir), *command,
    ]  # fmt: skip
    done = subprocess.run(
        namespace,
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def partial_files(files: dict[str, int]) -> dict[str, int]:
    """Temporary or empty files: what a write that ran out of space leaves behind."""
    return {
        name: size
        for name, size in files.items()
        if name.endswith(".tmp") or (size == 0 and name.startswith("runs"))
    }


@pytest.mark.slow
def test_full_data_dir_run_still_reports_what_the_crawl_did(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc]
) -> None:
    with MirrorServer() as mirror:
        result = run_on_full_data_dir(
            tmp_path / "data",
            [
                f"base_url={mirror.base_url}",
                "-s", f"MONGO_URI={mongo_uri}",
                "-s", f"MONGO_DATABASE={mongo_db.name}",
                "-s", f"DATA_DIR={tmp_path / 'data'}",
                "-s", f"LOG_DIR={tmp_path / 'logs'}",
                *FAST_SETTINGS,
            ],
        )  # fmt: skip
    output = result["out"] + result["err"]
    assert "crashed or killed" not in output
    assert f"antara_kalteng run ok: {len(EXPECTED_URLS)} new" in result["out"], output[-3000:]
    assert partial_files(result["files"]) == {}
    assert result["rc"] == 0
    (run,) = mongo_db[CRAWL_RUNS].find()
    assert run["counts"]["new"] == len(EXPECTED_URLS)
    assert run["status"] == "ok"


def test_run_record_stored_nowhere_fails_the_run_loudly(tmp_path: Path) -> None:
    down = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"
    result = run_on_full_data_dir(
        tmp_path / "data",
        [
            "max_pages=0",  # the spider refuses to start: a crawl of a second or two
            "-s", f"MONGO_URI={down}",
            "-s", f"DATA_DIR={tmp_path / 'data'}",
            "-s", f"LOG_DIR={tmp_path / 'logs'}",
        ],
    )  # fmt: skip
    assert partial_files(result["files"]) == {}, result["err"][-3000:]
    assert result["rc"] == 1
    summary = result["err"].strip().splitlines()[-1]
    assert "antara_kalteng run failed" in summary, result["err"][-3000:]
    assert "THE RUN RECORD WAS LOST" in summary
    assert "No space left on device" in summary
