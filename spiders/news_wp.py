"""The WordPress REST API half of :mod:`spiders.news`: posts, 100 a request, as records.

Split from the discovery walk it belongs to because it is the one method that makes records
itself: each post of ``wp/v2/posts?_embed=1`` is parsed by
:meth:`crawler.sites.generic.GenericSite.parse_wp_post`, and no article page is requested.
The requests are marked ``meta["wp_posts"]``: the page archive keeps each post's JSON under its
article's URL (:mod:`crawler.components.page_archive`), for ``reparse``.
See :mod:`spiders.news` for the method order, the incremental queries and the stats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from scrapy.http import Request, Response
from twisted.python.failure import Failure

from crawler import stats_keys
from crawler.discovery import wordpress
from crawler.discovery.entries import DiscoveryError
from crawler.discovery.methods import WP_API
from crawler.extract.layers import ParsedArticle
from crawler.extract.normalize import canonical_url
from crawler.items import Article
from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import PublisherConfig
from spiders.base import NewsSpider, response_text


class WordPressPosts(NewsSpider):
    """Reads the posts route; :class:`spiders.news.PublisherSpider` starts it and goes on
    to the next method (:meth:`after_method`) when the API is not there after all."""

    config: ClassVar[PublisherConfig]
    site: ClassVar[GenericSite]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The records' ``source``: the config's name, whatever the spider is called.
        self.source = self.config.name
        #: Ask only for posts changed after this (the newest change archived), if set.
        self.changed_after: datetime | None = None

    def after_method(self, method: str) -> Iterator[Request]:
        """Begin the method after ``method``, which found nothing (PublisherSpider)."""
        raise NotImplementedError

    def posts_request(self, api_root: str, page: int) -> Request:
        """Page ``page`` of the posts, at ``api_root`` as fetched (a mirror's, when crawling
        one), with the date filters of the run."""
        url = wordpress.posts_url(
            api_root,
            page=page,
            timezone=self.timezone,
            after=self.since,
            before=self.until,
            modified_after=self.changed_after,
        )
        return Request(
            url,
            callback=self.parse_posts,
            errback=self.posts_failed,
            cb_kwargs={"page": page, "api_root": api_root},
            meta={
                "listing": "wp-api",
                "listing_page": page,
                "discovery": WP_API,
                "wp_posts": True,  # the page archive keeps each post (components.page_archive)
            },
        )

    def posts_failed(self, failure: Failure) -> Iterator[Request]:
        self.request_failed(failure)
        request: Request = failure.request  # type: ignore[attr-defined]
        if request.cb_kwargs.get("page") == 1:
            yield from self.after_method(WP_API)

    def parse_posts(self, response: Response, page: int, api_root: str) -> Iterator[Any]:
        try:
            batch = wordpress.read_posts(self._live_json(response).encode())
        except DiscoveryError as error:
            self.count(stats_keys.discovery_bad_input(self.name, error.reason))
            self.logger.warning("Skipped %s: %s", response.url, error)
            if page == 1:
                yield from self.after_method(WP_API)
            return
        if page == 1:
            self.count(stats_keys.discovery_used(self.name, WP_API))
        self.count(stats_keys.discovery_count(self.name, WP_API, "pages"))
        self.count(stats_keys.discovery_count(self.name, WP_API, "entries"), len(batch.posts))
        if batch.malformed:
            self.count(stats_keys.item_errors(self.name, WP_API), batch.malformed)
        changed = 0
        for post in batch.posts:
            if self._unchanged(post):
                continue
            changed += 1
            yield from self._post_record(response, post)
        total = wordpress.total_pages(response.headers.get("X-WP-TotalPages"))
        if total is None or page >= total:
            return
        if page >= self.max_pages:
            self.logger.info("Not asking for API page %s: max_pages=%s", page + 1, self.max_pages)
        elif self.changed_after is not None and not changed:
            # The server ignored modified_after (WordPress before 5.7): older pages hold
            # nothing newer either, posts being newest first.
            self.logger.info("Stopping at API page %s: nothing changed", page)
        else:
            yield self.posts_request(api_root, page + 1)

    def _unchanged(self, post: dict[str, Any]) -> bool:
        """A post not changed since the newest change archived: counted as known."""
        if self.changed_after is None:
            return False
        entry = wordpress.post_entry(post, self.timezone)
        changed = entry.modified or entry.published if entry else None
        if changed is None or changed > self.changed_after:
            return False
        self.count(stats_keys.incremental("skipped_known"))
        return True

    def _post_record(self, response: Response, post: dict[str, Any]) -> Iterator[Article]:
        try:
            parsed = self.site.parse_wp_post(post)
        except Exception:
            # One post the parser cannot read costs that post, never the page.
            self.logger.warning("Skipped a post on %s", response.url, exc_info=True)
            self.count(stats_keys.item_errors(self.name, WP_API))
            return
        link = post.get("link")
        live_url = parsed.article.url or (canonical_url(link) if isinstance(link, str) else "")
        if not live_url:
            self.count(stats_keys.item_errors(self.name, WP_API))
            return
        yield from self.record(parsed, live_url)

    def record(self, parsed: ParsedArticle, live_url: str) -> Iterator[Article]:
        """What :meth:`NewsSpider.parse_article` does with a parsed page, for a parsed post:
        count fallbacks and problems, keep the date window, fill url/source/crawled_at."""
        for fallback in parsed.fallbacks:
            self.count(stats_keys.parser_fallback(fallback))
        for problem in parsed.problems:
            self.count(problem)
        article = parsed.article
        if self.outside_window(article.published_at):
            self.count_skip("outside_window", live_url)
            return
        article.url = article.url or live_url
        article.source = self.source
        article.crawled_at = datetime.now(UTC)
        yield article

    def parse_article(self, response: Response, live_url: str) -> Iterator[Article]:
        for article in super().parse_article(response, live_url):
            article.source = self.source  # the config's name, also for the ``news`` spider
            yield article

    def _live_json(self, response: Response) -> str:
        """The API page's text with a mirror's link rewriting undone, JSON's escaped
        slashes (``https:\\/\\/host``) included."""
        return wordpress.live_json(response_text(response), self.mirror_origin, self.live_origin)
