"""What ``python -m crawler probe`` reports and writes, offline: field coverage of a sample of
records, and a starter config that :func:`crawler.sites.publisher_config.load_config` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crawler.items import Article

#: The record fields whose coverage a probe shows, in this order.
COVERAGE_FIELDS = (
    "title",
    "body",
    "published_at",
    "modified_at",
    "authors",
    "editors",
    "description",
    "category",
    "tags",
    "image_url",
    "image_caption",
    "dateline",
)


def present(value: object) -> bool:
    """Found: not None, "", [] or {} (as the monitors count it)."""
    return value is not None and value != "" and value != [] and value != {}


def coverage(articles: Sequence[Article]) -> dict[str, int]:
    """Field -> on how many of ``articles`` it was found."""
    return {
        name: sum(1 for article in articles if present(getattr(article, name, None)))
        for name in COVERAGE_FIELDS
    }


@dataclass(frozen=True)
class StarterConfig:
    """What a probe learnt about a site, to be written as a config to edit."""

    name: str
    site_name: str
    home_url: str
    language: str = "id"
    timezone: str = "Asia/Jakarta"
    wp_api: bool | None = None
    sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    cms: str | None = None


def starter_toml(config: StarterConfig, findings: Iterable[str] = ()) -> str:
    """The TOML text of ``config``, the probe's ``findings`` as comments on top."""
    lines = [
        "# Starter config written by `python -m crawler probe`: check every value, set the",
        "# region, and add [selectors] for fields the generic layers miss.",
        *(f"# {finding}" for finding in findings),
        f"name = {_string(config.name)}",
        f"site_name = {_string(config.site_name)}",
        f"home_url = {_string(config.home_url)}",
        '# region = "Kalimantan Tengah"',
        f"language = {_string(config.language)}",
        f"timezone = {_string(config.timezone)}",
    ]
    if config.cms:
        lines.append(f"cms = {_string(config.cms)}")
    lines += ["", "[discovery]"]
    if config.wp_api is not None:
        lines.append(f"wp_api = {'true' if config.wp_api else 'false'}")
    for key in ("sitemaps", "feeds", "listings"):
        values = getattr(config, key)
        if values:
            lines.append(f"{key} = [{', '.join(_string(v) for v in values)}]")
    lines += [
        "# article_pattern = '^/\\d{4}/\\d{2}/\\d{2}/[^/]+/?$'   # regex on the URL path",
        "",
        "[selectors]",
        '# body = "div.entry-content"',
        "",
    ]
    return "\n".join(lines)


def _string(value: str) -> str:
    # A JSON string is a TOML basic string (same escapes, \uXXXX included).
    return json.dumps(value)
