"""The project settings: politeness, retries, pipeline order, browser, and spider discovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

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
