"""Scrapy settings for the news archive crawler.

Every project-specific setting is named, documented and given its default here, and only here:
components read them once in ``from_crawler``, into typed configs that refuse invalid values
(:mod:`crawler.config`; conflicting ones: :mod:`crawler.components.settings_check`). Any of
them can be overridden with ``-s NAME=value`` or, for ``MONGO_URI``, ``DATA_DIR``,
``CRAWLER_CONTACT`` and the others read with ``os.environ`` below, with an environment variable
of the same name (an empty ``MONGO_URI``, ``MONGO_DATABASE``, ``DATA_DIR`` or ``LOG_DIR``
counts as unset).
"""

import json
import os

from crawler import items as _items

BOT_NAME = "news_archive_crawler"

SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
#: Project commands: ``crawl`` is Scrapy's, but exits 1 when a run lost records or pages
#: (crawler.commands.crawl); Scrapy's own exits 0 after any crawl that started.
COMMANDS_MODULE = "crawler.commands"

# --- Politeness -------------------------------------------------------------------------------
#: How the publisher can reach whoever runs the crawler; goes into the User-Agent.
CRAWLER_CONTACT = os.environ.get(
    "CRAWLER_CONTACT", "https://github.com/news-archive-crawler (set CRAWLER_CONTACT)"
)
USER_AGENT = f"NewsArchiveCrawler/0.1 (+{CRAWLER_CONTACT})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Responses whose ``Retry-After`` (seconds or HTTP-date) is honoured: the retry waits that
#: long and the host is paused meanwhile (crawler.components.retry_after.RetryAfterMiddleware).
RETRY_AFTER_HTTP_CODES = [429, 503]
#: A longer ``Retry-After`` gives the request up at once (a counted HTTP error), not hammered.
RETRY_AFTER_MAX_SECONDS = 300
DOWNLOAD_TIMEOUT = 30
#: Pages above this size are not downloaded (a news page is well under 2 MB).
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# --- Pipelines -------------------------------------------------------------------------------
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.archive.MongoArchivePipeline": 300,
}
#: Zone for page times with no zone of their own, for a source the site registry does not
#: know (a known desk's own zone comes first; pipelines.normalize).
NORMALIZE_DEFAULT_TIMEZONE = "UTC"
#: Records missing any of these Article fields are dropped (pipelines.validate).
VALIDATE_REQUIRED_FIELDS = list(_items.REQUIRED_FIELDS)

# --- Archive ---------------------------------------------------------------------------------
#: MongoDB connection string. Unset: the embedded SecantusDB server under DATA_DIR is used
#: (started on first use, reused by every later process while it runs).
MONGO_URI = os.environ.get("MONGO_URI") or None
#: Database holding the ``articles`` and ``article_versions`` collections.
MONGO_DATABASE = os.environ.get("MONGO_DATABASE") or "news_archive"
#: Directory for the embedded server's data (``DATA_DIR/db``) and its state file.
DATA_DIR = os.environ.get("DATA_DIR") or "./data"
#: Seconds the embedded server stays up after its last client (CLI call, notebook, crawl)
#: leaves, so the next one finds it running instead of paying seconds to start it; 0 stops
#: it at once. The longest linger asked for wins (crawler.archive.server). Also the default
#: of the CLI and ``Archive.connect()``, which read the environment variable of this name.
EMBEDDED_SERVER_LINGER_SECONDS = os.environ.get("EMBEDDED_SERVER_LINGER_SECONDS") or 600.0
#: Archive writes are sent in unordered bulk writes of at most this many records ...
ARCHIVE_BATCH_SIZE = 200
#: ... or after this many seconds, whichever comes first, and at close.
ARCHIVE_FLUSH_SECONDS = 2.0

# --- Incremental crawling / page archive (issue 3) -------------------------------------------
#: Skip downloading articles already archived (crawler.components.incremental).
INCREMENTAL_ENABLED = True
#: Archived articles published less than this many hours ago are still re-fetched (0: never).
REFRESH_WITHIN_HOURS = 24
#: Stop paginating a listing after this many consecutive pages of archived articles (0: never).
STOP_AFTER_KNOWN_PAGES = 1
#: Article links that answered 404/410 within this many hours are not requested again.
INCREMENTAL_GONE_RECHECK_HOURS = 24
#: Keep each downloaded article page, gzip-compressed, in ``pages`` (components.page_archive).
PAGE_ARCHIVE_ENABLED = True
#: Pages per bulk write to ``pages``.
PAGE_ARCHIVE_BATCH_SIZE = 100
SPIDER_MIDDLEWARES = {
    "crawler.components.incremental.ArchiveAwareMiddleware": 950,
}
DOWNLOADER_MIDDLEWARES = {
    # After retries and decompression (lower numbers see responses later).
    "crawler.components.page_archive.PageArchiveMiddleware": 540,
    # Drop-in replacements for Scrapy's own, at their places (issue 7, points 6 and 9):
    # every request obeys robots.txt, honours Retry-After, and a redirect that leads nowhere
    # is a counted failure (crawler.components: robots, retry_after, redirects).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.components.robots.SharedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.components.retry_after.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.components.redirects.AccountedMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.components.redirects.AccountedRedirectMiddleware": 600,
    # Last before the download: a per-host slot shared by every worker (only with REDIS_URL).
    "crawler.components.frontier.host_slots.SharedHostSlots": 950,
}
#: JOBDIR resume that survives a killed crawl: after an unclean stop the crawl is rebuilt
#: from the archive instead of trusting requests.seen (crawler.components.jobdir, issue 7 point 3).
DUPEFILTER_CLASS = "crawler.components.jobdir.ResumableDupeFilter"
# --- end of issue 3 incremental / page archive block -----------------------------------------

