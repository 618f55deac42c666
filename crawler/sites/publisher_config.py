"""One publisher, one small TOML file: what the generic news site needs to know about it.

A config names the publisher (its spider name and the records' ``source``), its home URL,
region, language and time zone, and optionally discovery hints and field selectors that
override the generic extraction layers::

    name = "tabengan"                      # [a-z][a-z0-9_]*
    site_name = "Tabengan"
    home_url = "https://www.tabengan.com/"
    region = "Kalimantan Tengah"           # optional
    language = "id"                        # ISO 639-1, default "id"
    timezone = "Asia/Jakarta"              # IANA zone of times printed without one
    cms = "wordpress"                      # optional, free text for people

    [discovery]                            # all optional
    wp_api = true                          # absent: try it; false: never; true: only it
    sitemaps = ["/sitemap_index.xml"]      # besides those robots.txt names
    feeds = ["/feed/"]
    listings = ["/category/palangka-raya/"]
    article_pattern = '^/\\d{4}/\\d{2}/\\d{2}/[^/]+/?$'   # regex on the URL path

    [selectors]                            # field -> CSS (parsel: ::text, ::attr(x)) or XPath
    title = "h1.jeg_post_title"
    body = "div.content-inner"

Every error (a TOML syntax error, an unknown key, a wrong type, a bad regex, zone or
selector) is a :class:`ConfigError` whose message starts ``<file>:<line>:``. A site with no
config at all gets :func:`zero_config`, named by :func:`source_name` from its host, in
:data:`ZERO_CONFIG_TIMEZONE` (WIB) unless told otherwise.

Pure: no Scrapy, no network (the public suffix list is tldextract's bundled snapshot).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import SelectorError
from lxml import etree
from parsel.csstranslator import HTMLTranslator

from crawler.sites.host_names import NAME_PATTERN, domain_label, source_name

__all__ = [
    "CONFIG_DIR",
    "SELECTOR_FIELDS",
    "ZERO_CONFIG_TIMEZONE",
    "ConfigError",
    "Discovery",
    "PublisherConfig",
    "domain_label",
    "load_config",
    "selector_xpath",
    "shipped_configs",
    "source_name",
    "zero_config",
]

#: The shipped configs, one ``<name>.toml`` per publisher.
CONFIG_DIR = Path(__file__).parent / "publishers"

#: Fields a ``[selectors]`` entry may name.
SELECTOR_FIELDS = (
    "title",
    "description",
    "body",
    "published_at",
    "modified_at",
    "authors",
    "editors",
    "category",
    "tags",
    "image_url",
    "image_caption",
)
_LANGUAGE = re.compile(r"[a-z]{2}")


class ConfigError(ValueError):
    """A config that cannot be used; the message starts ``<file>:<line>:``."""


@dataclass(frozen=True)
class Discovery:
    """Hints for finding a publisher's articles; empty means "find them on your own"."""

    #: None: try ``/wp-json/wp/v2/posts``; False: never; True: only the REST API.
    wp_api: bool | None = None
    #: Paths (``/sitemap_index.xml``) or absolute URLs of sitemaps besides robots.txt's.
    sitemaps: tuple[str, ...] = ()
    #: Paths or absolute URLs of RSS/Atom feeds.
    feeds: tuple[str, ...] = ()
    #: Paths or absolute URLs of listing pages to walk.
    listings: tuple[str, ...] = ()
    #: Regex searched in a URL's path that marks an article page; None: the generic shape test.
    article_pattern: str | None = None


@dataclass(frozen=True)
class PublisherConfig:
    """One publisher the generic news site crawls and parses."""

    #: Spider name and the records' ``source``, ``[a-z][a-z0-9_]*``.
    name: str
    #: The records' ``site_name``, e.g. ``"Tabengan"``.
    site_name: str
    #: The live home page, ``https://host/``.
    home_url: str
    #: The records' ``region``, e.g. ``"Kalimantan Tengah"``; None for a national or unknown site.
    region: str | None = None
    #: ISO 639-1 code of the records' ``language``.
    language: str = "id"
    #: IANA zone of the times the pages print without a zone.
    timezone: str = "Asia/Jakarta"
    discovery: Discovery = Discovery()
    #: Field (:data:`SELECTOR_FIELDS`) -> CSS selector or XPath (starting with ``/`` or ``(``).
    selectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    #: Free text for people: the CMS or theme, e.g. ``"wordpress/jnews"``.
    cms: str | None = None
    #: The TOML file the config came from; None for :func:`zero_config`.
    source_file: Path | None = None

    @property
    def host(self) -> str:
        """The home URL's host, lower-case, without port."""
        return (urlsplit(self.home_url).hostname or "").lower().rstrip(".")

    @property
    def origin(self) -> str:
        """``https://host`` (the home URL's scheme, and its port if it names one)."""
        parts = urlsplit(self.home_url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{self.host}{port}"


# --- Sites without a config ----------------------------------------------------------------


#: "mailto:", "javascript:"... but not "localhost:8080" (a host without a scheme).
_OTHER_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)


