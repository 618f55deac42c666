"""crawler.components.monitors and crawler.ops.alerts: verdicts, hooks, and a crawl of a site whose layout changed."""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.archive.store import connect
from crawler.components.monitors import MonitorConfig, alert_message, evaluate
from crawler.ops.alerts import post_webhook, send_alert
from crawler.ops.stats_handoff import load_stats
from tests.mirror import EXPECTED_URLS, LIVE_ORIGIN, SITE_DIR, MirrorServer, run_crawl

CONFIG = MonitorConfig(min_coverage={"title": 0.99, "image_url": 0.8}, coverage_min_pages=3)


def verdicts(**kwargs: Any) -> dict[str, tuple[bool, str]]:
    arguments: dict[str, Any] = {
        "spider": "antara_kalteng",
        "reason": "finished",
        "pages": 10,
        "found": {"title": 10, "image_url": 10},
        "article_links": 10,
        "listing_pages": 3,
        **kwargs,
    }
    stats = arguments.pop("stats", {"item_scraped_count": 10})
    results = evaluate(stats, CONFIG, **arguments)
    return {result.name: (result.passed, result.message) for result in results}


def test_healthy_run_passes_every_monitor() -> None:
    assert all(passed for passed, _ in verdicts().values())


def test_coverage_drop_reports_a_layout_change() -> None:
    result = verdicts(found={"title": 10, "image_url": 7})
    assert result["coverage/image_url"] == (
        False,
        "the site's layout may have changed: image_url found on 7 of 10 pages "
        "(at least 80% expected)",
    )
    assert result["coverage/title"][0]


def test_too_few_pages_are_not_judged() -> None:
    passed, message = verdicts(pages=2, found={"title": 0})["coverage/title"]
    assert passed and "too few pages" in message


def test_items_must_account_for_the_links() -> None:
    stats = {"item_scraped_count": 5, "item_dropped_count": 1, "antara_kalteng/skipped/http_404": 2}
    passed, message = verdicts(stats=stats, article_links=10)["item_count"]
    assert not passed
    assert "only 8 accounted for, at least 95% expected" in message
    stats["antara_kalteng/download_errors/TimeoutError"] = 2
    assert verdicts(stats=stats, article_links=10)["item_count"][0]


def test_finish_reason_errors_and_archive() -> None:
    stats = {"item_scraped_count": 10, "log_count/ERROR": 1, "spool/written": 4}
    result = verdicts(stats=stats, reason="shutdown")
    assert result["finish_reason"] == (False, "the spider closed as 'shutdown', not finished")
    assert result["errors"] == (False, "1 error(s) logged (at most 0 allowed)")
    assert not result["archive"][0]
    assert "4 record(s) spooled" in result["archive"][1]


def test_config_rejects_a_share_above_one() -> None:
    with pytest.raises(ValueError, match="title"):
        MonitorConfig.from_settings(Settings({"MONITOR_MIN_COVERAGE": {"title": 99}}))


# --- alert hooks ---------------------------------------------------------------------------


