"""Discovery, offline: how to find a publisher's articles without a spider written for it.

Each module reads one kind of page, given its bytes (or text) and URL, and returns
:class:`~crawler.discovery.entries.Entry` rows (an article URL and the dates the page gives for
it) or the next URLs to fetch; none of them fetches anything:

- :mod:`~crawler.discovery.wordpress`  the WordPress REST API: detect it, page through
  ``/wp-json/wp/v2/posts``, incremental ``modified_after=`` queries;
- :mod:`~crawler.discovery.sitemaps`   robots.txt ``Sitemap:`` lines, sitemap indexes, (news)
  sitemaps;
- :mod:`~crawler.discovery.feeds`      RSS/Atom feeds linked from the home page, and feeds;
- :mod:`~crawler.discovery.listings`   article links and the next page of a listing page;
- :mod:`~crawler.discovery.methods`    the order of preference and what a config's hints allow.

No Scrapy, no network, no database: the ``news`` spider and ``python -m crawler probe`` share
these, and tests feed them reconstructed pages. Bad input raises
:class:`~crawler.discovery.entries.DiscoveryError` with a short reason, for the caller to count.
"""
