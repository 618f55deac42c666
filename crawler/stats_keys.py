"""The stats keys spiders and components write and monitors, run records and the CLI read.

One place for every key that crosses a module boundary, so a writer and its readers cannot
drift apart (a renamed key would otherwise turn a monitor silently green). Keys are
slash-namespaced as Scrapy's own (``item_dropped_reasons_count/<reason>``). Keys that carry a
spider's name are functions of it; a spider counts under its own name, so one process running
many desks keeps their counts apart.

Ground floor: imports nothing from the ``crawler`` sub-packages.

Per spider (``<spider>/...``):

``<spider>/skipped/<reason>``           a link not followed (non-article, other host, ``http_404``)
``<spider>/download_errors/<kind>``     a page that could not be had (exception class name,
                                        ``redirect_loop``, ``redirect_offsite``)
``<spider>/listing_errors/http_<n>``    a listing page that answered with an error status
``<spider>/dropped/<reason>``           a request dropped on purpose (``robots_forbidden``,
                                        ``redirect_to_seen``)
``<spider>/parse_errors``               an article page the parser raised on
``<spider>/<kind>/item_errors``         one listing/RSS entry that could not be read
``<spider>/listing/no_items``           a listing page whose item markup yielded no link
``<spider>/listing/fallback_links``     article links found on such pages by URL pattern
``<spider>/listing/no_links/<listing>`` a listing page with no article link at all
``<spider>/discovery/...``              how a site without a spider was crawled (used method,
                                        pages and entries per method, absent paths, bad input)
"""

from __future__ import annotations

from typing import Final

# --- Scrapy's own keys (read by monitors and run records) ---------------------------------
FINISH_REASON: Final = "finish_reason"
LOG_ERRORS: Final = "log_count/ERROR"
ITEM_SCRAPED: Final = "item_scraped_count"
ITEM_DROPPED: Final = "item_dropped_count"
ITEM_DROPPED_REASONS_PREFIX: Final = "item_dropped_reasons_count/"
REQUEST_COUNT: Final = "downloader/request_count"
SCHEDULER_ENQUEUED: Final = "scheduler/enqueued"
SCHEDULER_DEQUEUED: Final = "scheduler/dequeued"


def item_dropped_reason(reason: str) -> str:
    """Scrapy's per-reason drop count, also written by our pipelines for their own drops."""
    return f"{ITEM_DROPPED_REASONS_PREFIX}{reason}"


# --- Per spider --------------------------------------------------------------------------
SKIPPED: Final = "skipped"
DOWNLOAD_ERRORS: Final = "download_errors"
LISTING_ERRORS: Final = "listing_errors"
DROPPED: Final = "dropped"


def spider_prefix(spider: str, group: str) -> str:
    """``<spider>/<group>/``: the prefix a reader sums (``skipped``, ``download_errors``...)."""
    return f"{spider}/{group}/"


def skipped(spider: str, reason: str) -> str:
    return f"{spider}/{SKIPPED}/{reason}"


def download_error(spider: str, kind: str) -> str:
    return f"{spider}/{DOWNLOAD_ERRORS}/{kind}"


def listing_error(spider: str, status: int) -> str:
    return f"{spider}/{LISTING_ERRORS}/http_{status}"


def dropped(spider: str, reason: str) -> str:
    return f"{spider}/{DROPPED}/{reason}"


def parse_errors(spider: str) -> str:
    return f"{spider}/parse_errors"


def item_errors(spider: str, kind: str) -> str:
    """One entry of a listing (``kind="listing"``) or feed (``kind="rss"``) that failed."""
    return f"{spider}/{kind}/item_errors"


def listing_no_items(spider: str) -> str:
    return f"{spider}/listing/no_items"


def listing_fallback_links(spider: str) -> str:
    """Article links a listing page's item markup missed and its URL pattern found."""
    return f"{spider}/listing/fallback_links"


LISTING_NO_LINKS_GROUP: Final = "listing/no_links"


def listing_no_links(spider: str, listing: str) -> str:
    """A page of listing ``listing`` (``terkini``, ``home``...) with no article link at all."""
    return f"{spider}/{LISTING_NO_LINKS_GROUP}/{listing}"


