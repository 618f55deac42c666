"""``python -m crawler run``: lock, log files, the crawl_runs record, exit status.

Runs are real: ``python -m crawler run antara_kalteng`` subprocesses against the local mirror
and the session's MongoDB server.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.spool import decode
from crawler.ops.run_record import CRAWL_RUNS, build_record, judge, store_record
from crawler.ops.runner import EX_TEMPFAIL, new_log_file
from tests.mirror import FAST_SETTINGS, REPO_DIR, MirrorServer, free_port, wait_for_an_article

Doc = dict[str, Any]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", "run", "antara_kalteng", *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def mirror() -> Iterator[MirrorServer]:
    with MirrorServer() as server:
        yield server


def settings_args(tmp_path: Path, mongo_uri: str, database: str) -> list[str]:
    return [
        "-s", f"MONGO_URI={mongo_uri}",
        "-s", f"MONGO_DATABASE={database}",
        "-s", f"DATA_DIR={tmp_path / 'data'}",
        "-s", f"LOG_DIR={tmp_path / 'logs'}",
        *FAST_SETTINGS,
    ]  # fmt: skip


def test_run_is_logged_and_recorded_with_counts(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc], mirror: MirrorServer
) -> None:
    done = run_cli(
        f"base_url={mirror.base_url}", *settings_args(tmp_path, mongo_uri, mongo_db.name)
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "antara_kalteng run ok: 16 new" in done.stdout
    (log,) = (tmp_path / "logs" / "antara_kalteng").glob("*.log")
    text = log.read_text()
    assert "Spider closed (finished)" in text
    assert "[crawler.ops.runner] INFO: antara_kalteng run ok" in text
    (run,) = mongo_db[CRAWL_RUNS].find()
    assert run["status"] == "ok" and run["failures"] == []
    assert run["finish_reason"] == "finished"
    assert run["args"] == {"base_url": mirror.base_url}
    assert run["started_at"] < run["finished_at"]
    counts = run["counts"]
    assert (counts["new"], counts["updated"], counts["unchanged"]) == (16, 0, 0)
    assert counts["failed_pages"] == 1  # the fixture's one 404 article
    assert counts["skipped_by_reason"] == {"http_404": 1, "photo": 1, "video": 1}
    assert counts["dropped"] == 0 and counts["errors"] == 0
    assert run["monitors"]["coverage/title"] == {
        "passed": True,
        "message": "title found on 16 of 16 pages",
    }
    assert all(result["passed"] for result in run["monitors"].values())
    assert run["log_file"] == str(log)


def test_second_concurrent_run_exits_75(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc], mirror: MirrorServer
) -> None:
    args = [f"base_url={mirror.base_url}", *settings_args(tmp_path, mongo_uri, mongo_db.name)]
    slow = [*args, "-s", "DOWNLOAD_DELAY=0.5", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
    first = subprocess.Popen(
        [sys.executable, "-m", "crawler", "run", "antara_kalteng", *slow],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_an_article(mirror, first)
        started = time.monotonic()
        second = run_cli(*args)
        assert second.returncode == EX_TEMPFAIL, second.stderr
        assert time.monotonic() - started < 10
        assert "Another antara_kalteng run is active (pid" in second.stderr
        assert first.poll() is None, "the first run ended before the second was tried"
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert mongo_db[CRAWL_RUNS].count_documents({}) == 1  # the refused run left no record


def test_failed_monitor_fails_the_run_and_alerts_once(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc], mirror: MirrorServer
) -> None:
    alerts = tmp_path / "alerts.txt"
    done = run_cli(
        f"base_url={mirror.base_url}",
        *settings_args(tmp_path, mongo_uri, mongo_db.name),
        "-s", "MONITOR_MIN_ITEMS=100",
        "-s", f"ALERT_COMMAND=cat >> {alerts}",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "antara_kalteng run failed" in done.stderr
    (run,) = mongo_db[CRAWL_RUNS].find()
    assert run["status"] == "failed"
    assert run["failures"] == [
        "monitor item_count: 16 item(s) from 17 article link(s) requested (+0 dropped, "
        "+1 skipped or failed); at least 100 item(s) expected"
    ]
    text = alerts.read_text()
    assert text.count("antara_kalteng failed 1 of ") == 1  # the runner did not alert again
    assert "at least 100 item(s) expected" in text


def test_run_with_database_down_is_recorded_locally_then_uploaded(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc], mirror: MirrorServer
) -> None:
    down = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"
    args = [f"base_url={mirror.base_url}", *settings_args(tmp_path, down, mongo_db.name)]
    first = run_cli(*args)
    assert first.returncode == 1, first.stderr
    assert "monitor archive: the archive database was unreachable: 16 record(s)" in first.stderr
    (pending,) = (tmp_path / "data" / "runs" / "pending").glob("*.json")
    record = decode(pending.read_text())
    assert record["counts"]["spooled"] == 16
    assert isinstance(record["started_at"], datetime)

    second = run_cli(
        f"base_url={mirror.base_url}", *settings_args(tmp_path, mongo_uri, mongo_db.name)
    )
    assert second.returncode == 0, second.stderr
    runs = sorted(mongo_db[CRAWL_RUNS].find(), key=lambda run: run["started_at"])
    assert [run["status"] for run in runs] == ["failed", "ok"]
    assert runs[1]["counts"]["replayed"] == 16
    assert not pending.exists()
    assert mongo_db.articles.count_documents({}) == 16


# --- pieces, without a crawl ---------------------------------------------------------------


def test_log_rotation_keeps_the_newest(tmp_path: Path) -> None:
    made = []
    for _ in range(5):
        made.append(new_log_file(tmp_path, keep=3))
        time.sleep(0.002)
    assert sorted(tmp_path.glob("*.log")) == made[-3:]
    assert made == sorted(made)


def record_for(stats: dict[str, Any] | None) -> Doc:
    now = datetime(2026, 1, 27, 9, tzinfo=UTC)
    return build_record("antara_kalteng", [], [], now, now, stats, Path("x.log"))


def test_judge_names_every_failure() -> None:
    stats = {
        "finish_reason": "shutdown",
        "log_count/ERROR": 3,
        "monitors/errors/failed": 1,
        "monitors/errors/message": "3 error(s) logged (at most 0 allowed)",
        "monitors/failed": 1,
    }
    assert judge(record_for(stats), stats, 0, False, max_errors=2) == [
        "finish reason 'shutdown', not 'finished'",
        "3 error(s) logged, more than RUN_MAX_ERRORS=2",
        "monitor errors: 3 error(s) logged (at most 0 allowed)",
    ]
    assert judge(record_for(None), None, -9, True, max_errors=0) == [
        "the crawl ran out of time and was stopped",
        "the crawl wrote no stats (exit code -9): crashed or killed",
    ]
    ok = {"finish_reason": "finished"}
    assert judge(record_for(ok), ok, 0, False, max_errors=0) == []


def test_store_record_falls_back_to_a_local_file(tmp_path: Path) -> None:
    record = record_for({"finish_reason": "finished"})
    down = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200"
    where = store_record(record, down, "x", tmp_path)
    assert Path(where) == tmp_path / "runs" / "pending" / f"{record['_id']}.json"
    assert decode(Path(where).read_text()) == record
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert store_record(record, None, "x", blocked) == "nowhere"  # never raises
