"""Scrapy settings for the news archive crawler.

Every project-specific setting is named and documented here; components read them once in
``from_crawler``. Any of them can be overridden with ``-s NAME=value`` or, for ``MONGO_URI``,
``DATA_DIR`` and ``CRAWLER_CONTACT``, with an environment variable of the same name.
"""

import os

BOT_NAME = "news_archive_crawler"

SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

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

# --- Archive ---------------------------------------------------------------------------------
#: MongoDB connection string. Unset: the embedded SecantusDB server under DATA_DIR is used
#: (started on first use, reused by every later process while it runs).
MONGO_URI = os.environ.get("MONGO_URI") or None
#: Database holding the ``articles`` and ``article_versions`` collections.
MONGO_DATABASE = os.environ.get("MONGO_DATABASE", "news_archive")
#: Directory for the embedded server's data (``DATA_DIR/db``) and its state file.
DATA_DIR = os.environ.get("DATA_DIR", "./data")
#: Archive writes are sent in unordered bulk writes of at most this many records ...
ARCHIVE_BATCH_SIZE = 200
#: ... or after this many seconds, whichever comes first, and at close.
ARCHIVE_FLUSH_SECONDS = 2.0

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

# --- Scrapy --------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
