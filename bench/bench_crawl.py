"""Crawl throughput: our spider on the local mirror against ``scrapy bench`` on this machine.

``scrapy bench`` is Scrapy's own ceiling on this machine (link following, no parsing, no
storage); the ratio says how much of it our crawl keeps, with parsing and archiving included.
Politeness is off for the mirror crawl (no delay, no AutoThrottle, no robots.txt, 16
concurrent requests) since the mirror is local; archiving goes to a throwaway database (an
embedded server in a temporary DATA_DIR, or ``MONGO_URI`` with a temporary database name).

    python bench/bench_crawl.py [--extra-articles 500] [--no-scrapy-bench]

``--extra-articles`` adds synthetic listing pages and article copies to the mirror, because
the fixture site alone (~24 pages) is too small for a stable pages/min figure.

Peak RSS is ``VmHWM`` of each process, polled while it runs (:mod:`rss`): of the crawl process
(``scrapy crawl``), of the embedded server it starts, and of this bench process, which holds
the mirror (every page in memory) and serves it. Never ``ru_maxrss`` of the crawl (its own, or
Scrapy's ``memusage/max``, which is that): Linux carries the bench's peak over fork and exec
into it, and the bench holds ~55 KiB a synthetic article.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from rss import PeakPoller, embedded_server_pid, is_scrapy_crawl, vmhwm_kib  # noqa: E402

from tests.mirror import SITE_DIR, CrawlRun, MirrorServer, parse_stats, run_crawl  # noqa: E402

UNPOLITE = [
    "-s", "AUTOTHROTTLE_ENABLED=False",
    "-s", "DOWNLOAD_DELAY=0",
    "-s", "ROBOTSTXT_OBEY=False",
    "-s", "CONCURRENT_REQUESTS=16",
    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "-s", "LOG_LEVEL=INFO",
]  # fmt: skip
ITEMS_PER_PAGE = 10


def pages_per_minute(stats: dict[str, Any]) -> float:
    seconds = float(stats.get("elapsed_time_seconds") or 0)
    pages = int(stats.get("response_received_count") or 0)
    return pages / seconds * 60 if seconds else 0.0


def add_synthetic_articles(mirror: MirrorServer, count: int) -> None:
    """Continue ``/terkini`` after its last page with pages of copies of a fixture article."""
    if count <= 0:
        return
    template_file = next((SITE_DIR / "berita" / "811932").glob("*.html"))
    template = template_file.read_text(encoding="utf-8")
    slug = f"811932/{template_file.stem}"
    pages = (count + ITEMS_PER_PAGE - 1) // ITEMS_PER_PAGE
    last = (SITE_DIR / "terkini" / "2.html").read_text(encoding="utf-8")
    mirror.add_page("/terkini/2", with_next_link(last, "/terkini/3"))
    for page in range(pages):
        first_id = 700000 + page * ITEMS_PER_PAGE
        ids = [i for i in range(first_id, first_id + ITEMS_PER_PAGE) if i - 700000 < count]
        for article_id in ids:
            body = template.replace(slug, f"{article_id}/salinan-{article_id}").replace(
                "mencatat 86 kasus", f"mencatat {article_id} kasus"
            )
            mirror.add_page(f"/berita/{article_id}/salinan-{article_id}", body)
        items = "".join(
            f'<article class="simple-post clearfix"><header><h3>'
            f'<a href="/berita/{i}/salinan-{i}">Salinan {i}</a></h3></header></article>'
            for i in ids
        )
        next_link = f"/terkini/{page + 4}" if page + 1 < pages else None
        html = f'<html><body><div class="terkini">{items}</div><nav>{{pager}}</nav></body></html>'
        mirror.add_page(f"/terkini/{page + 3}", with_next_link(html, next_link))


def with_next_link(html: str, href: str | None) -> str:
    pager = (
        f'<ul class="pagination pagination-sm"><li><a href="{href}" aria-label="Next">'
        "&raquo;</a></li></ul>"
        if href
        else ""
    )
    if "{pager}" in html:
        return html.replace("{pager}", pager)
    return html.replace('<ul class="pagination pagination-sm">', pager + "<ul>", 1)


@dataclass(frozen=True)
class Peaks:
    """Peak RSS (KiB, ``VmHWM``) of the crawl process, of the embedded server (0 with
    ``MONGO_URI``) and of this bench process (the mirror)."""

    crawl: int
    server: int
    bench: int


def classify(pid: int, cmdline: bytes) -> str | None:
    """The crawl is the ``scrapy crawl`` process (by its arguments, :func:`rss.is_scrapy_crawl`);
    the server is found through its state file."""
    if b"secantus" in cmdline.split(b"\0"):
        return "server"
    return "crawl" if is_scrapy_crawl(cmdline) else None


def crawl_mirror(extra_articles: int, data_dir: Path) -> tuple[CrawlRun, Peaks]:
    """Our crawl; returns the run and the peak RSS of each process."""
    mongo_args: list[str] = []
    # A throw-away DATA_DIR: its server must stop with the crawl, not linger.
    env: dict[str, str | None] = {"DATA_DIR": str(data_dir), "EMBEDDED_SERVER_LINGER_SECONDS": "0"}
    if os.environ.get("MONGO_URI"):
        mongo_args = ["-s", f"MONGO_DATABASE=bench_{uuid.uuid4().hex[:12]}"]
    else:
        env["MONGO_URI"] = None
        mongo_args = ["-s", "MONGO_DATABASE=bench"]
    with MirrorServer() as mirror:
        add_synthetic_articles(mirror, extra_articles)
        with PeakPoller(classify, also=lambda: embedded_server_pid(data_dir)) as peak:
            run = run_crawl(
                "antara_kalteng",
                "-a",
                f"base_url={mirror.base_url}",
                "-a",
                "max_pages=100000",
                *UNPOLITE,
                *mongo_args,
                env=env,
                timeout=4 * 3600,  # 50,000 articles take some 15 minutes on 2 cores
            )
        bench_kib = vmhwm_kib()  # the mirror's pages are all still held here
    peaks = Peaks(peak.kib.get("crawl", 0), peak.kib.get("server", 0), bench_kib)
    if os.environ.get("MONGO_URI"):
        drop_database(os.environ["MONGO_URI"], mongo_args[1].split("=", 1)[1])
    return run, peaks


def drop_database(uri: str, name: str) -> None:
    from crawler.archive.store import connect

    db = connect(uri, name)
    db.client.drop_database(name)
    db.client.close()


def scrapy_bench() -> dict[str, Any]:
    """``scrapy bench`` outside the project, so it runs with Scrapy's defaults."""
    scrapy = Path(sys.executable).with_name("scrapy")
    command = [str(scrapy)] if scrapy.exists() else [sys.executable, "-m", "scrapy"]
    with tempfile.TemporaryDirectory() as outside:
        process = subprocess.run(
            [*command, "bench", "-s", "LOG_LEVEL=INFO"],
            cwd=outside,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if process.returncode != 0:
        raise SystemExit(f"scrapy bench failed:\n{process.stderr[-3000:]}")
    return parse_stats(process.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--extra-articles", type=int, default=0, help="synthetic articles added to the mirror"
    )
    parser.add_argument(
        "--no-scrapy-bench", action="store_true", help="skip the `scrapy bench` reference run"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as data_dir:
        run, peaks = crawl_mirror(args.extra_articles, Path(data_dir))
    if run.returncode != 0:
        raise SystemExit(f"mirror crawl failed (exit {run.returncode}):\n{run.log[-3000:]}")
    ours = pages_per_minute(run.stats)
    archived = int(run.stats.get("archive/inserted", 0))
    print(
        f"mirror crawl : {run.stats.get('response_received_count')} pages, "
        f"{run.stats.get('item_scraped_count')} items, "
        f"{archived} archived in {run.stats.get('elapsed_time_seconds', 0):.1f} s "
        f"(process {run.seconds:.1f} s) -> {ours:,.0f} pages/min, "
        f"{archived / run.seconds:,.1f} archived/s (process wall time)"
    )
    if not args.no_scrapy_bench:
        reference = scrapy_bench()
        theirs = pages_per_minute(reference)
        print(
            f"scrapy bench : {reference.get('response_received_count')} pages in "
            f"{reference.get('elapsed_time_seconds', 0):.1f} s -> {theirs:,.0f} pages/min"
        )
        print(f"ratio        : {ours / theirs:.2f} of scrapy bench" if theirs else "ratio: n/a")
    server = f"{peaks.server / 1024:.0f} MiB" if peaks.server else "n/a (MONGO_URI)"
    print(
        f"peak RSS     : crawl process {peaks.crawl / 1024:.0f} MiB, embedded server {server}, "
        f"this bench (mirror) {peaks.bench / 1024:.0f} MiB (VmHWM of each)"
    )


if __name__ == "__main__":
    main()
