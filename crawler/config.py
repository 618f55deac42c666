"""Reading the project's settings once, typed and checked, with crawler/settings.py's defaults.

Every project setting has its default in :mod:`crawler.settings` and nowhere else. A component
reads its settings once, in ``from_crawler``, into a frozen dataclass (its ``...Config``, kept
next to the component, whose docstring documents them) through a :class:`SettingsReader`,
which

- takes the crawl's value when the crawl's settings hold the name, else the one in
  :mod:`crawler.settings`: ``scrapy crawl`` loads them all, while a unit test's
  ``scrapy.utils.test.get_crawler(settings_dict=...)`` holds only Scrapy's defaults and the
  given ones, and still sees ours;
- converts the value as Scrapy does (``getint``, ``getbool``, ``getlist``, ``getdict``..., so
  ``-s NAME=value`` strings work);
- refuses a value outside its range with :class:`SettingError`, whose message names the
  setting: ``ARCHIVE_BATCH_SIZE must be at least 1, got -5``.

``NotConfigured`` stays what it is in Scrapy, "switched off"; a bad value never switches a
component off silently. Settings that only conflict with each other (robots.txt obeyed with no
robots middleware enabled, ...) are checked by :mod:`crawler.components.settings_check`.

Ground floor: no Scrapy import (settings are duck-typed), so :mod:`crawler.archive.location`
reads the archive's location through it without a crawler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from crawler import settings as project

T = TypeVar("T")


class Settings(Protocol):
    """What is read of ``scrapy.settings.BaseSettings``."""

    def get(self, name: str, default: Any = None) -> Any: ...
    def getint(self, name: str, default: int = 0) -> int: ...
    def getfloat(self, name: str, default: float = 0.0) -> float: ...
    def getbool(self, name: str, default: bool = False) -> bool: ...
    def getlist(self, name: str, default: list[Any] | None = None) -> list[Any]: ...
    def getdict(self, name: str, default: dict[Any, Any] | None = None) -> dict[Any, Any]: ...
    def getpriority(self, name: str) -> int | None: ...


class SettingError(ValueError):
    """A setting holds a value the crawler refuses; the message names the setting."""

    def __init__(self, name: str, expected: str, got: Any) -> None:
        super().__init__(f"{name} must be {expected}, got {got!r}")
        self.name = name


class ConflictingSettings(ValueError):
    """Settings that are each valid but contradict each other; the message names them."""


class SettingsReader:
    """Typed, checked reads of project settings (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def has(self, name: str) -> bool:
        """Whether the crawl's own settings hold ``name``."""
        return self.settings.getpriority(name) is not None

    def raw(self, name: str) -> Any:
        """The value as given (the crawl's, else crawler/settings.py's), unconverted."""
        if self.has(name):
            return self.settings.get(name)
        return project_default(name)

    def _read(self, name: str, scrapy_get: Callable[[str], T], convert: Callable[[Any], T]) -> T:
        try:
            return scrapy_get(name) if self.has(name) else convert(project_default(name))
        except (TypeError, ValueError) as exc:
            expected = _KINDS.get(getattr(convert, "__name__", ""), "a valid value")
            raise SettingError(name, expected, self.raw(name)) from exc

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        value = self._read(name, self.settings.getint, int)
        if minimum is not None and value < minimum:
            raise SettingError(name, f"at least {minimum}", value)
        return value

    def number(
        self,
        name: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float:
        value = self._read(name, self.settings.getfloat, float)
        check_number(name, value, minimum=minimum, maximum=maximum, positive=positive)
        return value

    def share(self, name: str) -> float:
        """A share of a whole: a number from 0 to 1."""
        return self.number(name, minimum=0.0, maximum=1.0)

    def flag(self, name: str) -> bool:
        return self._read(name, self.settings.getbool, _to_bool)

    def values(self, name: str) -> list[Any]:
        return self._read(name, self.settings.getlist, _to_list)

    def mapping(self, name: str) -> dict[Any, Any]:
        return self._read(name, self.settings.getdict, dict)

    def text(self, name: str) -> str | None:
        """A string setting that may be unset: None for unset and ``""``."""
        value = self.raw(name)
        return str(value) if value not in (None, "") else None


def project_default(name: str) -> Any:
    """The value :mod:`crawler.settings` gives ``name``."""
    try:
        return getattr(project, name)
    except AttributeError:
        message = f"{name} is not a project setting: give it a default in crawler/settings.py"
        raise LookupError(message) from None


def check_number(
    name: str,
    value: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> None:
    """Raise :class:`SettingError` unless ``value`` lies in the range."""
    if value != value:  # NaN compares false with every bound
        raise SettingError(name, "a number", value)
    if positive and not value > 0:
        raise SettingError(name, "greater than 0", value)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise SettingError(name, f"between {minimum:g} and {maximum:g}", value)
    if minimum is not None and value < minimum:
        raise SettingError(name, f"at least {minimum:g}", value)
    if maximum is not None and value > maximum:
        raise SettingError(name, f"at most {maximum:g}", value)


def http_codes(name: str, values: Iterable[Any]) -> frozenset[int]:
    """HTTP status codes (100-599)."""
    codes: set[int] = set()
    for value in values:
        try:
            code = int(value)
        except (TypeError, ValueError):
            raise SettingError(name, "a list of HTTP status codes", value) from None
        if not 100 <= code <= 599:
            raise SettingError(name, "a list of HTTP status codes (100-599)", value)
        codes.add(code)
    return frozenset(codes)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0", ""):
            return False
        raise ValueError(value)
    return bool(value)


def _to_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split(",")
    return list(value)


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "_to_bool": "true or false",
    "_to_list": "a list",
    "dict": "a dict (JSON on the command line)",
}


def redis_url(settings: Settings) -> str | None:
    """``REDIS_URL`` (the setting, which defaults to the environment variable), or None: the
    one switch between Scrapy's own scheduler and the shared frontier."""
    value = settings.get("REDIS_URL")
    return (str(value).strip() or None) if value else None