#: The zone of a site nobody described (:func:`zero_config`): WIB, since every publisher in
#: scope is Indonesian and most of them (Java, Sumatra, West and Central Kalimantan) are in it.
ZERO_CONFIG_TIMEZONE: Final = "Asia/Jakarta"


def zero_config(url: str, timezone: str | None = None) -> PublisherConfig:
    """The config of a site nobody described: named after its host, site name = host, no
    region, Indonesian, times printed without a zone read in ``timezone`` (an IANA zone;
    default :data:`ZERO_CONFIG_TIMEZONE`, WIB). ConfigError for a URL that is not http(s) or a
    zone that is not IANA's."""
    zone = (timezone or "").strip() or ZERO_CONFIG_TIMEZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"<timezone>:1: {zone!r} is not an IANA zone") from None
    url = url.strip()
    if "://" not in url and _OTHER_SCHEME.match(url):
        raise ConfigError(f"<url>:1: not an http(s) URL: {url!r}")
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"<url>:1: not an http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    port = f":{parts.port}" if parts.port else ""
    return PublisherConfig(
        name=source_name(host),
        site_name=host,
        home_url=f"{parts.scheme}://{host}{port}/",
        timezone=zone,
    )


# --- Loading ------------------------------------------------------------------------------

_TOP_KEYS = {"name", "site_name", "home_url", "region", "language", "timezone", "cms"}
_DISCOVERY_KEYS = {"wp_api", "sitemaps", "feeds", "listings", "article_pattern"}
_TOML_POSITION = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)")
_TOML_END = re.compile(r"\s*\(at end of document\)")


class _Source:
    """The TOML text and where its keys are, for error messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, message: str, table: str | None = None, key: str | None = None) -> ConfigError:
        return ConfigError(f"{self.path}:{self.line_of(table, key)}: {message}")

    def line_of(self, table: str | None, key: str | None) -> int:
        """The 1-based line of ``key`` in ``[table]`` (or of the table header, or line 1):
        a line scan, as tomllib keeps no positions."""
        current: str | None = None
        header_line = None
        quoted = r"""(?:"{0}"|'{0}'|{0})"""
        for number, line in enumerate(self.lines, start=1):
            header = re.match(r"\s*\[\s*([^\]\s]+)\s*\]", line)
            if header:
                current = header.group(1).strip("\"'")
                if current == table:
                    header_line = number
                continue
            if key is None:
                continue
            plain = quoted.format(re.escape(key))
            if current == table and re.match(rf"\s*{plain}\s*=", line):
                return number
            if current is None and table and re.match(rf"\s*{table}\s*\.\s*{plain}\s*=", line):
                return number
        return header_line or 1


def load_config(path: Path | str) -> PublisherConfig:
    """The config in the TOML file ``path``; :class:`ConfigError` (``<file>:<line>: ...``)
    if it cannot be read or is not valid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}:1: cannot read the config: {error}") from None
    source = _Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        if position:
            line = position.group("line")
            message = f"{_TOML_POSITION.sub('', message)} (column {position.group('column')})"
        else:
            line = str(max(len(source.lines), 1)) if _TOML_END.search(message) else "1"
            message = _TOML_END.sub(" (at end of document)", message)
        raise ConfigError(f"{path}:{line}: TOML syntax error: {message}") from None
    return _build(data, source)


