"""``python -m crawler``: commands, output formats and exit codes, against a real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from pymongo import MongoClient
from pymongo.database import Database

from crawler.archive.query import Archive
from crawler.archive.server import find_or_start_server
from crawler.archive.store import archive_batch, ensure_indexes
from crawler.cli.main import cli
from tests.mirror import free_port
from tests.test_query import BASE, record, url


@pytest.fixture
def archive(mongo_db: Database[dict[str, Any]]) -> Archive:
    """An Archive on the test's fresh database (``mongo_db`` closes the client)."""
    ensure_indexes(mongo_db)
    return Archive(mongo_db)


ROOT = Path(__file__).resolve().parents[1]


def run(archive: Archive, *args: str) -> Result:
    """Invoke the CLI on the test's database."""
    host, port = archive.db.client.address or ("127.0.0.1", 27017)
    options = ["--mongo-uri", f"mongodb://{host}:{port}/?directConnection=true"]
    options += ["--database", archive.db.name, "--timeout", "5"]
    return CliRunner().invoke(cli, [*options, *args], catch_exceptions=False)


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive_batch(
        archive.db,
        [
            record(1, title="Kafé baru dibuka", tags=["kuliner", '{"$gt": ""}']),
            record(2, title="Karhutla di Kotim " + "sangat panjang " * 10, source="antara_kalsel"),
            record(3, body=record(2)["body"]),  # a duplicate of 2
        ],
    )
    update = record(
        1, title="Kafé baru dibuka", body="Diperbarui.", tags=["kuliner", '{"$gt": ""}']
    )
    archive_batch(archive.db, [update])
    return archive


def test_every_command_has_help() -> None:
    runner = CliRunner()
    group = runner.invoke(cli, ["--help"])
    assert group.exit_code == 0
    assert "3 archive unreachable" in group.output
    assert isinstance(cli, click.Group)
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output


def test_search_table_and_json(filled: Archive) -> None:
    result = run(filled, "search", "kafe")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PUBLISHED (UTC)")
    assert "2024-03-01 09:00" in lines[1] and "Kafé baru dibuka" in lines[1] and url(1) in lines[1]
    assert len(lines) == 2

    result = run(filled, "search", "--json", "--unique")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["url"] for row in rows] == [url(2), url(1)]
    assert rows[0]["published_at"] == "2024-03-01T10:00:00Z"
    wide = run(filled, "search", "--source", "antara_kalsel").stdout.splitlines()[1]
    assert "…" in wide  # long titles are shortened


def test_search_filters_and_no_match_exit_1(filled: Archive) -> None:
    assert run(filled, "search", "--tag", '{"$gt": ""}', "--json").stdout.count("\n") == 1
    assert (
        run(filled, "search", "--since", "2024-03-01T10:30:00Z", "--json").stdout.count("\n") == 1
    )
    result = run(filled, "search", "$where")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no matching" in result.stderr


def test_usage_errors_exit_2(filled: Archive) -> None:
    assert run(filled, "search", "--since", "yesterday").exit_code == 2
    assert run(filled, "search", "--limit", "-1").exit_code == 2
    assert run(filled, "stats", "--by", "colour").exit_code == 2
    assert run(filled, "export", "--format", "xlsx", "--out", "x").exit_code == 2


def test_unreachable_archive_exits_3() -> None:
    uri = "mongodb://127.0.0.1:1/?directConnection=true"
    result = CliRunner().invoke(cli, ["--mongo-uri", uri, "--timeout", "0.2", "search", "x"])
    assert result.exit_code == 3
    assert "archive unreachable" in result.stderr


def test_show_record_and_history(filled: Archive) -> None:
    result = run(filled, "show", f"{url(1)}/?utm_source=feed")
    assert result.exit_code == 0
    assert "Diperbarui." in result.stdout
    assert "History (2 versions, oldest first)" in result.stdout
    assert 'tags             kuliner | {"$gt": ""}' in result.stdout
    payload = json.loads(run(filled, "show", "--json", url(1)).stdout)
    assert payload["record"]["version"] == 2
    assert [v["version"] for v in payload["history"]] == [1, 2]
    assert payload["history"][0]["body"] == "Isi berita nomor 1."

    missing = run(filled, "show", f"{BASE}/999/none")
    assert missing.exit_code == 1
    assert "not in the archive" in missing.stderr