# --- Scheduled runs, spool, monitors (issue 3) ------------------------------------------------
#: While the archive database is unreachable, records are spooled in ``DATA_DIR/spool`` and the
#: pipeline checks every this many seconds whether the database is back (then replays).
ARCHIVE_RETRY_SECONDS = 10.0
EXTENSIONS = {
    # Refuses conflicting settings before the crawl starts (crawler.components.settings_check).
    "crawler.components.settings_check.SettingsCheck": 0,
    "crawler.components.monitors.RunMonitors": 500,
    "crawler.components.stats_dump.StatsDump": 900,
}
#: Run the monitors (crawler.components.monitors) when the spider closes.
MONITORS_ENABLED = True
#: Least share of parsed article pages on which each field must be found.
MONITOR_MIN_COVERAGE = {
    "title": 0.99,
    "body": 0.99,
    "published_at": 0.99,
    "authors": 0.8,
    "image_url": 0.8,
}
#: Field coverage is judged only on runs that parsed at least this many article pages.
MONITOR_COVERAGE_MIN_PAGES = 3
#: Least share of requested article links that must end in an item, a drop or a counted skip.
MONITOR_MIN_ITEM_SHARE = 0.95
#: Least number of items a run must scrape (0: an incremental run may find nothing new).
MONITOR_MIN_ITEMS = 0
#: Most errors (``log_count/ERROR``) a healthy run logs.
MONITOR_MAX_ERRORS = 0
#: Least listing pages (feed, home page, sections) a run must fetch; 0 turns the check off.
MONITOR_MIN_LISTING_PAGES = 1
#: Spider callbacks that parse article pages: the requests the ``item_count`` monitor counts.
MONITOR_ARTICLE_CALLBACKS = ["parse_article"]
#: Shell command run when a monitor fails; the message is on stdin and in ``$ALERT_MESSAGE``.
ALERT_COMMAND = os.environ.get("ALERT_COMMAND") or None
#: Slack-compatible incoming webhook, POSTed ``{"text": message}`` when a monitor fails.
ALERT_WEBHOOK_URL = os.environ.get("ALERT_WEBHOOK_URL") or None
ALERT_TIMEOUT_SECONDS = 10.0
#: ``python -m crawler run``: logs go to ``LOG_DIR/<spider>/<UTC time>.log``; the newest
#: ``LOG_KEEP`` are kept.
LOG_DIR = os.environ.get("LOG_DIR") or "./logs"
LOG_KEEP = 48
#: A run that logged more errors than this exits non-zero.
RUN_MAX_ERRORS = 0
#: A run still going after this many seconds is stopped (SIGTERM, then SIGKILL) and failed.
RUN_TIMEOUT_SECONDS = 3300
#: Where a crawl hands its stats to the runner (crawler.components.stats_dump): a file, or a
#: pipe's inherited file descriptor (-1: none). Set by ``python -m crawler run``, not by hand.
STATS_DUMP_FILE = None
STATS_DUMP_FD = -1
# --- end of issue 3 scheduled runs block ------------------------------------------------------

# --- JavaScript rendering (scrapy-playwright, opt-in per request) ----------------------------
DOWNLOAD_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}
#: Browser binary; Playwright's own browser downloads are not used.
PLAYWRIGHT_CHROMIUM_EXECUTABLE = os.environ.get(
    "PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium"
)
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": PLAYWRIGHT_CHROMIUM_EXECUTABLE,
    "headless": True,
    "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
}
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4

# --- Several machines: the shared crawl frontier on Redis (issue 12) -------------------------
#: ``redis://host:6379/0``: every spider schedules through a queue and duplicate filter in Redis
#: that any number of workers share (crawler.components.frontier); unset, Scrapy's own
#: scheduler, and nothing of Redis is imported.
REDIS_URL = os.environ.get("REDIS_URL") or None
#: Seconds between a worker's heartbeats; a worker silent FRONTIER_WORKER_TIMEOUT_SECONDS is
#: taken for dead and the requests it had taken go back in the queue.
FRONTIER_HEARTBEAT_SECONDS = 1.0
FRONTIER_WORKER_TIMEOUT_SECONDS = 15.0
SCHEDULER = "crawler.components.frontier.scheduler.FrontierScheduler"

# --- Scrapy --------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

# --- Secret overrides from the cron runner (issue 7) ----------------------------------------
#: ``python -m crawler run`` hands secret-looking ``-s`` overrides (passwords, tokens) to the
#: crawl in this environment variable, a JSON object, not on its command line where ``ps``
#: shows them to every user (crawler.ops.runner). MONGO_URI and the alert hooks use their own.
globals().update(json.loads(os.environ.get("CRAWLER_SECRET_SETTINGS") or "{}"))