# --- Discovery (spiders.news: sites without a spider of their own) --------------------------
DISCOVERY: Final = "discovery"


def discovery_used(spider: str, method: str) -> str:
    """``<spider>/discovery/used/<method>``: 1 for each method (``wp_api``, ``sitemap``,
    ``feed``, ``listing``) that found the run's articles."""
    return f"{spider}/{DISCOVERY}/used/{method}"


def discovery_count(spider: str, method: str, what: str) -> str:
    """``<spider>/discovery/<method>/<what>``: ``pages`` read, ``entries`` found."""
    return f"{spider}/{DISCOVERY}/{method}/{what}"


def discovery_absent(spider: str, what: str) -> str:
    """``<spider>/discovery/absent/<what>``: a path probed that the site does not have."""
    return f"{spider}/{DISCOVERY}/absent/{what}"


def discovery_bad_input(spider: str, reason: str) -> str:
    """``<spider>/discovery/bad_input/<reason>``: broken API JSON, a page that is no sitemap."""
    return f"{spider}/{DISCOVERY}/bad_input/{reason}"


def discovery_nothing_found(spider: str) -> str:
    return f"{spider}/{DISCOVERY}/nothing_found"


#: A skip reason for an article link that answered with an HTTP error: ``http_<status>``.
HTTP_SKIP_PREFIX: Final = "http_"

# --- Parsing and normalising ---------------------------------------------------------------
DATES_OUT_OF_RANGE_PREFIX: Final = "dates/out_of_range/"


def date_out_of_range(where: str) -> str:
    """A date discarded as implausible: ``where`` is a field or ``listing``/``rss``."""
    return f"{DATES_OUT_OF_RANGE_PREFIX}{where}"


def parser_fallback(layer: str) -> str:
    return f"parser/fallback/{layer}"


def parser_discarded(what: str) -> str:
    """A value a parser found and threw away (``generic_body_navigation``)."""
    return f"parser/discarded/{what}"


NORMALIZE_ITEMS: Final = "normalize/items"
NORMALIZE_ERRORS: Final = "normalize/errors"

# --- Archive (records) ---------------------------------------------------------------------
ARCHIVE_PREFIX: Final = "archive/"
ARCHIVE_INSERTED: Final = "archive/inserted"
ARCHIVE_UPDATED: Final = "archive/updated"
ARCHIVE_UNCHANGED: Final = "archive/unchanged"
ARCHIVE_DUPLICATES: Final = "archive/duplicates"
ARCHIVE_ERRORS: Final = "archive/errors"
ARCHIVE_BATCHES: Final = "archive/batches"
ARCHIVE_SANITIZED: Final = "archive/sanitized_records"
#: Records the archive pipeline took (``received``) and wrote, spooled or lost (``settled``):
#: the shared frontier acknowledges a request only once every record taken before its
#: callback ended is settled (crawler.components.frontier).
ARCHIVE_RECEIVED: Final = "archive/received"
ARCHIVE_SETTLED: Final = "archive/settled"


def archive_count(name: str) -> str:
    """``archive/<name>`` for a field of the store's write result (inserted, updated...)."""
    return f"{ARCHIVE_PREFIX}{name}"


# --- Spool (records waiting for the database) ----------------------------------------------
SPOOL_WRITTEN: Final = "spool/written"
SPOOL_LOST: Final = "spool/lost_records"
SPOOL_REPLAYED: Final = "spool/replayed"
SPOOL_CORRUPT_LINES: Final = "spool/corrupt_lines"
SPOOL_UNREJECTED_LINES: Final = "spool/unrejected_lines"
SPOOL_REPLAY_FAILED_FILES: Final = "spool/replay_failed_files"


def spool_replay(name: str) -> str:
    """``spool/replay/<name>``: the archive's write result for replayed records."""
    return f"spool/replay/{name}"


# --- Raw page archive -----------------------------------------------------------------------
PAGES_PREFIX: Final = "pages/"
PAGES_BATCHES: Final = "pages/batches"
PAGES_SPOOLED: Final = "pages/spooled"
PAGES_LOST: Final = "pages/lost"
PAGES_ERRORS: Final = "pages/errors"
PAGES_REPLAYED: Final = "pages/replayed"
PAGES_CORRUPT_LINES: Final = "pages/corrupt_lines"
PAGES_REPLAY_FAILED_FILES: Final = "pages/replay_failed_files"
#: Posts of the WordPress REST API kept as pages of their own (``format`` ``wp-post``).
PAGES_WP_POSTS: Final = "pages/wp_posts"


