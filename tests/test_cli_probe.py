"""``python -m crawler probe URL``: against the three generated publisher mirrors."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.cli.main import cli
from crawler.sites.publisher_config import load_config
from tests.publisher_mirrors import BareMirror, PublisherMirror, SitemapMirror, WordPressMirror


def probe(mirror: PublisherMirror, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["probe", mirror.live + "/", "--base-url", mirror.base_url, "--delay", "0", *args]
    )


def coverage_line(output: str, field: str) -> str:
    [line] = [line for line in output.splitlines() if line.strip().startswith(f"{field} ")]
    return " ".join(line.split())


def test_a_wordpress_site(tmp_path: Path) -> None:
    config_file = tmp_path / "tabengan.toml"
    with WordPressMirror() as mirror:
        result = probe(mirror, "--pages", "3", "--write-config", str(config_file))
        counts = mirror.counts
    assert result.exit_code == 0, result.output
    assert "wp_api   yes  https://www.tabengan.com/wp-json/ (120 posts)" in result.output
    assert "The news spider would use: wp_api" in result.output
    assert "Sample: 3 article(s) from the REST API" in result.output
    assert coverage_line(result.output, "title") == "title 3/3 100%"
    assert not [path for path in counts if path.startswith("/read/")]  # no page downloaded
    assert counts["/robots.txt"] == 1
    config = load_config(config_file)
    assert (config.name, config.home_url, config.discovery.wp_api) == (
        "tabengan",
        "https://www.tabengan.com/",
        True,
    )


def test_a_sitemap_site(tmp_path: Path) -> None:
    with SitemapMirror() as mirror:
        result = probe(mirror, "--write-config", str(tmp_path / "tribun.toml"))
        counts = mirror.counts
    assert result.exit_code == 0, result.output
    assert "wp_api   no" in result.output
    assert "sitemap  yes  index of 3 at https://kalteng.tribunnews.com/sitemap/index.xml" in (
        result.output
    )
    assert "The news spider would use: sitemap" in result.output
    assert "Sample: 5 article(s) from article pages found by sitemap" in result.output
    assert coverage_line(result.output, "authors") == "authors 5/5 100%"
    assert sum(1 for path in counts if path.startswith("/2026/")) == 5
    config = load_config(tmp_path / "tribun.toml")
    # robots.txt names the sitemap: the config needs no hint for it.
    assert config.discovery.wp_api is False and config.discovery.sitemaps == ()


def test_a_bare_site(tmp_path: Path) -> None:
    with BareMirror() as mirror:
        result = probe(mirror, "--pages", "2", "--write-config", str(tmp_path / "bare.toml"))
    assert result.exit_code == 0, result.output
    for method in ("wp_api", "sitemap", "feed"):
        assert f"{method:8} no" in result.output
    assert "listing  yes  8 article links on the home page; next page" in result.output
    assert "The news spider would use: listing" in result.output
    assert coverage_line(result.output, "published_at") == "published_at 2/2 100%"
    assert load_config(tmp_path / "bare.toml").name == "borneonews"


def test_robots_txt_is_obeyed_and_requests_are_spaced() -> None:
    with BareMirror() as mirror:
        mirror.add_page("/robots.txt", "User-agent: *\nDisallow: /berita/\n")
        result = probe(mirror, "--delay", "0.2", "--pages", "2")
        times = sorted(t for path in mirror.counts for t in mirror.times(path))
        article_requests = [path for path in mirror.counts if path.startswith("/berita/")]
    assert result.exit_code == 0, result.output
    assert "forbidden by robots.txt: https://www.borneonews.co.id/berita/" in result.output
    assert article_requests == []
    assert all(later - earlier >= 0.18 for earlier, later in itertools.pairwise(times))


def test_a_site_that_forbids_everything_finds_nothing() -> None:
    with BareMirror() as mirror:
        mirror.add_page("/robots.txt", "User-agent: *\nDisallow: /\n")
        result = probe(mirror)
        counts = mirror.counts
    assert result.exit_code == 1
    assert "the home page could not be fetched (forbidden by robots.txt)" in result.output
    assert counts == {"/robots.txt": 1}


def test_an_existing_config_is_not_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "mine.toml"
    existing.write_text("# mine\n", encoding="utf-8")
    with BareMirror() as mirror:
        result = probe(mirror, "--write-config", str(existing))
        assert mirror.counts == {}
    assert result.exit_code == 2 and "exists" in result.output
    assert existing.read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize("pages", ["0", "51"])
def test_pages_is_bounded(pages: str) -> None:
    result = CliRunner().invoke(cli, ["probe", "https://x.id/", "--pages", pages])
    assert result.exit_code == 2
