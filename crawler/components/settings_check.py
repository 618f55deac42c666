"""SettingsCheck: refuse a crawl whose settings contradict each other, before it starts.

Each component checks its own settings when it is built (:mod:`crawler.config`); what no
single component can see is checked here. An extension is built when the crawler applies its
settings, before any middleware, pipeline or request, so a crawl with conflicting settings
stops at once with one clear message (:class:`crawler.config.ConflictingSettings`) instead of
running quietly wrong:

- ``ROBOTSTXT_OBEY`` on while :class:`crawler.components.robots.SharedRobotsTxtMiddleware` is
  not enabled in ``DOWNLOADER_MIDDLEWARES``: robots.txt would not be obeyed at all, or, with
  Scrapy's own middleware, not for the requests sent while it downloads (issue 7.6);
- two middlewares of one kind enabled, e.g. one of our drop-in replacements next to the Scrapy
  middleware it replaces (robots.txt, retry, redirect, meta refresh): each response would be
  checked, retried or redirected twice;
- ``AUTOTHROTTLE_MAX_DELAY`` below ``DOWNLOAD_DELAY`` with AutoThrottle on: AutoThrottle caps
  the delay at its maximum, so requests would leave faster than ``DOWNLOAD_DELAY`` allows.

Settings: none of its own; it is enabled in ``EXTENSIONS``.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.settings import BaseSettings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from crawler.components.robots import SharedRobotsTxtMiddleware
from crawler.config import ConflictingSettings

#: Middleware kinds of which at most one may be enabled.
ONE_OF_A_KIND: tuple[tuple[str, type[Any]], ...] = (
    ("robots.txt", RobotsTxtMiddleware),
    ("retry", RetryMiddleware),
    ("redirect", RedirectMiddleware),
    ("meta refresh", MetaRefreshMiddleware),
)


def conflicts(settings: BaseSettings) -> list[str]:
    """What in ``settings`` contradicts itself; empty when nothing does."""
    problems: list[str] = []
    middlewares = _enabled(settings, "DOWNLOADER_MIDDLEWARES")
    for kind, base in ONE_OF_A_KIND:
        same = [name for name, cls in middlewares.items() if _is_sub(cls, base)]
        if len(same) > 1:
            problems.append(
                f"DOWNLOADER_MIDDLEWARES enables {len(same)} {kind} middlewares "
                f"({', '.join(same)}): set all but one to None"
            )
    if settings.getbool("ROBOTSTXT_OBEY") and not any(
        _is_sub(cls, SharedRobotsTxtMiddleware) for cls in middlewares.values()
    ):
        problems.append(
            "ROBOTSTXT_OBEY is on but crawler.components.robots.SharedRobotsTxtMiddleware is "
            "not enabled in DOWNLOADER_MIDDLEWARES, so robots.txt would not be obeyed for every "
            "request: enable it, or set ROBOTSTXT_OBEY=False"
        )
    if settings.getbool("AUTOTHROTTLE_ENABLED"):
        delay = settings.getfloat("DOWNLOAD_DELAY")
        most = settings.getfloat("AUTOTHROTTLE_MAX_DELAY")
        if most < delay:
            problems.append(
                f"AUTOTHROTTLE_MAX_DELAY ({most:g}) is below DOWNLOAD_DELAY ({delay:g}): "
                "AutoThrottle would send requests faster than DOWNLOAD_DELAY allows"
            )
    return problems


def check_settings(settings: BaseSettings) -> None:
    """Raise :class:`ConflictingSettings` naming every conflict in ``settings``."""
    problems = conflicts(settings)
    if problems:
        raise ConflictingSettings("Conflicting settings: " + "; ".join(problems))


class SettingsCheck:
    """The extension: :func:`check_settings` on the crawl's settings."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SettingsCheck:
        check_settings(crawler.settings)
        return cls()


def _enabled(settings: BaseSettings, name: str) -> dict[str, Any]:
    """Enabled components of a priority dict (with its ``_BASE``): dotted path -> object."""
    enabled: dict[str, Any] = {}
    for component in build_component_list(settings.getwithbase(name)):
        path = component if isinstance(component, str) else _path(component)
        try:
            enabled[path] = load_object(component) if isinstance(component, str) else component
        except (ImportError, NameError, ValueError):
            enabled[path] = None  # Scrapy reports it when it builds the middleware
    return enabled


def _path(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _is_sub(cls: Any, base: type[Any]) -> bool:
    return isinstance(cls, type) and issubclass(cls, base)