class Webhook:
    """A Slack-like incoming webhook on 127.0.0.1 that records what it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(
                    {"json": json.loads(body), "content_type": self.headers["Content-Type"]}
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.close()


def test_alert_hooks_get_the_message(tmp_path: Path, webhook: Webhook) -> None:
    out = tmp_path / "alert.txt"
    command = f"{sys.executable} -c \"import os,sys; print(os.environ['ALERT_SPIDER'], sys.stdin.read())\" > {out}"
    outcomes = send_alert(
        "layout changed", command=command, webhook_url=webhook.url, env={"ALERT_SPIDER": "s"}
    )
    assert outcomes == {"command": "exit 0", "webhook": "HTTP 200"}
    assert out.read_text() == "s layout changed\n"
    assert webhook.received == [
        {"json": {"text": "layout changed"}, "content_type": "application/json"}
    ]


def test_broken_hooks_never_raise(tmp_path: Path) -> None:
    failing = Webhook(status=500)
    try:
        assert post_webhook(failing.url, "x", timeout=2) == "HTTP 500"
    finally:
        failing.close()
    assert post_webhook("file:///etc/passwd", "x", timeout=2).startswith("error")
    assert post_webhook("http://127.0.0.1:1/", "x", timeout=2).startswith("error")
    assert send_alert("x", command="sleep 5", timeout=0.2) == {"command": "timeout"}
    assert send_alert("x", command="exit 3", timeout=2) == {"command": "exit 3"}


# --- a crawl of a mirror whose article pages lost selectors --------------------------------


def broken_layout(html: str) -> str:
    """The article date's span and the lead image's container lose their classes."""
    html = re.sub(r'<span class="article-date">.*?</span>', "", html)
    return html.replace("wp-caption", "wp-figure").replace(
        "wrap__article-detail-image", "wrap__article-figure"
    )


def test_layout_change_is_reported_and_alerted(
    tmp_path: Path, mongo_uri: str, webhook: Webhook
) -> None:
    database = f"monitors_{uuid.uuid4().hex[:8]}"
    alert_file = tmp_path / "alert.txt"
    stats_file = tmp_path / "stats.json"
    with MirrorServer() as mirror:
        for url in EXPECTED_URLS:
            path = url.removeprefix(LIVE_ORIGIN)
            html = (SITE_DIR / f"{path.strip('/')}.html").read_text(encoding="utf-8")
            mirror.add_page(path, broken_layout(html))
        run = run_crawl(
            "antara_kalteng",
            "-a", f"base_url={mirror.base_url}",
            "-s", f"MONGO_URI={mongo_uri}",
            "-s", f"MONGO_DATABASE={database}",
            "-s", f"DATA_DIR={tmp_path / 'data'}",
            "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "DOWNLOAD_DELAY=0",
            "-s", f"ALERT_WEBHOOK_URL={webhook.url}",
            "-s", f"ALERT_COMMAND=cat > {alert_file}",
            "-s", f"STATS_DUMP_FILE={stats_file}",
        )  # fmt: skip
    db = connect(mongo_uri, database)
    db.client.drop_database(database)
    db.client.close()
    assert run.returncode == 0, run.log[-3000:]
    stats = load_stats(stats_file)
    assert stats is not None
    assert stats["monitors/coverage/published_at/failed"] == 1
    assert stats["monitors/coverage/published_at/message"] == (
        "the site's layout may have changed: published_at found on 2 of 16 pages "
        "(at least 99% expected)"
    )
    assert stats["monitors/coverage/image_url/message"].startswith(
        "the site's layout may have changed: image_url found on 2 of 16 pages"
    )
    assert stats["monitors/coverage/title/failed"] == 0
    assert stats["monitors/item_count/failed"] == 0  # dropped pages are accounted for
    assert stats["monitors/failed"] == 2
    assert stats["monitors/alerted"] == 1
    assert stats["monitors/alert/webhook"] == "HTTP 200"
    assert "the site's layout may have changed: published_at found on 2 of 16" in run.log
    (sent,) = webhook.received
    assert sent["json"]["text"].startswith("news_archive_crawler: antara_kalteng failed 2 of 11")
    assert "published_at found on 2 of 16 pages" in sent["json"]["text"]
    assert alert_file.read_text() == sent["json"]["text"]


def test_alert_message_lists_only_failures() -> None:
    results = evaluate(
        {"item_scraped_count": 3},
        CONFIG,
        spider="s",
        reason="finished",
        pages=3,
        found={"title": 3, "image_url": 0},
        article_links=3,
        listing_pages=1,
    )
    message = alert_message("bot", "s", results)
    assert message.splitlines() == [
        "bot: s failed 1 of 8 monitors",
        "- coverage/image_url: the site's layout may have changed: image_url found on 0 of 3 "
        "pages (at least 80% expected)",
    ]


def test_a_worker_of_a_shared_crawl_may_have_fetched_no_listing() -> None:
    """Another worker may have taken every listing page; alone, that run would be broken."""
    alone = verdicts(listing_pages=0)["listings"]
    assert alone == (False, "no listing page was fetched")
    worker = verdicts(listing_pages=0, shared_frontier=True)["listings"]
    assert worker == (True, "0 listing page(s) fetched by this worker of a shared crawl")
