"""A local mirror of kalteng.antaranews.com built from the saved fixture site.

Tests, benches and manual runs crawl this server instead of the live site, so nothing ever
leaves 127.0.0.1. It maps a URL path to ``tests/fixtures/antara_kalteng/site/<path>.html``
(``/`` to ``index.html``, ``/terkini?page=2`` to ``terkini/2.html`` like ``/terkini/2``),
rewrites links to the live host onto itself, answers 404 for anything it does not hold, and
serves a ``/robots.txt`` that disallows only ``/search`` so robots handling is exercised.

Failure tests need pages the fixture does not have and pages that fail for a while, and later
issues need to know how often a path was fetched, hence :meth:`MirrorServer.add_page`,
:meth:`MirrorServer.fail` and :meth:`MirrorServer.count` (:meth:`MirrorServer.times`: when each
request came, e.g. to time retries); :meth:`MirrorServer.slow_down` makes responses take a while
(a crawl that is still running when a test interrupts it).

:func:`run_crawl` runs ``scrapy crawl`` as a user would (a subprocess from the repo root) and
reads the stats Scrapy dumps at the end of its log; tests and benches share it.

Run the mirror by hand with ``python -m tests.mirror [--port 8080]``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

REPO_DIR = Path(__file__).resolve().parent.parent
FIXTURE_DIR = Path(__file__).parent / "fixtures" / "antara_kalteng"
SITE_DIR = FIXTURE_DIR / "site"
LIVE_ORIGIN = "https://kalteng.antaranews.com"
#: The article URLs a full crawl of the fixture site must archive, each exactly once.
EXPECTED_URLS: list[str] = sorted(
    json.loads((FIXTURE_DIR / "meta.json").read_text(encoding="utf-8"))["expected_archive"]
)
ROBOTS_TXT = "User-agent: *\nDisallow: /search\n"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class Page:
    """A page served instead of (or in addition to) the fixture files."""

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: Rewrite live-host links in ``body`` onto the mirror, as for fixture files.
    rewrite: bool = True


class MirrorServer:
    """Threaded static server for the fixture site on 127.0.0.1; a context manager.

    ``port=0`` lets the OS pick a free port; :attr:`base_url` is the address to crawl.
    """

    def __init__(
        self, root: Path = SITE_DIR, *, port: int = 0, live_origin: str = LIVE_ORIGIN
    ) -> None:
        self.root = root.resolve()
        self.live_origin = live_origin
        self._pages: dict[str, Page] = {}
        self._failures: dict[str, tuple[int, int]] = {}
        self._failure_headers: dict[str, dict[str, str]] = {}
        self._counts: Counter[str] = Counter()
        self._times: dict[str, list[float]] = {}
        self._delays: dict[str, float] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="mirror", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- hooks for tests ------------------------------------------------------------------

    def add_page(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        rewrite: bool = True,
    ) -> None:
        """Serve ``body`` at ``path`` (with or without a query), overriding any fixture file."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._pages[path] = Page(data, status, content_type, dict(headers or {}), rewrite)

    def fail(
        self, path: str, times: int, status: int = 500, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests for ``path`` with ``status`` (and ``headers``, e.g.
        ``Retry-After``), then serve it."""
        with self._lock:
            self._failures[path] = (times, status)
            self._failure_headers[path] = dict(headers or {})

    def slow_down(self, seconds: float, prefix: str = "/") -> None:
        """Wait ``seconds`` before answering requests whose path starts with ``prefix``
        (the longest matching prefix wins; 0 removes the delay)."""
        with self._lock:
            if seconds > 0:
                self._delays[prefix] = seconds
            else:
                self._delays.pop(prefix, None)

    def delay_for(self, raw_path: str) -> float:
        with self._lock:
            matches = [prefix for prefix in self._delays if raw_path.startswith(prefix)]
            return self._delays[max(matches, key=len)] if matches else 0.0

    def count(self, path: str) -> int:
        """How many requests asked for ``path`` (path plus query, as sent)."""
        with self._lock:
            return self._counts[path]

    def times(self, path: str) -> list[float]:
        """When (``time.monotonic()``) each request for ``path`` arrived."""
        with self._lock:
            return list(self._times.get(path, []))

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._times.clear()

    # --- request handling -----------------------------------------------------------------

    def respond(self, raw_path: str) -> Page:
        """The page for one request path; used by the handler and handy in tests."""
        parts = urlsplit(raw_path)
        with self._lock:
            self._counts[raw_path] += 1
            self._times.setdefault(raw_path, []).append(time.monotonic())
            remaining, status = self._failures.get(raw_path) or self._failures.get(
                parts.path, (0, 0)
            )
            if remaining > 0:
                key = raw_path if raw_path in self._failures else parts.path
                self._failures[key] = (remaining - 1, status)
                headers = self._failure_headers.get(key, {})
                return Page(f"error {status}".encode(), status, headers=headers, rewrite=False)
            page = self._pages.get(raw_path) or self._pages.get(parts.path)
        if page is None:
            page = self._file_page(parts.path, parts.query)
        if page.rewrite:
            page = Page(
                page.body.replace(self.live_origin.encode(), self.base_url.encode()),
                page.status,
                page.content_type,
                page.headers,
                rewrite=False,
            )
        return page

    def _file_page(self, path: str, query: str) -> Page:
        if path == "/robots.txt":
            return Page(ROBOTS_TXT.encode(), content_type=_CONTENT_TYPES[".txt"])
        page_number = (parse_qs(query).get("page") or [""])[0]
        if page_number.isdigit() and int(page_number) > 1:
            path = f"{path.rstrip('/')}/{int(page_number)}"
        file = self._resolve(path)
        if file is None:
            return Page(b"<html><body><h1>404 Not Found</h1></body></html>", 404, rewrite=False)
        content_type = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        return Page(file.read_bytes(), content_type=content_type)

    def _resolve(self, path: str) -> Path | None:
        relative = path.strip("/")
        candidates = (
            [self.root / "index.html"]
            if not relative
            else [self.root / relative, self.root / f"{relative}.html"]
        )
        for candidate in candidates:
            resolved = candidate.resolve()
            # Never serve outside the fixture tree ("/../" in a crafted path).
            if resolved.is_file() and resolved.is_relative_to(self.root):
                return resolved
        return None


def _handler_for(mirror: MirrorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            page = mirror.respond(self.path)
            delay = mirror.delay_for(self.path)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)
            except (BrokenPipeError, ConnectionResetError):
                # A client that refuses a large body (DOWNLOAD_MAXSIZE) hangs up mid-write.
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("mirror: " + format, *args)

    return Handler


@dataclass
class CrawlRun:
    """One finished ``scrapy crawl``: exit code, its log (stderr) and the stats it dumped."""

    returncode: int
    log: str
    stats: dict[str, Any]
    seconds: float


def wait_for_an_article(
    mirror: MirrorServer, process: subprocess.Popen[str], timeout: float = 60
) -> None:
    """Until ``process`` (still running) has fetched an article page of ``mirror``."""
    deadline = time.monotonic() + timeout
    while not any(path.startswith("/berita/") for path in mirror.counts):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no article was fetched"
        time.sleep(0.1)


def run_crawl(
    spider: str,
    *args: str,
    env: dict[str, str | None] | None = None,
    timeout: float = 600,
) -> CrawlRun:
    """Run ``scrapy crawl <spider> <args>`` from the repo root with this interpreter's Scrapy.

    ``env`` entries override the current environment; a ``None`` value removes the variable
    (e.g. ``{"MONGO_URI": None}`` to get the embedded server).
    """
    scrapy = Path(sys.executable).with_name("scrapy")
    command = [str(scrapy)] if scrapy.exists() else [sys.executable, "-m", "scrapy"]
    environment = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    started = time.perf_counter()
    process = subprocess.run(
        [*command, "crawl", spider, *args],
        cwd=REPO_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    return CrawlRun(process.returncode, process.stderr, parse_stats(process.stderr), seconds)


_STAT_LINE = re.compile(r"^\s*\{?'(?P<key>[^']+)': (?P<value>-?\d+(?:\.\d+)?|'[^']*')[,}]?$")


def parse_stats(log: str) -> dict[str, Any]:
    """Number and string stats from the last "Dumping Scrapy stats" block of a crawl log."""
    _, found, block = log.rpartition("Dumping Scrapy stats:")
    if not found:
        return {}
    stats: dict[str, Any] = {}
    for line in block.splitlines()[1:]:
        match = _STAT_LINE.match(line)
        if match:
            stats[match.group("key")] = ast.literal_eval(match.group("value"))
        if line.rstrip().endswith("}"):
            break
    return stats


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (free to bind, refused to connect)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: Politeness off: the mirror is ours, and tests should not wait on AutoThrottle.
FAST_SETTINGS = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0")


def mirror_crawl_args(
    mirror: MirrorServer, mongo_uri: str, database: str, *extra: str
) -> list[str]:
    """Arguments of ``scrapy crawl`` for a fast crawl of ``mirror`` into ``database``."""
    return [
        "-a",
        f"base_url={mirror.base_url}",
        "-s",
        f"MONGO_URI={mongo_uri}",
        "-s",
        f"MONGO_DATABASE={database}",
        *FAST_SETTINGS,
        *extra,
    ]


def listing_with(listing_file: str, paths: list[str], shown_date: str, link_text: str) -> str:
    """A fixture listing page with ``paths`` listed on top, as a desk publishing them would."""
    html = (SITE_DIR / listing_file).read_text(encoding="utf-8")
    items = "".join(
        f'<article class="simple-post clearfix"><header><h3><a href="{path}">{link_text}</a>'
        f'</h3><p class="simple-share"><span><i class="fa fa-clock-o"></i> {shown_date}'
        f"</span></p></header></article>\n"
        for path in paths
    )
    marker = '<article class="simple-post simple-big clearfix">'
    assert marker in html
    return html.replace(marker, items + marker, 1)


def desk_mirror(source: str, *, port: int = 0) -> MirrorServer:
    """A mirror of another desk's fixture site (``tests/fixtures/<source>/site/``, its live
    origin from the fixture's ``meta.json``), e.g. ``desk_mirror("antara_kalsel")``."""
    fixture = FIXTURE_DIR.parent / source
    live_origin = json.loads((fixture / "meta.json").read_text(encoding="utf-8"))["site"]
    return MirrorServer(fixture / "site", port=port, live_origin=live_origin)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a desk's fixture mirror.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--source", default="antara_kalteng", help="the desk whose fixture site to serve"
    )
    args = parser.parse_args(argv)
    with desk_mirror(args.source, port=args.port) as mirror:
        print(f"Mirror of {mirror.live_origin} at {mirror.base_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
