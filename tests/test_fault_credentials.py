"""Issue 7, point 4: no credential in ``ps``, the logs, ``crawl_runs`` or pending run records.

A real cron run (``python -m crawler run``) against the session's server with a real user and
password; the crawl's command line and environment are read from ``/proc`` while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import OperationFailure

from crawler.archive.spool import encode
from crawler.archive.store import connect
from crawler.ops.run_record import CRAWL_RUNS, PENDING_DIR, build_record, store_record
from tests.mirror import FAST_SETTINGS, REPO_DIR, MirrorServer, free_port

Doc = dict[str, Any]
SECRET = "s3cret-" + uuid.uuid4().hex[:8]
HOOK_SECRET = "T000/B000/" + uuid.uuid4().hex[:12]
TOKEN_SECRET = "tok-" + uuid.uuid4().hex[:12]


def with_credentials(uri: str, user: str, password: str) -> str:
    scheme, _, rest = uri.partition("://")
    joiner = "&" if "?" in rest else "/?"
    return f"{scheme}://{user}:{password}@{rest}{joiner}authSource=admin"


def secrets_in(text: str) -> list[str]:
    return [secret for secret in (SECRET, HOOK_SECRET, TOKEN_SECRET) if secret in text]


def test_redaction_rules() -> None:
    from crawler.archive.redaction import redact_setting, redact_text, redact_uri, redact_webhook

    assert (
        redact_uri("mongodb://user:pa%40ss@db1:27017,db2/x?authSource=admin")
        == "mongodb://user:***@db1:27017,db2/x?authSource=admin"
    )
    assert redact_uri("mongodb://u:p/w@h/?password=x&w=1") == "mongodb://u:***@h/?password=***&w=1"
    assert redact_uri("mongodb://user@h/") == "mongodb://user@h/"  # a user name is no secret
    assert redact_uri("https://ghp_abc@github.com/x") == "https://***@github.com/x"
    assert redact_webhook("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/***"
    assert redact_setting("ALERT_WEBHOOK_URL", "https://h/services/T/B/X") == "https://h/***"
    assert redact_setting("ALERT_COMMAND", "cat >> /tmp/a") == "cat >> /tmp/a"
    assert (
        redact_setting("ALERT_COMMAND", "curl -d @- https://h/T/B/X") == "curl -d @- https://h/***"
    )
    assert redact_setting("PROXY_PASSWORD", "x") == redact_setting("GITHUB_TOKEN", "y") == "***"
    assert redact_setting("LOG_KEEP", "24") == "24"
    assert (
        redact_text("failed on mongodb://a:b@h/: refused")
        == "failed on mongodb://a:***@h/: refused"
    )


def test_pending_run_record_holds_no_password(tmp_path: Path) -> None:
    down = f"mongodb://user:{SECRET}@127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200"
    now = datetime.now(UTC)
    record = build_record(
        "antara_kalteng",
        [("base_url", f"http://user:{SECRET}@127.0.0.1:1")],
        [("MONGO_URI", down), ("ALERT_WEBHOOK_URL", f"https://hooks.example/{HOOK_SECRET}")],
        now,
        now,
        {"finish_reason": "finished"},
        tmp_path / "x.log",
    )
    where = store_record(record, down, "x", tmp_path)
    assert Path(where).parent == tmp_path / PENDING_DIR
    assert secrets_in(Path(where).read_text()) == []
    assert record["settings"]["MONGO_URI"].startswith("mongodb://user:***@127.0.0.1:")


def crawl_child(log_dir: Path) -> int | None:
    """The pid of the runner's ``scrapy crawl`` child (its command line names LOG_DIR)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"scrapy\0crawl" in cmdline and str(log_dir).encode() in cmdline:
                return int(proc.name)
    return None


