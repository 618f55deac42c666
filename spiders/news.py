"""Spiders for any publisher: ``news`` (zero config) and one per shipped config (``tabengan``).

``scrapy crawl news -a url=https://publisher.example/`` crawls a site nobody described: its
config is :func:`crawler.sites.publisher_config.zero_config` (``source`` named after the host,
no region, times printed without a zone read in WIB, ``ZERO_CONFIG_TIMEZONE``; ``-a
timezone=Asia/Makassar`` names another IANA zone). Every config in
``crawler/sites/publishers/*.toml`` becomes a spider of its own name, built below like the
ANTARA desks' (:mod:`spiders.antara`). All take the arguments of :mod:`spiders.base`
(``base_url``, ``since``, ``until``, ``refresh``, ``max_pages``).

Navigation only; what to read and how is :mod:`crawler.discovery`, the records are
:class:`crawler.sites.generic.GenericSite`'s. The methods are tried in the order of
:func:`crawler.discovery.methods.planned_methods`, each when the one before found nothing:

1. ``wp_api``: the home page's ``<link rel="https://api.w.org/">`` (or ``Link`` header), else
   ``/wp-json/``; then ``wp/v2/posts`` 100 at a time, newest first, page after page (the next
   is asked for once a page has arrived, so an incremental run stops early). Each post is a
   record (``GenericSite.parse_wp_post``); no article page is downloaded: the raw page archive
   keeps each post's JSON under its article's URL instead (``format`` ``wp-post``), and
   ``reparse`` rebuilds the record from it. Incremental: ``modified_after=`` the newest
   ``modified_at``/``published_at`` archived for the source
   (:meth:`ArchiveAwareMiddleware.newest_change`), and posts not changed since are skipped
   even if the server ignores the filter; ``since``/``until`` become ``after=``/``before=``.
   Used once page 1 is a JSON list, even an empty one (nothing new).
2. ``sitemap``: robots.txt's ``Sitemap:`` lines and the config's sitemaps, else
   ``/sitemap.xml``, ``/sitemap_index.xml``, ``/news-sitemap.xml`` one after the other;
   indexes are followed (up to ``max_pages`` sitemaps per index).
3. ``feed``: the config's feeds and those the home page links, else ``/feed/``, then ``/rss``.
4. ``listing``: the home page and the config's listings, following each one's next page up
   to ``max_pages``.

A config's ``wp_api = false`` leaves the API out, ``wp_api = true`` uses nothing else; its
``sitemaps``, ``feeds`` and ``listings`` are added to what each method finds. What probing
costs on a site with none of the first three: the home page twice (first for the API and feed
links, then as a listing), robots.txt twice (the robots middleware's copy is not reachable
from a spider), ``/wp-json/``, the three sitemap paths and the two feed paths, each once.

Links from sitemaps, feeds and listings are followed when ``GenericSite.is_article_url``
accepts them (else ``<spider>/skipped/not_article``), as article requests the incremental
middleware checks against the archive; robots.txt, politeness and retries are the project's
middlewares'. Stats (:mod:`crawler.stats_keys`): ``<spider>/discovery/used/<method>`` (1 for
the method that found the articles), ``<spider>/discovery/<method>/pages`` and ``/entries``,
``<spider>/discovery/absent/<what>`` (a path probed that is not there),
``<spider>/discovery/bad_input/<reason>`` (broken JSON, a page that is no sitemap or feed:
logged and skipped), ``<spider>/discovery/nothing_found``.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import PublisherConfig, shipped_configs, zero_config
from spiders.publishers import PublisherSpider


class ZeroConfigSpider(PublisherSpider):
    """``scrapy crawl news -a url=https://publisher.example/``: a site without a config."""

    name = "news"
    #: Without them it cannot run: ``run --all`` leaves it out (crawler.ops.run_all).
    required_arguments: ClassVar[tuple[str, ...]] = ("url",)

    def __init__(
        self, *args: Any, url: str | None = None, timezone: str | None = None, **kwargs: Any
    ) -> None:
        if not url:
            raise ValueError("news needs the publisher's home page: -a url=https://host/")
        config = zero_config(url, timezone)  # ConfigError (a ValueError) for a bad one
        site = GenericSite(config)
        # The base class reads these as class attributes (a desk spider is a class per site);
        # here the site is an argument, so they are this instance's own.
        vars(self).update(
            config=config,
            site=site,
            parser=site,
            live_origin=config.origin,
            timezone=config.timezone,
        )
        super().__init__(*args, **kwargs)
        shipped = {c.host: c.name for c in shipped_configs().values()}
        if config.host in shipped:
            self.logger.info("%s has a config: scrapy crawl %s", config.host, shipped[config.host])


def class_name(config: PublisherConfig) -> str:
    """``kalteng_tribunnews`` → ``KaltengTribunnewsSpider``."""
    return "".join(part.capitalize() for part in config.name.split("_")) + "Spider"


def spider_class(config: PublisherConfig) -> type[PublisherSpider]:
    """The spider class of one shipped config."""
    site = GenericSite(config)
    attributes = {
        "__module__": __name__,
        "__doc__": f"Spider for {config.site_name} ({config.host}).",
        "name": config.name,
        "config": config,
        "site": site,
        "parser": site,
        "live_origin": config.origin,
        "timezone": config.timezone,
        # A third party's site: `run --all` leaves it out; named, or with --publishers, it
        # runs (crawler.ops.run_all.PUBLISHERS_GROUP).
        "run_group": "publishers",
    }
    return cast(type[PublisherSpider], type(class_name(config), (PublisherSpider,), attributes))


#: Spider name → class, one per shipped config.
SPIDERS: dict[str, type[PublisherSpider]] = {
    name: spider_class(config) for name, config in shipped_configs().items()
}
# Scrapy's spider loader looks for spider classes among a module's globals.
globals().update({cls.__name__: cls for cls in SPIDERS.values()})
