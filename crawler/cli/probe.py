"""``python -m crawler probe URL``: what the ``news`` spider would find on a site, before a crawl.

Fetches a few pages, politely: robots.txt first and obeyed (protego, as the crawl's own
middleware reads it), ``--delay`` seconds between requests (default ``DOWNLOAD_DELAY``, or
robots.txt's ``Crawl-delay`` when longer), the crawl's ``USER_AGENT``. Then it reports:

- which discovery paths exist (:mod:`crawler.discovery`): the WordPress REST API (and how
  many posts it holds), sitemaps (robots.txt's, else the usual paths), feeds (linked from the
  home page, else the usual paths), article links on the home page;
- the method the spider would use (the first that exists, in its order of preference);
- a sample of ``--pages`` articles extracted by :class:`crawler.sites.generic.GenericSite`
  (REST posts when there is an API, else article pages) and each field's coverage;
- with ``--write-config FILE``, a starter config (:mod:`crawler.discovery.starter`) that
  ``load_config`` reads, to edit and drop into ``crawler/sites/publishers/``.

``--base-url http://127.0.0.1:PORT`` fetches from a mirror instead, as ``-a base_url`` does for
a crawl. Exit status: 0 articles were found, 1 none (or the home page could not be had), 2 bad
usage (an existing ``--write-config`` file is not overwritten).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import click
from parsel import Selector
from protego import Protego

from crawler import settings as project
from crawler.cli.options import EXIT_NOT_FOUND, ArchiveCommand
from crawler.discovery import feeds, listings, sitemaps, wordpress
from crawler.discovery.entries import DiscoveryError
from crawler.discovery.methods import FEED, LISTING, ORDER, SITEMAP, WP_API
from crawler.discovery.starter import COVERAGE_FIELDS, StarterConfig, coverage, starter_toml
from crawler.extract.decode import decode_html
from crawler.items import Article
from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import PublisherConfig, load_config, zero_config


@dataclass
class Fetched:
    url: str
    status: int  # 0: no answer at all
    headers: Message
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class PoliteFetcher:
    """GETs live URLs (from the mirror when given), robots.txt obeyed, one at a time."""

    def __init__(self, origin: str, *, base_url: str | None, delay: float) -> None:
        self.origin = origin
        self.base_url = base_url.rstrip("/") if base_url else None
        self.delay = delay
        self.requests = 0
        self.forbidden: list[str] = []
        self._last = 0.0
        self._robots: Protego | None = None
        self.robots_txt = b""

    def get(self, url: str) -> Fetched | None:
        """The response for live ``url``; None when robots.txt forbids it."""
        if self._robots is None:
            robots = self._fetch(self.origin + "/robots.txt")
            self.robots_txt = robots.body if robots.ok else b""
            self._robots = Protego.parse(self.robots_txt.decode("utf-8", "replace"))
            self.delay = max(self.delay, float(self._robots.crawl_delay(project.USER_AGENT) or 0))
        if not self._robots.can_fetch(url, project.USER_AGENT):
            self.forbidden.append(url)
            return None
        return self._fetch(url)

    def _fetch(self, url: str) -> Fetched:
        wait = self._last + self.delay - time.monotonic()
        if self.requests and wait > 0:
            time.sleep(wait)
        self.requests += 1
        target = url
        if self.base_url and url.startswith(self.origin):
            target = self.base_url + url[len(self.origin) :]
        request = urllib.request.Request(target, headers={"User-Agent": project.USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=project.DOWNLOAD_TIMEOUT) as answer:
                fetched = Fetched(url, answer.status, answer.headers, self._read(answer))
        except urllib.error.HTTPError as error:
            fetched = Fetched(url, error.code, error.headers, self._read(error))
        except (urllib.error.URLError, OSError) as error:
            fetched = Fetched(url, 0, Message(), str(error).encode())
        finally:
            self._last = time.monotonic()
        if self.base_url:  # undo the mirror's link rewriting, JSON's escaped slashes too
            body = fetched.body.replace(self.base_url.encode(), self.origin.encode())
            escaped = (self.base_url.replace("/", "\\/"), self.origin.replace("/", "\\/"))
            fetched.body = body.replace(escaped[0].encode(), escaped[1].encode())
        return fetched

    @staticmethod
    def _read(stream: object) -> bytes:
        read = getattr(stream, "read", None)
        return read(project.DOWNLOAD_MAXSIZE) if read else b""


@dataclass
class Probe:
    """What a probe found (see the module docstring)."""

    config: PublisherConfig
    found: dict[str, str] = field(default_factory=dict)  # method -> what was found
    missing: dict[str, str] = field(default_factory=dict)  # method -> why not
    urls: dict[str, list[str]] = field(default_factory=dict)  # method -> article URLs
    sample: list[Article] = field(default_factory=list)
    sample_from: str = ""
    site_name: str | None = None
    language: str | None = None
    sitemap_paths: list[str] = field(default_factory=list)
    feed_paths: list[str] = field(default_factory=list)

    @property
    def method(self) -> str | None:
        return next((m for m in ORDER if m in self.found), None)


def probe(
    url: str, *, base_url: str | None, pages: int, delay: float
) -> tuple[Probe, PoliteFetcher]:
    config = zero_config(url)
    site = GenericSite(config)
    fetcher = PoliteFetcher(config.origin, base_url=base_url, delay=delay)
    result = Probe(config)
    home = fetcher.get(config.home_url)
    if home is None or not home.ok:
        status = "forbidden by robots.txt" if home is None else f"HTTP {home.status or 'error'}"
        result.missing["home"] = f"the home page could not be fetched ({status})"
        return result, fetcher
    html = _text(home)
    page = Selector(text=html)
    result.site_name = page.css("meta[property='og:site_name']::attr(content)").get()
    result.language = (page.xpath("/html/@lang").get() or "")[:2].lower() or None
    _wordpress(result, fetcher, site, home, html, pages)
    _sitemaps(result, fetcher, site)
    _feeds(result, fetcher, site, html)
    links = listings.read_listing(html, config.home_url, site.is_article_url)
    if links.articles:
        more = f"; next page {links.next_page}" if links.next_page else ""
        result.found[LISTING] = f"{len(links.articles)} article links on the home page{more}"
        result.urls[LISTING] = links.articles
    else:
        result.missing[LISTING] = f"no article link among {links.links_seen} on the home page"
    if not result.sample:
        _sample_pages(result, fetcher, site, pages)
    return result, fetcher


def _wordpress(
    result: Probe, fetcher: PoliteFetcher, site: GenericSite, home: Fetched, html: str, pages: int
) -> None:
    origin = result.config.origin
    root = wordpress.api_root_from_link_header(home.headers.get("Link"), home.url)
    root = root or wordpress.api_root_from_html(html, home.url)
    if not root:
        index = fetcher.get(origin + wordpress.DEFAULT_ROOT_PATH)
        if index is None or not (index.ok and wordpress.is_api_index(index.body)):
            result.missing[WP_API] = "no api.w.org link, and /wp-json/ is no WordPress API"
            return
        root = origin + wordpress.DEFAULT_ROOT_PATH
    tz = result.config.timezone
    answer = fetcher.get(wordpress.posts_url(root, page=1, per_page=pages, timezone=tz))
    try:
        if answer is None or not answer.ok:
            raise DiscoveryError("wp_api", f"HTTP {answer.status}" if answer else "robots.txt")
        posts = wordpress.read_posts(answer.body).posts
    except DiscoveryError as error:
        result.missing[WP_API] = f"API at {root}, but its posts could not be read: {error}"
        return
    total = answer.headers.get("X-WP-Total") or "?"
    result.found[WP_API] = f"{root} ({total} posts)"
    result.sample = [site.parse_wp_post(post).article for post in posts]
    result.sample_from = "the REST API (no page downloaded)"


def _sitemaps(result: Probe, fetcher: PoliteFetcher, site: GenericSite) -> None:
    origin = result.config.origin
    named = sitemaps.sitemaps_from_robots(fetcher.robots_txt, origin + "/robots.txt")
    candidates = named or [origin + path for path in sitemaps.FALLBACK_PATHS]
    for url in candidates:
        read = _read_sitemap(fetcher, url, result.config.timezone)
        if read is None:
            continue
        where = "robots.txt" if named else "a usual path"
        if read.kind == "sitemapindex" and read.sitemaps:
            newest = max(read.sitemaps, key=lambda c: c.modified.timestamp() if c.modified else 0)
            child = _read_sitemap(fetcher, newest.url, result.config.timezone)
            pages = child.pages if child else []
            note = f"index of {len(read.sitemaps)} at {url} (from {where}), newest {newest.url}"
        else:
            pages, note = read.pages, f"{url} (from {where})"
        articles = [e.url for e in pages if site.is_article_url(e.url)]
        if not articles:
            continue
        result.found[SITEMAP] = f"{note}: {len(articles)} article URLs"
        result.urls[SITEMAP] = articles
        if not named:
            result.sitemap_paths.append(urlsplit(url).path)
        return
    result.missing[SITEMAP] = f"none in robots.txt; tried {', '.join(candidates)}"


def _read_sitemap(fetcher: PoliteFetcher, url: str, timezone: str) -> sitemaps.Sitemap | None:
    answer = fetcher.get(url)
    if answer is None or not answer.ok:
        return None
    try:
        return sitemaps.read_sitemap(answer.body, url, timezone=timezone)
    except DiscoveryError:
        return None


def _feeds(result: Probe, fetcher: PoliteFetcher, site: GenericSite, html: str) -> None:
    origin = result.config.origin
    linked = feeds.feed_links(html, result.config.home_url)
    for url in linked or [origin + path for path in feeds.FEED_PATHS]:
        answer = fetcher.get(url)
        if answer is None or not answer.ok:
            continue
        try:
            entries = feeds.read_feed(answer.body, url, timezone=result.config.timezone)
        except DiscoveryError:
            continue
        articles = [e.url for e in entries if site.is_article_url(e.url)]
        where = "linked from the home page" if linked else "a usual path"
        result.found[FEED] = f"{url} ({where}): {len(articles)} articles"
        result.urls[FEED] = articles
        result.feed_paths.append(urlsplit(url).path)
        return
    result.missing[FEED] = "no feed linked from the home page, none at /feed/ or /rss"


def _sample_pages(result: Probe, fetcher: PoliteFetcher, site: GenericSite, pages: int) -> None:
    method = result.method
    if method is None:
        return
    for url in result.urls.get(method, [])[:pages]:
        answer = fetcher.get(url)
        if answer is not None and answer.ok:
            result.sample.append(site.parse_article(_text(answer), url).article)
    result.sample_from = f"article pages found by {method}"


def _text(fetched: Fetched) -> str:
    return decode_html(fetched.body, fetched.headers.get_content_charset())


def report_lines(result: Probe, fetcher: PoliteFetcher) -> list[str]:
    config = result.config
    lines = [
        f"Probe of {config.home_url} (source {config.name}): {fetcher.requests} requests, "
        f"{fetcher.delay:g} s apart, robots.txt obeyed",
        "Discovery (in the news spider's order of preference):",
    ]
    for method in ORDER:
        if method in result.found:
            lines.append(f"  {method:8} yes  {result.found[method]}")
        else:
            lines.append(f"  {method:8} no   {result.missing.get(method, '')}")
    if "home" in result.missing:
        lines.append(f"  {result.missing['home']}")
    lines += [f"  forbidden by robots.txt: {url}" for url in fetcher.forbidden]
    lines.append(f"The news spider would use: {result.method or 'nothing (no article found)'}")
    if result.sample:
        lines.append(f"Sample: {len(result.sample)} article(s) from {result.sample_from}")
        lines.append("Field coverage:")
        found = coverage(result.sample)
        for name in COVERAGE_FIELDS:
            share = found[name] / len(result.sample)
            lines.append(f"  {name:14} {found[name]:>3}/{len(result.sample):<3} {share:>4.0%}")
    return lines


def starter(result: Probe) -> StarterConfig:
    config = result.config
    language = result.language if result.language and result.language.isalpha() else "id"
    return StarterConfig(
        name=config.name,
        site_name=result.site_name or config.site_name,
        home_url=config.home_url,
        language=language,
        timezone=config.timezone,
        wp_api=WP_API in result.found,
        sitemaps=tuple(result.sitemap_paths),
        feeds=tuple(result.feed_paths),
        cms="wordpress" if WP_API in result.found else None,
    )


@click.command(cls=ArchiveCommand)
@click.argument("url")
@click.option("--base-url", default=None, metavar="URL", help="Fetch from this mirror instead.")
@click.option(
    "--pages",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Articles to extract as a sample.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    default=project.DOWNLOAD_DELAY,
    show_default=True,
    help="Seconds between requests (at least robots' Crawl-delay).",
)
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a starter config (TOML) here; an existing file is kept.",
)
def probe_command(
    url: str, base_url: str | None, pages: int, delay: float, write_config: Path | None
) -> None:
    """Report how URL's articles can be discovered, and how well they are extracted."""
    if write_config is not None and write_config.exists():
        raise click.UsageError(f"{write_config} exists; not overwriting it")
    if base_url and urlsplit(base_url).scheme not in {"http", "https"}:
        raise click.BadParameter("must look like http://host[:port]", param_hint="--base-url")
    result, fetcher = probe(url, base_url=base_url, pages=pages, delay=delay)
    for line in report_lines(result, fetcher):
        click.echo(line)
    if write_config is not None:
        findings = [f"{m}: {result.found[m]}" for m in ORDER if m in result.found]
        write_config.write_text(starter_toml(starter(result), findings), encoding="utf-8")
        load_config(write_config)  # what was written must load
        click.echo(f"Starter config written to {write_config}")
    if result.method is None:
        raise click.exceptions.Exit(EXIT_NOT_FOUND)