def test_export_writes_the_file(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = run(filled, "export", "kafe", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 1 record(s)" in result.stderr
    assert out.read_text("utf-8").count("\n") == 2
    jsonl = tmp_path / "x.jsonl"
    assert run(filled, "export", "-o", str(jsonl), "--limit", "2").exit_code == 0
    assert len(jsonl.read_text("utf-8").splitlines()) == 2


def test_stats(filled: Archive) -> None:
    result = run(filled, "stats")
    assert result.exit_code == 0
    assert "records: 3   duplicates: 1 (33.3%)" in result.stdout
    assert "antara_kalteng" in result.stdout and "url" in result.stdout
    payload = json.loads(run(filled, "stats", "--by", "tag", "--json").stdout)
    assert payload["total"] == 3
    assert {"key": "kuliner", "count": 1} in payload["groups"]
    assert payload["coverage"]["title"] == 1.0
    by_day = json.loads(
        run(filled, "stats", "--by", "day", "--since", "2024-03-01", "--json").stdout
    )
    assert by_day["groups"] == [{"key": "2024-03-01", "count": 3}]


def test_report_command(filled: Archive, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = run(filled, "report", "--out", str(out))
    assert result.exit_code == 0
    assert "<svg" in out.read_text("utf-8")


def test_python_dash_m_crawler_runs(filled: Archive) -> None:
    host, port = filled.db.client.address or ("127.0.0.1", 27017)
    env = {**os.environ, "MONGO_URI": f"mongodb://{host}:{port}/?directConnection=true"}
    done = subprocess.run(
        [sys.executable, "-m", "crawler", "--database", filled.db.name, "search", "--json", "kafe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["url"] == url(1)


def serve_process(
    data_dir: Path, *args: str, sigint_ignored: bool = False
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONGO_URI"}
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "--data-dir", str(data_dir), "serve", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a job a non-interactive shell starts in the background (`serve &` in a script):
        # SIGINT ignored from the start.
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )


def stop_serving(process: subprocess.Popen[str]) -> str:
    """SIGINT (Ctrl-C) ``serve``; its stderr. It exits 0."""
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def test_serve_runs_in_the_foreground_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    with serve_process(tmp_path, "--port", str(port)) as process:
        try:
            assert process.stdout is not None
            uri = process.stdout.readline().strip()
            assert uri == f"mongodb://127.0.0.1:{port}/?directConnection=true"
            client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
            with client:
                client.news_archive.articles.insert_one({"url": "x"})
            # A crawler or CLI started now reuses this server instead of starting a second one.
            reused = find_or_start_server(tmp_path)
            assert (reused.port, reused.owner) == (port, False)
            reused.release()
            stop_serving(process)
        finally:
            if process.poll() is None:
                process.terminate()  # serve releases its server on SIGTERM too
                process.wait(timeout=30)
    assert not (tmp_path / "secantusd.json").exists()


def test_serve_stops_on_sigint_even_when_started_with_it_ignored(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--port", str(free_port()), sigint_ignored=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("mongodb://127.0.0.1:")
            assert "Releasing the server" in stop_serving(process)
        finally:
            if process.poll() is None:
                process.kill()
    assert not (tmp_path / "secantusd.json").exists()


def test_serve_reports_a_server_already_running(tmp_path: Path) -> None:
    server = find_or_start_server(tmp_path)
    try:
        with serve_process(tmp_path) as process:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == server.uri
            assert "already runs" in stop_serving(process)
        # Ctrl-C on serve stops serving, not the server this test still uses.
        assert server.alive()
    finally:
        server.release()
    assert not server.alive()
