"""NewsSpider: what every news spider needs, whatever site it walks.

A subclass sets ``name``, ``live_origin`` (``https://host``), ``timezone`` (IANA, the zone of
the site's pages) and ``parser`` (an object with ``parse_article(html, url)``), and does the
navigation; this class owns the rest:

- the arguments (``-a name=value``) below, checked when the spider is built;
- the date window, in the site's own zone;
- the mirror↔live mapping: requests go to the mirror, links found on it are mapped back to
  the live site, so records keep live canonical URLs and the parser sees the live page
  (``mirror_origin`` / ``live_origin`` let the page archive store pages as the live site
  serves them);
- counting under the spider's own name (:mod:`crawler.stats_keys`): skips
  (``<spider>/skipped/<reason>``, each URL once per reason), listing or feed items that broke
  (``<spider>/<kind>/item_errors``), failed requests (:meth:`request_failed`), parser errors;
- :meth:`parse_article`: decode, parse, count fallbacks and problems, keep the window.

Arguments:

``base_url``
    Crawl a mirror (e.g. ``http://127.0.0.1:8080``) instead of the live site.
``max_pages``
    Listing pages followed per section (default 50).
``since``
    ``YYYY-MM-DD`` (a day in the site's zone): skip listed items older than that day and stop
    paginating a listing once a page holds nothing newer.
``until``
    ``YYYY-MM-DD`` (a day in the site's zone, inclusive): skip listed items newer than that day
    but keep paginating, so older pages are reached. With ``since`` and/or ``until`` the crawl
    is a backfill: articles whose page date falls outside the window are not archived either,
    and the incremental middleware does not stop a listing at already-archived pages (it
    still skips downloading articles already archived; add ``refresh=1`` to re-fetch them).
``refresh``
    ``1`` re-fetches every article even if archived, and walks listings past archived pages
    (see :mod:`crawler.components.incremental`).
``render_js``
    ``1`` renders listing pages in headless Chromium (scrapy-playwright); articles are not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import stats_keys
from crawler.components.drops import CountedDrop
from crawler.extract.dates import OUT_OF_RANGE, DateResult, parse_date_checked, plausible
from crawler.extract.decode import decode_html
from crawler.extract.layers import ParsedArticle
from crawler.extract.normalize import canonical_url
from crawler.items import Article

DEFAULT_MAX_PAGES = 50


class ArticleParser(Protocol):
    def parse_article(self, html: str, url: str) -> ParsedArticle: ...


class NewsSpider(scrapy.Spider):
    """The base of every news spider (see the module docstring)."""

    #: The live site, ``https://host``.
    live_origin: ClassVar[str]
    #: IANA zone of the site's pages: date windows and zone-less dates are read in it.
    timezone: ClassVar[str]
    parser: ClassVar[ArticleParser]

    def __init__(
        self,
        *args: Any,
        base_url: str | None = None,
        max_pages: int | str = DEFAULT_MAX_PAGES,
        since: str | date | None = None,
        until: str | date | None = None,
        refresh: bool | str = False,
        render_js: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mirror_origin = _parse_base_url(base_url)
        self.max_pages = _parse_max_pages(max_pages)
        self.since = _parse_since(since, self.timezone)
        self.until = _parse_until(until, self.timezone)
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"since ({since}) must not be after until ({until})")
        #: A date window was asked for: walk listings as deep as the window needs.
        self.backfill = self.since is not None or self.until is not None
        self.refresh = _parse_flag("refresh", refresh)
        self.render_js = _parse_flag("render_js", render_js)
        self.live_host = urlsplit(self.live_origin).hostname or ""
        hosts = [self.live_host]
        if self.mirror_origin:
            hosts.append(urlsplit(self.mirror_origin).hostname or "")
        self.allowed_domains = hosts
        self._skipped: set[tuple[str, str]] = set()

    # --- articles ----------------------------------------------------------------------------

    def parse_article(self, response: Response, live_url: str) -> Iterator[Article]:
        """Parse one article page; a parser failure costs one article, never the crawl."""
        html = response_text(response)
        if self.mirror_origin:
            # Undo the mirror's link rewriting so the parser sees the live page.
            html = html.replace(self.mirror_origin, self.live_origin)
        try:
            parsed = self.parser.parse_article(html, live_url)
        except Exception:
            self.logger.exception("Parser failed on %s", live_url)
            self.count(stats_keys.parse_errors(self.name))
            return
        for fallback in parsed.fallbacks:
            self.count(stats_keys.parser_fallback(fallback))
        for problem in parsed.problems:
            self.count(problem)
        article = parsed.article
        if self.outside_window(article.published_at):
            # A backfill archives its window only, whatever date the listing showed.
            self.count_skip("outside_window", live_url)
            return
        article.url = article.url or live_url
        article.source = article.source or self.name
        article.crawled_at = datetime.now(UTC)
        yield article

    def request_failed(self, failure: Failure) -> None:
        """Count a page that could not be had: HTTP errors as skips, the rest as errors."""
        request: Request = failure.request  # type: ignore[attr-defined]
        if isinstance(failure.value, CountedDrop):
            return  # counted and logged by the middleware that dropped it (components.drops)
        if isinstance(failure.value, HttpError):
            status = failure.value.response.status
            if request.callback == self.parse_article:
                self.count_skip(f"{stats_keys.HTTP_SKIP_PREFIX}{status}", request.url)
            else:
                self.count(stats_keys.listing_error(self.name, status))
            self.logger.warning("HTTP %s for %s", status, request.url)
            return
        self.count(stats_keys.download_error(self.name, type(failure.value).__name__))
        self.logger.warning("Could not fetch %s: %s", request.url, failure.getErrorMessage())

    # --- counting ----------------------------------------------------------------------------

    def count(self, key: str, by: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, by)

    def count_skip(self, reason: str, url: str) -> None:
        """Count each skipped URL once per reason, however many listings link to it."""
        if (reason, url) not in self._skipped:
            self._skipped.add((reason, url))
            self.count(stats_keys.skipped(self.name, reason))

    def guarded(
        self,
        kind: str,
        response: Response,
        handle: Callable[..., Iterator[Request]],
        *args: Any,
    ) -> Iterator[Request]:
        """``handle(*args)``'s requests; if it raises, none of them, and the error is logged
        and counted (``<spider>/<kind>/item_errors``) instead of ending the page."""
        try:
            requests = list(handle(*args))
        except Exception:
            # Hostile input (a link that is no URL), not a crawl failure: counted, not an error.
            self.logger.warning("Skipped a %s item on %s", kind, response.url, exc_info=True)
            self.count(stats_keys.item_errors(self.name, kind))
            return
        yield from requests

    def listed_date(self, result: DateResult, where: str) -> datetime | None:
        """A listing's date, or None; an implausible one is counted
        (``dates/out_of_range/<where>``) and treated as absent, so the item is still followed."""
        if result.problem == OUT_OF_RANGE:
            self.count(stats_keys.date_out_of_range(where))
        return result.value

    # --- date window -------------------------------------------------------------------------

    def skipped_by_window(self, published: datetime | None, href: str) -> bool:
        if self.older_than_since(published):
            self.count_skip("older_than_since", href)
            return True
        if self.newer_than_until(published):
            self.count_skip("newer_than_until", href)
            return True
        return False

    def older_than_since(self, published: datetime | None) -> bool:
        return self.since is not None and published is not None and published < self.since

    def newer_than_until(self, published: datetime | None) -> bool:
        return self.until is not None and published is not None and published >= self.until

    def outside_window(self, published: datetime | None) -> bool:
        return self.older_than_since(published) or self.newer_than_until(published)

    # --- mirror <-> live ---------------------------------------------------------------------

    def live_url(self, response: Response, href: str) -> str:
        """The canonical live-site URL of a link found on ``response``."""
        absolute = urljoin(response.url, href.strip())
        if self.mirror_origin:
            parts = urlsplit(absolute)
            if f"{parts.scheme}://{parts.netloc}" == self.mirror_origin:
                absolute = urlunsplit(("https", self.live_host, *parts[2:]))
        return canonical_url(absolute)

    def fetch_url(self, live_url: str) -> str:
        """Where to request a live URL: on the mirror when crawling one."""
        if self.mirror_origin and live_url.startswith(self.live_origin):
            return self.mirror_origin + live_url[len(self.live_origin) :]
        return live_url

    def is_live_host(self, url: str) -> bool:
        return urlsplit(url).hostname == self.live_host

    def rss_date(self, text: str | None) -> DateResult:
        return rss_date(text, default_tz=self.timezone)


def response_text(response: Response) -> str:
    """The page text, read by the decoder the page archive and re-parsing share
    (:func:`crawler.extract.decode.decode_html`): the encoding that yields valid text, whatever
    the server declared."""
    declared = response.encoding if isinstance(response, TextResponse) else None
    return decode_html(response.body, declared)


def rss_date(text: str | None, default_tz: str = "UTC") -> DateResult:
    """RSS dates are RFC 822 ("Tue, 27 Jan 2026 12:45:00 +0700"); anything else is guessed,
    a time without a zone read in ``default_tz``."""
    try:
        return plausible(parsedate_to_datetime(text or ""), default_tz=default_tz)
    except (TypeError, ValueError):
        return parse_date_checked(text, default_tz=default_tz)


def listing_name(live_url: str) -> str:
    """A listing's name for stats and the incremental middleware: its first path segment."""
    return urlsplit(live_url).path.strip("/").split("/")[0] or "home"


def _parse_base_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise ValueError(f"base_url must look like http://host[:port], got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _parse_max_pages(value: int | str) -> int:
    pages = int(value) if str(value).strip().isdigit() else 0
    if pages < 1:
        raise ValueError(f"max_pages must be a positive integer, got {value!r}")
    return pages


def _parse_since(value: str | date | None, timezone: str, name: str = "since") -> datetime | None:
    """Midnight of the given day in ``timezone``, in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None
    local_midnight = datetime.combine(value, time(0), tzinfo=ZoneInfo(timezone))
    return local_midnight.astimezone(UTC)


def _parse_until(value: str | date | None, timezone: str) -> datetime | None:
    """The end of the given day (next local midnight, exclusive), in UTC."""
    midnight = _parse_since(value, timezone, name="until")
    return None if midnight is None else midnight + timedelta(days=1)


def _parse_flag(name: str, value: bool | str) -> bool:
    text = str(value).strip().lower()
    if text not in {"1", "0", "true", "false", ""}:
        raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    return text in {"1", "true"}