@pytest.mark.slow
def test_cron_run_keeps_credentials_out_of_ps_logs_and_records(
    tmp_path: Path, mongo_uri: str, mongo_db: Database[Doc]
) -> None:
    user = f"crawler_{uuid.uuid4().hex[:8]}"
    admin = mongo_db.client.admin
    try:
        admin.command("createUser", user, pwd=SECRET, roles=[{"role": "root", "db": "admin"}])
    except OperationFailure as exc:  # a real MongoDB that does not let the tests add users
        pytest.skip(f"cannot create a user on the test server: {exc}")
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    # A pending record an earlier version wrote, password and all: uploaded redacted.
    pending = data_dir / PENDING_DIR
    pending.mkdir(parents=True)
    old_id = "antara_kalteng-20260101T000000.000000Z-1"
    (pending / f"{old_id}.json").write_text(
        encode({"_id": old_id, "settings": {"MONGO_URI": f"mongodb://u:{SECRET}@h/"}, "args": {}})
    )
    uri = with_credentials(mongo_uri, user, SECRET)
    try:
        probe = connect(uri, mongo_db.name)
        probe.command("ping")  # the password is real: the crawl must get it to work
        probe.client.close()
        with MirrorServer() as mirror:
            command = [
                sys.executable, "-m", "crawler", "run", "antara_kalteng",
                f"base_url={mirror.base_url}",
                "-s", f"MONGO_URI={uri}",
                "-s", f"MONGO_DATABASE={mongo_db.name}",
                "-s", f"DATA_DIR={data_dir}",
                "-s", f"LOG_DIR={log_dir}",
                "-s", f"ALERT_WEBHOOK_URL=http://127.0.0.1:{free_port()}/services/{HOOK_SECRET}",
                "-s", f"EXAMPLE_API_TOKEN={TOKEN_SECRET}",
                *FAST_SETTINGS,
                "-s", "DOWNLOAD_DELAY=0.1",
            ]  # fmt: skip
            env = {k: v for k, v in os.environ.items() if k != "MONGO_URI"}
            runner = subprocess.Popen(
                command,
                cwd=REPO_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            child_cmdline = child_environ = b""
            deadline = time.monotonic() + 120
            while runner.poll() is None and time.monotonic() < deadline:
                pid = crawl_child(log_dir)
                if pid is not None:
                    try:
                        child_cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                        child_environ = Path(f"/proc/{pid}/environ").read_bytes()
                        break
                    except OSError:
                        pass
                time.sleep(0.01)
            out, err = runner.communicate(timeout=300)
        assert child_cmdline, "never saw the crawl process"
        runs = {run["_id"]: run for run in mongo_db[CRAWL_RUNS].find()}
        (log,) = (log_dir / "antara_kalteng").glob("*.log")
        places = {
            "crawl command line": child_cmdline.decode(errors="replace"),
            "runner output": out + err,
            "log file": log.read_text(errors="replace"),
            "crawl_runs": json.dumps(list(runs.values()), default=str),
            "pending files": "".join(p.read_text() for p in pending.glob("*")),
            "secantusd and spool files": "".join(
                p.read_text(errors="replace") for p in data_dir.rglob("*") if p.is_file()
            ),
        }
        leaks = {where: secrets_in(text) for where, text in places.items() if secrets_in(text)}
        assert leaks == {}
        # The secrets reached the crawl, through its environment (readable by its user only).
        assert f"MONGO_URI={uri}".encode() in child_environ.split(b"\0")
        assert TOKEN_SECRET.encode() in child_environ
        assert runner.returncode == 0, err[-3000:]
        assert "antara_kalteng run ok: 16 new" in out
        (new_id,) = set(runs) - {old_id}
        settings = runs[new_id]["settings"]
        assert settings["MONGO_URI"] == with_credentials(mongo_uri, user, "***")
        assert settings["ALERT_WEBHOOK_URL"].endswith("/***")
        assert settings["EXAMPLE_API_TOKEN"] == "***"
        assert runs[old_id]["settings"] == {"MONGO_URI": "mongodb://u:***@h/"}
    finally:
        admin.command("dropUser", user)
