"""Spider for ANTARA Kalteng (kalteng.antaranews.com): navigation only.

Articles come from the RSS feed, ``/terkini`` (following each page's own "next" link, in
whatever form) and the sections in the home page's nav menu; each article page goes to
:func:`crawler.sites.antara_kalteng.parse_article`. Skips (video/photo/infographic pages,
other hosts, missing pages) are counted as ``antara_kalteng/skipped/<reason>`` so a crawl
report shows why a link gave no article. A listing or feed item that breaks its callback costs
that item only (``antara_kalteng/listing/item_errors``, ``antara_kalteng/rss/item_errors``); a
listed date outside the plausible window (:mod:`crawler.extract.dates`) is taken as absent and
counted
(``dates/out_of_range/listing``, ``dates/out_of_range/rss``), as are the parser's discarded
values (``ParsedArticle.problems``, e.g. ``dates/out_of_range/published_at``).

Arguments (``-a name=value``):

``base_url``
    Crawl a mirror (e.g. ``http://127.0.0.1:8080``) instead of the live site. Requests go to
    the mirror; links to the live host are mapped onto it and back, so items keep the live
    canonical URL and the parser sees the page as the live site serves it.
``max_pages``
    Listing pages followed per section (default 50).
``since``
    ``YYYY-MM-DD`` (a day in WIB): skip listed items older than that day and stop paginating
    a listing once a page holds nothing newer.
``until``
    ``YYYY-MM-DD`` (a day in WIB, inclusive): skip listed items newer than that day but keep
    paginating, so older pages are reached. With ``since`` and/or ``until`` the crawl is a
    backfill: articles whose page date falls outside the window are not archived either, and
    the incremental middleware does not stop a listing at already-archived pages (it still
    skips downloading articles already archived; add ``refresh=1`` to re-fetch them too).
``refresh``
    ``1`` re-fetches every article even if archived, and walks listings past archived pages
    (see :mod:`crawler.components.incremental`).
``render_js``
    ``1`` renders listing pages in headless Chromium (scrapy-playwright); articles are not.

Requests are marked for the middlewares: article requests carry ``meta["article"]`` (and the
live URL in ``cb_kwargs["live_url"]``); listing requests carry ``meta["listing"]`` (a name
such as ``"terkini"``) and ``meta["listing_page"]``, and a next-page request also
``meta["pagination"]``. ``mirror_origin`` / ``live_origin`` let the page archive store pages as
the live site serves them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import scrapy
from parsel import Selector
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.components.drops import CountedDrop
from crawler.extract.dates import OUT_OF_RANGE, DateResult, parse_date_checked, plausible
from crawler.extract.decode import decode_html
from crawler.extract.normalize import canonical_url
from crawler.items import Article
from crawler.sites import antara_kalteng as site

DEFAULT_MAX_PAGES = 50


class AntaraKaltengSpider(scrapy.Spider):
    name = "antara_kalteng"

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
        self.since = _parse_since(since)
        self.until = _parse_until(until)
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"since ({since}) must not be after until ({until})")
        #: A date window was asked for: walk listings as deep as the window needs.
        self.backfill = self.since is not None or self.until is not None
        self.refresh = _parse_flag("refresh", refresh)
        self.live_origin = site.SITE_URL
        self.render_js = _parse_flag("render_js", render_js)
        hosts = [site.SITE_HOST]
        if self.mirror_origin:
            hosts.append(urlsplit(self.mirror_origin).hostname or "")
        self.allowed_domains = hosts
        self._skipped: set[tuple[str, str]] = set()

    # --- start -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        rss_url = self._fetch_url(site.SITE_URL + site.RSS_PATH)
        yield Request(
            rss_url,
            callback=self.parse_rss,
            errback=self.request_failed,
            meta={"listing": "rss", "listing_page": 1},
        )
        yield self._listing_request(site.SITE_URL + site.HOME_PATH, page=1)
        for path in site.LISTING_PATHS:
            yield self._listing_request(site.SITE_URL + path, page=1)

    # --- listings ----------------------------------------------------------------------------

    def parse_rss(self, response: Response) -> Iterator[Request]:
        """Articles in the feed; RSS ``<link>`` is text, which an HTML parser would lose."""
        feed = Selector(text=_text(response), type="xml")
        for item in feed.xpath("//item"):
            yield from self._guarded("rss", response, self._rss_item, response, item)

    def _rss_item(self, response: Response, item: Selector) -> Iterator[Request]:
        href = (item.xpath("link/text()").get() or "").strip()
        published = self._listed_date(_rss_date(item.xpath("pubDate/text()").get()), "rss")
        if not self._skipped_by_window(published, href):
            yield from self._follow_article(response, href)

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        """Articles on one listing page, the next page, and (on the home page) the sections.

        Each item is handled on its own (:meth:`_guarded`): one that breaks the code costs
        that item, never the rest of the page or the next page.
        """
        if not isinstance(response, TextResponse):
            return
        items = response.css(site.LISTING_ITEM)
        dates: list[datetime] = []
        for item in items:
            yield from self._guarded("listing", response, self._listing_item, response, item, dates)
        if not items:
            # A template without the known item markup: take every article link rather
            # than nothing, and say so in the stats.
            self.crawler.stats.inc_value("antara_kalteng/listing/no_items")
            for href in response.css("a[href*='/berita/']::attr(href)").getall():
                yield from self._guarded("listing", response, self._follow_article, response, href)
        if self._live_url(response, response.url) == site.SITE_URL + site.HOME_PATH:
            yield from self._guarded("listing", response, self._follow_sections, response)
        yield from self._guarded("listing", response, self._follow_next_page, response, page, dates)

    def _listing_item(
        self, response: TextResponse, item: Selector, dates: list[datetime]
    ) -> Iterator[Request]:
        shown = " ".join(item.css(site.ITEM_DATE).getall())
        published = self._listed_date(parse_date_checked(shown), "listing")
        href = item.css(site.ITEM_LINK).get()
        if published is not None:
            dates.append(published)
        if not self._skipped_by_window(published, href or "") and href:
            yield from self._follow_article(response, href)

    def _guarded(
        self,
        kind: str,
        response: Response,
        handle: Callable[..., Iterator[Request]],
        *args: Any,
    ) -> Iterator[Request]:
        """``handle(*args)``'s requests; if it raises, none of them, and the error is logged
        and counted (``antara_kalteng/<kind>/item_errors``) instead of ending the page."""
        try:
            requests = list(handle(*args))
        except Exception:
            # Hostile input (a link that is no URL), not a crawl failure: counted, not an error.
            self.logger.warning("Skipped a %s item on %s", kind, response.url, exc_info=True)
            self.crawler.stats.inc_value(f"antara_kalteng/{kind}/item_errors")
            return
        yield from requests

    def _listed_date(self, result: DateResult, where: str) -> datetime | None:
        """A listing's date, or None; an implausible one is counted
        (``dates/out_of_range/<where>``) and treated as absent, so the item is still followed."""
        if result.problem == OUT_OF_RANGE:
            self.crawler.stats.inc_value(f"dates/out_of_range/{where}")
        return result.value

    def _skipped_by_window(self, published: datetime | None, href: str) -> bool:
        if self._older_than_since(published):
            self._count_skip("older_than_since", href)
            return True
        if self._newer_than_until(published):
            self._count_skip("newer_than_until", href)
            return True
        return False

    def _follow_next_page(
        self, response: TextResponse, page: int, dates: list[datetime]
    ) -> Iterator[Request]:
        href = response.css(site.NEXT_PAGE).get()
        if not href:
            return
        if page >= self.max_pages:
            self.logger.info("Not following %s: max_pages=%s reached", href, self.max_pages)
            return
        if self.since and dates and all(d < self.since for d in dates):
            self.logger.info("Stopping at %s: every item is older than since", response.url)
            return
        live = self._live_url(response, href)
        if urlsplit(live).hostname == site.SITE_HOST:
            yield self._listing_request(live, page=page + 1, pagination=True)

    def _follow_sections(self, response: TextResponse) -> Iterator[Request]:
        for href in response.css(site.NAV_LINK).getall():
            live = self._live_url(response, href)
            parts = urlsplit(live)
            if parts.hostname == site.SITE_HOST and site.SECTION_PATH.match(parts.path):
                yield self._listing_request(live, page=1)

    def _follow_article(self, response: Response, href: str) -> Iterator[Request]:
        """A request for ``href`` if it is one of this site's articles, else a counted skip."""
        live = self._live_url(response, href)
        parts = urlsplit(live)
        if parts.hostname != site.SITE_HOST:
            self._count_skip("offsite", live)
            return
        first_segment = parts.path.strip("/").split("/")[0]
        if first_segment in site.NOT_ARTICLES:
            self._count_skip(site.NOT_ARTICLES[first_segment], live)
            return
        if not site.ARTICLE_PATH.match(parts.path):
            self._count_skip("not_article", live)
            return
        yield Request(
            self._fetch_url(live),
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"live_url": live},
            meta={"article": True},
        )

    def _listing_request(self, live_url: str, *, page: int, pagination: bool = False) -> Request:
        meta: dict[str, Any] = {"listing": _listing_name(live_url), "listing_page": page}
        if pagination:
            meta["pagination"] = True
        if self.render_js:
            meta["playwright"] = True
        return Request(
            self._fetch_url(live_url),
            callback=self.parse_listing,
            errback=self.request_failed,
            cb_kwargs={"page": page},
            meta=meta,
        )

    # --- articles ----------------------------------------------------------------------------

    def parse_article(self, response: Response, live_url: str) -> Iterator[Article]:
        """Parse one article page; a parser failure costs one article, never the crawl."""
        html = _text(response)
        if self.mirror_origin:
            # Undo the mirror's link rewriting so the parser sees the live page.
            html = html.replace(self.mirror_origin, site.SITE_URL)
        try:
            parsed = site.parse_article(html, live_url)
        except Exception:
            self.logger.exception("Parser failed on %s", live_url)
            self.crawler.stats.inc_value("antara_kalteng/parse_errors")
            return
        for fallback in parsed.fallbacks:
            self.crawler.stats.inc_value(f"parser/fallback/{fallback}")
        for problem in parsed.problems:
            self.crawler.stats.inc_value(problem)
        article = parsed.article
        if self._outside_window(article.published_at):
            # A backfill archives its window only, whatever date the listing showed.
            self._count_skip("outside_window", live_url)
            return
        article.url = article.url or live_url
        article.source = article.source or self.name
        article.crawled_at = datetime.now(UTC)
        yield article

    def request_failed(self, failure: Failure) -> None:
        """Count a page that could not be had: HTTP errors as skips, the rest as errors."""
        request: Request = failure.request  # type: ignore[attr-defined]
        stats = self.crawler.stats
        if isinstance(failure.value, CountedDrop):
            return  # counted and logged by the middleware that dropped it (components.drops)
        if isinstance(failure.value, HttpError):
            status = failure.value.response.status
            if request.callback == self.parse_article:
                self._count_skip(f"http_{status}", request.url)
            else:
                stats.inc_value(f"antara_kalteng/listing_errors/http_{status}")
            self.logger.warning("HTTP %s for %s", status, request.url)
            return
        stats.inc_value(f"antara_kalteng/download_errors/{type(failure.value).__name__}")
        self.logger.warning("Could not fetch %s: %s", request.url, failure.getErrorMessage())

    # --- helpers -----------------------------------------------------------------------------

    def _live_url(self, response: Response, href: str) -> str:
        """The canonical live-site URL of a link found on ``response``."""
        absolute = urljoin(response.url, href.strip())
        if self.mirror_origin:
            parts = urlsplit(absolute)
            if f"{parts.scheme}://{parts.netloc}" == self.mirror_origin:
                absolute = urlunsplit(("https", site.SITE_HOST, *parts[2:]))
        return canonical_url(absolute)

    def _fetch_url(self, live_url: str) -> str:
        if self.mirror_origin and live_url.startswith(site.SITE_URL):
            return self.mirror_origin + live_url[len(site.SITE_URL) :]
        return live_url

    def _older_than_since(self, published: datetime | None) -> bool:
        return self.since is not None and published is not None and published < self.since

    def _newer_than_until(self, published: datetime | None) -> bool:
        return self.until is not None and published is not None and published >= self.until

    def _outside_window(self, published: datetime | None) -> bool:
        return self._older_than_since(published) or self._newer_than_until(published)

    def _count_skip(self, reason: str, url: str) -> None:
        """Count each skipped URL once per reason, however many listings link to it."""
        if (reason, url) not in self._skipped:
            self._skipped.add((reason, url))
            self.crawler.stats.inc_value(f"antara_kalteng/skipped/{reason}")


