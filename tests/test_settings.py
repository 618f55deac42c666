"""The project settings: politeness, retries, pipeline order, browser, spider discovery; and
how components read them: once, typed, with crawler/settings.py's defaults, refusing invalid
and conflicting values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    return get_project_settings()


def _scrapy(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the ``scrapy`` command line from the repository root, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_obeys_robots_txt_and_throttles(settings: Settings) -> None:
    assert settings.getbool("ROBOTSTXT_OBEY") is True
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is True
    assert settings.getfloat("DOWNLOAD_DELAY") > 0


def test_user_agent_names_the_contact(settings: Settings) -> None:
    contact = settings.get("CRAWLER_CONTACT")
    assert contact
    assert contact in settings.get("USER_AGENT")


def test_user_agent_contact_comes_from_the_environment() -> None:
    code = "from scrapy.utils.project import get_project_settings as g; print(g()['USER_AGENT'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "CRAWLER_CONTACT": "mailto:archive@example.org"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mailto:archive@example.org" in result.stdout


def test_retries_server_errors(settings: Settings) -> None:
    assert settings.getbool("RETRY_ENABLED") is True
    codes = settings.getlist("RETRY_HTTP_CODES")
    assert 500 in codes
    assert 503 in codes


def test_pipelines_run_normalize_then_validate_then_archive(settings: Settings) -> None:
    order = settings.getdict("ITEM_PIPELINES")
    normalize = order["pipelines.normalize.NormalizePipeline"]
    validate = order["pipelines.validate.ValidatePipeline"]
    archive = order["pipelines.archive.MongoArchivePipeline"]
    assert normalize < validate < archive


def test_playwright_uses_the_configured_chromium(settings: Settings) -> None:
    launch = settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == settings.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE")
    # Root in CI and containers: Chromium refuses to start as root without it.
    assert "--no-sandbox" in launch["args"]
    assert launch["headless"] is True


def test_scrapy_list_finds_the_antara_kalteng_spider() -> None:
    result = _scrapy("list")
    assert result.returncode == 0, result.stderr
    assert "antara_kalteng" in result.stdout.split()


# --- read once, typed, checked (issue 8, point 6) ------------------------------------------------
#
# Scrapy's ``Settings()`` and ``get_crawler()`` hold Scrapy's defaults, not ours: every config
# then takes crawler/settings.py's values (crawler.config.SettingsReader), so the defaults live
# there only.


def test_configs_take_the_project_defaults_from_crawler_settings() -> None:
    import crawler.settings as project
    from crawler.components.incremental import IncrementalConfig
    from crawler.components.monitors import MonitorConfig
    from crawler.components.page_archive import PageArchiveConfig
    from crawler.components.retry_after import RetryAfterConfig
    from pipelines.archive import ArchiveConfig
    from pipelines.validate import ValidateConfig

    scrapy_only = get_crawler().settings
    archive = ArchiveConfig.from_settings(scrapy_only)
    assert archive.batch_size == project.ARCHIVE_BATCH_SIZE
    assert archive.flush_seconds == project.ARCHIVE_FLUSH_SECONDS
    assert archive.location.retry_seconds == project.ARCHIVE_RETRY_SECONDS
    assert archive.location.database == project.MONGO_DATABASE
    assert (
        PageArchiveConfig.from_settings(scrapy_only).batch_size == project.PAGE_ARCHIVE_BATCH_SIZE
    )
    incremental = IncrementalConfig.from_settings(scrapy_only)
    assert incremental.stop_after_known_pages == project.STOP_AFTER_KNOWN_PAGES
    assert incremental.refresh_within.total_seconds() == project.REFRESH_WITHIN_HOURS * 3600
    monitors = MonitorConfig.from_settings(scrapy_only)
    assert monitors.min_coverage == project.MONITOR_MIN_COVERAGE
    assert monitors.article_callbacks == frozenset(project.MONITOR_ARTICLE_CALLBACKS)
    # Built without settings (as tests do), a MonitorConfig holds the same values, no hooks.
    assert MonitorConfig() == MonitorConfig.from_settings(
        Settings({"ALERT_COMMAND": None, "ALERT_WEBHOOK_URL": None})
    )
    assert RetryAfterConfig.from_settings(scrapy_only).max_wait == project.RETRY_AFTER_MAX_SECONDS
    assert ValidateConfig.from_settings(scrapy_only).required == tuple(
        project.VALIDATE_REQUIRED_FIELDS
    )


def test_the_crawl_s_own_values_win_and_command_line_strings_are_converted() -> None:
    from crawler.components.monitors import MonitorConfig
    from pipelines.archive import ArchiveConfig

    settings = Settings({"ARCHIVE_BATCH_SIZE": 3})
    settings.set("ARCHIVE_FLUSH_SECONDS", "0.5", priority="cmdline")  # -s ARCHIVE_FLUSH_SECONDS=0.5
    settings.set("MONITOR_MIN_COVERAGE", '{"title": 0.5}', priority="cmdline")
    archive = ArchiveConfig.from_settings(settings)
    assert (archive.batch_size, archive.flush_seconds) == (3, 0.5)
    assert MonitorConfig.from_settings(settings).min_coverage == {"title": 0.5}


def test_a_name_without_a_project_default_is_a_programming_error() -> None:
    from crawler.config import SettingsReader

    with pytest.raises(LookupError, match="NO_SUCH_SETTING is not a project setting"):
        SettingsReader(Settings()).integer("NO_SUCH_SETTING")


def _config(kind: str) -> Any:
    from crawler.components.incremental import IncrementalConfig
    from crawler.components.monitors import MonitorConfig
    from crawler.components.page_archive import PageArchiveConfig
    from crawler.components.retry_after import RetryAfterConfig
    from pipelines.archive import ArchiveConfig
    from pipelines.validate import ValidateConfig

    return {
        "archive": ArchiveConfig,
        "pages": PageArchiveConfig,
        "incremental": IncrementalConfig,
        "monitors": MonitorConfig,
        "retry_after": RetryAfterConfig,
        "validate": ValidateConfig,
    }[kind]


@pytest.mark.parametrize(
    ("kind", "name", "value", "message"),
    [
        # counts that must be positive
        ("archive", "ARCHIVE_BATCH_SIZE", -5, "ARCHIVE_BATCH_SIZE must be at least 1, got -5"),
        ("archive", "ARCHIVE_BATCH_SIZE", 0, "ARCHIVE_BATCH_SIZE must be at least 1, got 0"),
        (
            "pages",
            "PAGE_ARCHIVE_BATCH_SIZE",
            0,
            "PAGE_ARCHIVE_BATCH_SIZE must be at least 1, got 0",
        ),
        # durations and counts that must not be negative
        (
            "archive",
            "ARCHIVE_FLUSH_SECONDS",
            -1,
            "ARCHIVE_FLUSH_SECONDS must be at least 0, got -1",
        ),
        ("pages", "ARCHIVE_RETRY_SECONDS", -2, "ARCHIVE_RETRY_SECONDS must be at least 0, got -2"),
        ("incremental", "REFRESH_WITHIN_HOURS", -1, "REFRESH_WITHIN_HOURS must be at least 0"),
        ("incremental", "STOP_AFTER_KNOWN_PAGES", -1, "STOP_AFTER_KNOWN_PAGES must be at least 0"),
        ("incremental", "INCREMENTAL_GONE_RECHECK_HOURS", -3, "must be at least 0, got -3"),
        ("monitors", "MONITOR_MIN_ITEMS", -1, "MONITOR_MIN_ITEMS must be at least 0, got -1"),
        ("monitors", "MONITOR_MAX_ERRORS", -1, "MONITOR_MAX_ERRORS must be at least 0, got -1"),
        ("monitors", "MONITOR_MIN_LISTING_PAGES", -1, "MONITOR_MIN_LISTING_PAGES must be at"),
        # durations that must be above zero
        ("retry_after", "RETRY_AFTER_MAX_SECONDS", 0, "RETRY_AFTER_MAX_SECONDS must be greater"),
        ("retry_after", "RETRY_AFTER_MAX_SECONDS", -1, "must be greater than 0, got -1"),
        ("monitors", "ALERT_TIMEOUT_SECONDS", 0, "ALERT_TIMEOUT_SECONDS must be greater than 0"),
        # shares of a whole
        ("monitors", "MONITOR_MIN_ITEM_SHARE", 1.5, "MONITOR_MIN_ITEM_SHARE must be between 0"),
        ("monitors", "MONITOR_MIN_COVERAGE", {"title": 99}, "['title'] must be between 0 and 1"),
        ("monitors", "MONITOR_MIN_COVERAGE", {"body": -0.1}, "['body'] must be between 0 and 1"),
        ("monitors", "MONITOR_MIN_COVERAGE", {"body": "most"}, "['body'] must be a number"),
        # names and codes
        ("validate", "VALIDATE_REQUIRED_FIELDS", ["titel"], "must be names of Article fields"),
        ("monitors", "MONITOR_ARTICLE_CALLBACKS", [], "must be one callback name or more"),
        ("retry_after", "RETRY_AFTER_HTTP_CODES", [429, 999], "HTTP status codes (100-599)"),
        ("archive", "MONGO_DATABASE", "", "MONGO_DATABASE must be a database name, got ''"),
        # values that are not of the setting's type (as -s gives them)
        ("archive", "ARCHIVE_BATCH_SIZE", "many", "ARCHIVE_BATCH_SIZE must be an integer"),
        ("incremental", "REFRESH_WITHIN_HOURS", "a day", "REFRESH_WITHIN_HOURS must be a number"),
        ("archive", "ARCHIVE_FLUSH_SECONDS", "nan", "ARCHIVE_FLUSH_SECONDS must be a number"),
        ("monitors", "MONITOR_MIN_COVERAGE", "{title", "must be a dict (JSON on the command line)"),
    ],
)
def test_invalid_values_are_refused_naming_the_setting(
    kind: str, name: str, value: Any, message: str
) -> None:
    from crawler.config import SettingError

    with pytest.raises(SettingError, match=re.escape(message)) as caught:
        _config(kind).from_settings(Settings({name: value}))
    assert caught.value.name.startswith(name)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_the_default_time_zone_must_be_a_zone(zone: str) -> None:
    from crawler.config import SettingError
    from pipelines.normalize import default_timezone

    assert default_timezone(Settings()) == "UTC"
    with pytest.raises(SettingError, match="NORMALIZE_DEFAULT_TIMEZONE must be an IANA time zone"):
        default_timezone(Settings({"NORMALIZE_DEFAULT_TIMEZONE": zone}))


def test_retry_after_codes_must_be_retried_codes() -> None:
    from crawler.components.retry_after import RetryAfterConfig
    from crawler.config import SettingError

    settings = Settings({"RETRY_HTTP_CODES": [500, 503], "RETRY_AFTER_HTTP_CODES": [429, 503]})
    with pytest.raises(
        SettingError, match=r"RETRY_AFTER_HTTP_CODES must be among RETRY_HTTP_CODES"
    ):
        RetryAfterConfig.from_settings(settings)


def test_an_invalid_value_is_not_taken_for_switched_off() -> None:
    from scrapy.exceptions import NotConfigured

    from crawler.components.incremental import ArchiveAwareMiddleware
    from crawler.config import SettingError

    with pytest.raises(NotConfigured):
        ArchiveAwareMiddleware.from_crawler(
            get_crawler(settings_dict={"INCREMENTAL_ENABLED": False})
        )
    with pytest.raises(SettingError, match="INCREMENTAL_ENABLED must be true or false"):
        ArchiveAwareMiddleware.from_crawler(
            get_crawler(settings_dict={"INCREMENTAL_ENABLED": "maybe"})
        )
    with pytest.raises(SettingError, match="STOP_AFTER_KNOWN_PAGES"):
        ArchiveAwareMiddleware.from_crawler(
            get_crawler(settings_dict={"STOP_AFTER_KNOWN_PAGES": -1})
        )


# --- settings that conflict with each other (crawler.components.settings_check) -------------------

OUR_ROBOTS = "crawler.components.robots.SharedRobotsTxtMiddleware"
SCRAPY_ROBOTS = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"


def test_the_project_settings_do_not_conflict(settings: Settings) -> None:
    from crawler.components.settings_check import conflicts

    assert conflicts(settings) == []
    assert "crawler.components.settings_check.SettingsCheck" in settings.getdict("EXTENSIONS")


def _with(settings: Settings, **changes: Any) -> Settings:
    changed = settings.copy()
    for name, value in changes.items():
        if name == "DOWNLOADER_MIDDLEWARES":
            value = {**settings.getdict(name), **value}
        changed.set(name, value, priority="cmdline")
    return changed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"DOWNLOADER_MIDDLEWARES": {OUR_ROBOTS: None}},
            "ROBOTSTXT_OBEY is on but crawler.components.robots.SharedRobotsTxtMiddleware is not "
            "enabled in DOWNLOADER_MIDDLEWARES",
        ),
        (  # Scrapy's own lets requests through unchecked while robots.txt downloads
            {"DOWNLOADER_MIDDLEWARES": {OUR_ROBOTS: None, SCRAPY_ROBOTS: 100}},
            "ROBOTSTXT_OBEY is on but crawler.components.robots.SharedRobotsTxtMiddleware",
        ),
        (
            {"DOWNLOADER_MIDDLEWARES": {SCRAPY_ROBOTS: 100}},
            "DOWNLOADER_MIDDLEWARES enables 2 robots.txt middlewares",
        ),
        (
            {"DOWNLOADER_MIDDLEWARES": {"scrapy.downloadermiddlewares.retry.RetryMiddleware": 550}},
            "DOWNLOADER_MIDDLEWARES enables 2 retry middlewares",
        ),
        (
            {"AUTOTHROTTLE_MAX_DELAY": 0.5},
            "AUTOTHROTTLE_MAX_DELAY (0.5) is below DOWNLOAD_DELAY (1)",
        ),
    ],
)
def test_conflicting_settings_are_refused(
    settings: Settings, changes: dict[str, Any], message: str
) -> None:
    from crawler.components.settings_check import check_settings
    from crawler.config import ConflictingSettings

    with pytest.raises(ConflictingSettings, match=re.escape(message)):
        check_settings(_with(settings, **changes))


def test_no_conflict_once_the_pieces_agree(settings: Settings) -> None:
    from crawler.components.settings_check import conflicts

    robots_off = _with(settings, ROBOTSTXT_OBEY=False, DOWNLOADER_MIDDLEWARES={OUR_ROBOTS: None})
    assert conflicts(robots_off) == []
    no_throttle = _with(settings, AUTOTHROTTLE_ENABLED=False, AUTOTHROTTLE_MAX_DELAY=0.5)
    assert conflicts(no_throttle) == []


def test_a_crawl_with_conflicting_settings_stops_before_it_starts() -> None:
    from crawler.config import ConflictingSettings

    with pytest.raises(ConflictingSettings, match="AUTOTHROTTLE_MAX_DELAY"):
        get_crawler(
            settings_dict={
                "EXTENSIONS": {"crawler.components.settings_check.SettingsCheck": 0},
                "AUTOTHROTTLE_ENABLED": True,
                "DOWNLOAD_DELAY": 2,
                "AUTOTHROTTLE_MAX_DELAY": 1,
            }
        )


def test_scrapy_crawl_refuses_an_invalid_value_with_its_name(tmp_path: Path) -> None:
    result = _scrapy(
        "crawl",
        "antara_kalteng",
        "-a",
        "base_url=http://127.0.0.1:9",
        "-s",
        "ARCHIVE_BATCH_SIZE=-1",
        "-s",
        f"DATA_DIR={tmp_path}",
        "-s",
        "LOG_LEVEL=ERROR",
    )
    assert result.returncode != 0
    assert "ARCHIVE_BATCH_SIZE must be at least 1, got -1" in result.stderr


def test_components_repeat_no_default() -> None:
    """``settings.getint("NAME", 200)`` would be a second default, out of step one day."""
    import ast

    readers = {"get", "getint", "getfloat", "getbool", "getlist", "getdict", "getdictorlist"}
    repeated = []
    for package in ("crawler", "pipelines", "spiders"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in readers
                    and "settings" in ast.unparse(node.func.value)
                    and len(node.args) + len(node.keywords) > 1
                ):
                    repeated.append(
                        f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)}"
                    )
    assert not repeated, "\n".join(repeated)