def pages_count(name: str) -> str:
    """``pages/<name>`` for a field of the page store's write result."""
    return f"{PAGES_PREFIX}{name}"


def pages_replay(name: str) -> str:
    """``pages/replay/<name>``: stored, superseded, errors."""
    return f"pages/replay/{name}"


#: Lost data: non-zero makes ``crawl`` exit with its data-lost status.
LOSS_KEYS: Final = (SPOOL_LOST, PAGES_LOST)

# --- Incremental crawling --------------------------------------------------------------------


def incremental(reason: str) -> str:
    """``incremental/<reason>``: skipped_known, skipped_gone, refreshed."""
    return f"incremental/{reason}"


INCREMENTAL_STOPPED_LISTINGS: Final = "incremental/stopped_listings"
INCREMENTAL_DB_UNAVAILABLE: Final = "incremental/db_unavailable"
INCREMENTAL_LOOKUPS: Final = "incremental/lookups"

# --- Retry-After ------------------------------------------------------------------------------
RETRY_AFTER_DELAYED: Final = "retry_after/delayed"
RETRY_AFTER_GAVE_UP: Final = "retry_after/gave_up"
RETRY_AFTER_MAX_SECONDS: Final = "retry_after/max_seconds"

# --- JOBDIR -----------------------------------------------------------------------------------
JOBDIR_UNCLEAN_RESUME: Final = "jobdir/unclean_resume"
JOBDIR_DISCARDED_FINGERPRINTS: Final = "jobdir/discarded_fingerprints"

# --- Monitors ---------------------------------------------------------------------------------
MONITORS_PREFIX: Final = "monitors/"
MONITORS_PASSED: Final = "monitors/passed"
MONITORS_FAILED: Final = "monitors/failed"
MONITORS_ARTICLE_LINKS: Final = "monitors/article_links"
MONITORS_PAGES: Final = "monitors/pages"
MONITORS_LISTING_PAGES: Final = "monitors/listing_pages"
MONITORS_ALERTED: Final = "monitors/alerted"
_FAILED_SUFFIX: Final = "/failed"


def monitor_failed(name: str) -> str:
    """``monitors/<name>/failed``: 1 if the monitor failed, else 0."""
    return f"{MONITORS_PREFIX}{name}{_FAILED_SUFFIX}"


def monitor_message(name: str) -> str:
    return f"{MONITORS_PREFIX}{name}/message"


def monitor_alert(hook: str) -> str:
    return f"{MONITORS_PREFIX}alert/{hook}"


def monitor_name(key: str) -> str | None:
    """The monitor a ``monitors/<name>/failed`` key is about; None for any other key (also
    for the ``monitors/failed`` total)."""
    if not (key.startswith(MONITORS_PREFIX) and key.endswith(_FAILED_SUFFIX)):
        return None
    name = key[len(MONITORS_PREFIX) : -len(_FAILED_SUFFIX)]
    return name or None


# --- The shared crawl frontier on Redis (crawler.components.frontier, issue 12) ---------------
FRONTIER_ENQUEUED: Final = "frontier/enqueued"
FRONTIER_DUPLICATES: Final = "frontier/duplicates"
FRONTIER_DEQUEUED: Final = "frontier/dequeued"
#: Requests kept in the worker's own memory (``WORKER_OWN_META``), fetched by it alone.
FRONTIER_OWN: Final = "frontier/own"
FRONTIER_ACKED: Final = "frontier/acked"
#: Requests a dead worker had taken, put back in the queue by this worker.
FRONTIER_REQUEUED: Final = "frontier/requeued"
#: Redis calls that failed (the call is retried; pushes wait in memory meanwhile).
FRONTIER_REDIS_ERRORS: Final = "frontier/redis_errors"
#: Milliseconds requests waited for a free per-host slot shared by every worker (summed).
FRONTIER_SLOT_WAIT_MS: Final = "frontier/host_slot_wait_ms"