def _text(response: Response) -> str:
    """The page text, read by the decoder the page archive and re-parsing share
    (:func:`crawler.extract.decode.decode_html`): the encoding that yields valid text, whatever the
    server declared."""
    declared = response.encoding if isinstance(response, TextResponse) else None
    return decode_html(response.body, declared)


def _rss_date(text: str | None) -> DateResult:
    """RSS dates are RFC 822 ("Tue, 27 Jan 2026 12:45:00 +0700"); anything else is guessed."""
    try:
        return plausible(parsedate_to_datetime(text or ""), default_tz=site.TIMEZONE)
    except (TypeError, ValueError):
        return parse_date_checked(text, default_tz=site.TIMEZONE)


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


def _parse_since(value: str | date | None, name: str = "since") -> datetime | None:
    """Midnight WIB of the given day, in UTC."""
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
    local_midnight = datetime.combine(value, time(0), tzinfo=ZoneInfo(site.TIMEZONE))
    return local_midnight.astimezone(UTC)


def _parse_until(value: str | date | None) -> datetime | None:
    """The end of the given day (next midnight WIB, exclusive), in UTC."""
    midnight = _parse_since(value, name="until")
    return None if midnight is None else midnight + timedelta(days=1)


def _listing_name(live_url: str) -> str:
    """A listing's name for stats and the incremental middleware: its first path segment."""
    return urlsplit(live_url).path.strip("/").split("/")[0] or "home"


def _parse_flag(name: str, value: bool | str) -> bool:
    text = str(value).strip().lower()
    if text not in {"1", "0", "true", "false", ""}:
        raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    return text in {"1", "true"}
