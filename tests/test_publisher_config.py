"""Publisher configs: the shipped ones load, every kind of mistake is named with its line, and
sites without a config get a name from their host."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sites.publisher_config import (
    CONFIG_DIR,
    SELECTOR_FIELDS,
    ConfigError,
    Discovery,
    PublisherConfig,
    load_config,
    selector_xpath,
    shipped_configs,
    source_name,
    zero_config,
)

VALID = """\
name = "kabar_test"
site_name = "Kabar Test"
home_url = "https://www.kabartest.co.id/"
region = "Kalimantan Tengah"
timezone = "Asia/Jakarta"

[discovery]
wp_api = false
feeds = ["/feed/", "https://feeds.kabartest.co.id/rss"]
article_pattern = '^/\\d{4}/\\d{2}/'

[selectors]
title = "h1.judul"
body = "//div[@class='isi']"
published_at = "meta[property='article:published_time']::attr(content)"
"""


def write(tmp_path: Path, text: str, name: str = "kabar_test.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_config_loads_with_its_values(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    config = load_config(path)
    assert config.name == "kabar_test"
    assert config.site_name == "Kabar Test"
    assert config.host == "www.kabartest.co.id"
    assert config.origin == "https://www.kabartest.co.id"
    assert config.region == "Kalimantan Tengah" and config.language == "id"
    assert config.discovery == Discovery(
        wp_api=False,
        feeds=("/feed/", "https://feeds.kabartest.co.id/rss"),
        article_pattern=r"^/\d{4}/\d{2}/",
    )
    assert dict(config.selectors) == {
        "title": "h1.judul",
        "body": "//div[@class='isi']",
        "published_at": "meta[property='article:published_time']::attr(content)",
    }
    assert config.source_file == path


def test_defaults_for_optional_keys(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, 'name = "x"\nsite_name = "X"\nhome_url = "https://x.example.org"\n')
    )
    assert config.home_url == "https://x.example.org/"
    assert (config.region, config.language, config.timezone) == (None, "id", "Asia/Jakarta")
    assert config.discovery == Discovery() and dict(config.selectors) == {}


# (text to put in place of a line of VALID, the line number the error must name, message part)
MISTAKES = [
    ('name = "Kabar Test"', 1, "must match"),
    ("site_name = 42", 2, "site_name must be a non-empty string"),
    ('home_url = "ftp://kabartest.co.id/"', 3, "not an http(s) URL"),
    ('timezone = "Asia/Palangkaraya"', 5, "not an IANA zone"),
    ('region = "Kalteng"\nsection = "x"', 5, "unknown key 'section'"),
    ("wp_api = 1", 8, "wp_api must be true or false"),
    ('feeds = "/feed/"', 9, "feeds must be a list of strings"),
    ('feeds = ["feed.xml"]', 9, "neither a path"),
    ("article_pattern = '^/(\\d{4}'", 10, "not a valid regex"),
    ('title = "h1..judul"', 13, "selector for title"),
    ("body = \"//div[@class='isi'\"", 14, "selector for body"),
]


@pytest.mark.parametrize(("replacement", "line", "message"), MISTAKES)
def test_mistakes_are_named_with_their_line(
    tmp_path: Path, replacement: str, line: int, message: str
) -> None:
    lines = VALID.splitlines()
    key = replacement.split("=")[0].strip()
    target = next(
        (i for i, text in enumerate(lines) if text.startswith(f"{key} ")),
        line - 1,  # a new key replaces the line it is reported on
    )
    lines[target] = replacement
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}:{line}: "), str(raised.value)
    assert message in str(raised.value)


def test_unknown_keys_in_tables_and_unknown_fields(tmp_path: Path) -> None:
    text = VALID.replace("wp_api = false", "wp_api = false\nsitemap = []")
    with pytest.raises(ConfigError, match=r":9: unknown key 'sitemap' in \[discovery\]"):
        load_config(write(tmp_path, text))
    text = VALID.replace('title = "h1.judul"', 'headline = "h1.judul"')
    with pytest.raises(ConfigError, match=r":13: unknown field 'headline' in \[selectors\]"):
        load_config(write(tmp_path, text))


def test_a_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.toml:1: missing required key 'home_url'"):
        load_config(write(tmp_path, 'name = "x"\nsite_name = "X"\n'))


def test_toml_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\nsite_name = "X\nhome_url = "https://x.org/"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}:2: TOML syntax error: ")
    assert "(column" in str(raised.value) and "(at line" not in str(raised.value)


def test_a_table_given_as_a_value_and_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":4: selectors must be a table"):
        load_config(
            write(
                tmp_path,
                'name = "x"\nsite_name = "X"\nhome_url = "https://x.org/"\nselectors = 1\n',
            )
        )
    with pytest.raises(ConfigError, match=r"missing\.toml:1: cannot read the config"):
        load_config(tmp_path / "missing.toml")


def test_selectors_compile_to_xpath() -> None:
    from lxml import html

    page = html.fromstring(
        '<html><head><meta name="x" content="2026"></head>'
        '<body><h1 class="judul besar">A</h1><h1>B</h1></body></html>'
    )
    assert selector_xpath("//h1") == "//h1"
    assert selector_xpath("(//h1)[1]") == "(//h1)[1]"
    assert [e.text for e in page.xpath(selector_xpath("h1.judul"))] == ["A"]
    assert page.xpath(selector_xpath("meta[name=x]::attr(content)")) == ["2026"]
    assert page.xpath(selector_xpath("h1::text")) == ["A", "B"]


def test_the_shipped_configs_are_the_four_publishers() -> None:
    configs = shipped_configs()
    assert set(configs) == {"tabengan", "prokalteng", "kalteng_tribunnews", "borneonews"}
    assert {c.source_file.name for c in configs.values() if c.source_file} == {
        f"{name}.toml" for name in configs
    }
    for config in configs.values():
        assert config.region == "Kalimantan Tengah" and config.timezone == "Asia/Jakarta"
        assert config.source_file is not None and config.source_file.parent == CONFIG_DIR
        assert set(config.selectors) <= set(SELECTOR_FIELDS)
        assert config.home_url == f"https://{config.host}/"
    assert configs["tabengan"].host == "www.tabengan.com"
    assert configs["kalteng_tribunnews"].discovery.wp_api is False
    assert shipped_configs() is configs  # loaded once


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("kalteng.tribunnews.com", "kalteng_tribunnews"),
        ("www.tabengan.com", "tabengan"),
        ("borneonews.co.id", "borneonews"),
        ("www.borneonews.co.id", "borneonews"),
        ("m.kalteng.tribunnews.com", "kalteng_tribunnews"),
        ("amp.kompas.com", "kompas"),
        ("prokalteng.jawapos.com", "prokalteng_jawapos"),
        ("KALTENGPOS.JAWAPOS.COM.", "kaltengpos_jawapos"),
        ("www.kabar-sampit.id:8080", "kabar_sampit"),
        ("https://www.tabengan.com/read/x/", "tabengan"),
        ("127.0.0.1", "site_127_0_0_1"),
        ("localhost", "localhost"),
        ("86news.co.id", "site_86news"),
    ],
)
def test_source_name(host: str, name: str) -> None:
    assert source_name(host) == name


def test_zero_config() -> None:
    config = zero_config("https://www.kabarbarito.id/2026/01/30/jembatan-putus?utm_source=x")
    assert config == PublisherConfig(
        name="kabarbarito", site_name="www.kabarbarito.id", home_url="https://www.kabarbarito.id/"
    )
    assert config.region is None and config.timezone == "Asia/Jakarta"
    assert config.discovery == Discovery() and config.source_file is None
    mirror = zero_config("http://127.0.0.1:8765/")
    assert (mirror.host, mirror.origin, mirror.name) == (
        "127.0.0.1",
        "http://127.0.0.1:8765",
        "site_127_0_0_1",
    )
    with pytest.raises(ConfigError):
        zero_config("mailto:redaksi@kabarbarito.id")