def _build(data: dict[str, Any], source: _Source) -> PublisherConfig:
    for key in data:
        if key not in _TOP_KEYS | {"discovery", "selectors"}:
            raise source.error(f"unknown key {key!r}", key=key)

    def text(key: str, required: bool = False) -> str | None:
        if key not in data:
            if required:
                raise source.error(f"missing required key {key!r}")
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise source.error(f"{key} must be a non-empty string", key=key)
        return value.strip()

    name = text("name", required=True) or ""
    if not NAME_PATTERN.fullmatch(name):
        raise source.error(f"name {name!r} must match [a-z][a-z0-9_]*", key="name")
    home_url = text("home_url", required=True) or ""
    parts = urlsplit(home_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise source.error(f"home_url {home_url!r} is not an http(s) URL", key="home_url")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise source.error(f"home_url {home_url!r} has a bad port", key="home_url") from None
    if not parts.path:
        home_url += "/"
    language = text("language") or "id"
    if not _LANGUAGE.fullmatch(language):
        raise source.error(f"language {language!r} is not an ISO 639-1 code", key="language")
    timezone = text("timezone") or "Asia/Jakarta"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise source.error(f"timezone {timezone!r} is not an IANA zone", key="timezone") from None
    return PublisherConfig(
        name=name,
        site_name=text("site_name", required=True) or "",
        home_url=home_url,
        region=text("region"),
        language=language,
        timezone=timezone,
        discovery=_discovery(data.get("discovery", {}), source),
        selectors=_selectors(data.get("selectors", {}), source),
        cms=text("cms"),
        source_file=source.path,
    )


def _table(value: Any, name: str, source: _Source) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise source.error(f"{name} must be a table ([{name}])", key=name)
    return value


def _discovery(value: Any, source: _Source) -> Discovery:
    table = _table(value, "discovery", source)
    for key in table:
        if key not in _DISCOVERY_KEYS:
            raise source.error(f"unknown key {key!r} in [discovery]", "discovery", key)
    wp_api = table.get("wp_api")
    if wp_api is not None and not isinstance(wp_api, bool):
        raise source.error("wp_api must be true or false", "discovery", "wp_api")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("sitemaps", "feeds", "listings"):
        items = table.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise source.error(f"{key} must be a list of strings", "discovery", key)
        for item in items:
            if not (item.startswith("/") or urlsplit(item).scheme in ("http", "https")):
                raise source.error(
                    f"{key}: {item!r} is neither a path (/...) nor an http(s) URL",
                    "discovery",
                    key,
                )
        lists[key] = tuple(items)
    pattern = table.get("article_pattern")
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise source.error("article_pattern must be a string", "discovery", "article_pattern")
        try:
            re.compile(pattern)
        except re.error as error:
            raise source.error(
                f"article_pattern is not a valid regex: {error}", "discovery", "article_pattern"
            ) from None
    return Discovery(wp_api=wp_api, article_pattern=pattern, **lists)


def selector_xpath(selector: str) -> str:
    """The XPath a ``[selectors]`` value means: itself when it starts with ``/`` or ``(``,
    else the CSS selector (parsel's dialect: ``::text``, ``::attr(name)``) translated.
    Raises ``cssselect.SelectorError`` or ``lxml.etree.XPathSyntaxError`` if it is invalid."""
    selector = selector.strip()
    xpath = selector if selector.startswith(("/", "(")) else _css_to_xpath(selector)
    etree.XPath(xpath)
    return xpath


@functools.cache
def _css_to_xpath(css: str) -> str:
    return str(HTMLTranslator().css_to_xpath(css))


def _selectors(value: Any, source: _Source) -> Mapping[str, str]:
    table = _table(value, "selectors", source)
    selectors: dict[str, str] = {}
    for key, selector in table.items():
        if key not in SELECTOR_FIELDS:
            raise source.error(
                f"unknown field {key!r} in [selectors]; fields: {', '.join(SELECTOR_FIELDS)}",
                "selectors",
                key,
            )
        if not isinstance(selector, str) or not selector.strip():
            raise source.error(f"selector for {key} must be a string", "selectors", key)
        try:
            selector_xpath(selector)
        except (SelectorError, etree.XPathError) as error:
            raise source.error(
                f"selector for {key} ({selector!r}) is invalid: {error}", "selectors", key
            ) from None
        selectors[key] = selector.strip()
    return MappingProxyType(selectors)


@functools.cache
def shipped_configs() -> dict[str, PublisherConfig]:
    """Name -> config of every ``CONFIG_DIR/*.toml``, loaded once; ConfigError if one is
    invalid, or two share a name."""
    configs: dict[str, PublisherConfig] = {}
    for path in sorted(CONFIG_DIR.glob("*.toml")):
        config = load_config(path)
        if config.name in configs:
            raise ConfigError(
                f"{path}:1: name {config.name!r} is also used by {configs[config.name].source_file}"
            )
        configs[config.name] = config
    return configs
