"""``python -m crawler extract FILE``: one page file, parsed offline, printed or as JSON."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.cli.main import cli

FIXTURES = Path(__file__).parent / "fixtures"
TRIBUN_PAGE = (
    FIXTURES / "kalteng_tribunnews/site/2026/01/27/"
    "banjir-rendam-jalan-tjilik-riwut-km-38-kendaraan-kecil-diminta-putar-arah.html"
)
TRIBUN_EXPECTED = (
    FIXTURES
    / "kalteng_tribunnews/expected/2026-01-27-banjir-rendam-jalan-tjilik-riwut-km-38-k.json"
)
ZERO_CONFIG_PAGE = FIXTURES / "zero_config/kabarbarito-article.html"


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["extract", *args], input=stdin)


def test_json_is_the_expected_record_with_its_layers() -> None:
    result = run(str(TRIBUN_PAGE), "--json")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    expected = json.loads(TRIBUN_EXPECTED.read_text(encoding="utf-8"))
    assert {k: v for k, v in output["record"].items() if k != "crawled_at"} == expected
    assert output["parser"].startswith("GenericSite('kalteng_tribunnews', config ")
    assert output["layers"]["title"] == "site" and output["layers"]["description"] == "jsonld"
    assert output["layers"]["published_at"] == "site"
    assert output["layers"]["modified_at"] == "jsonld"
    assert "jsonld/image_url" in output["fallbacks"]
    assert output["problems"] == [] and output["missing_required"] == []


def test_the_url_comes_from_the_canonical_link_or_the_option() -> None:
    # The canonical link names the live URL, so the publisher's config parses the page.
    assert json.loads(run(str(TRIBUN_PAGE), "--json").stdout)["record"]["source"] == (
        "kalteng_tribunnews"
    )
    # Another URL, another parser: an unknown host gets the zero-config generic site.
    result = run(str(TRIBUN_PAGE), "--json", "--url", "https://arsip.example.org/banjir-km-38-x")
    output = json.loads(result.stdout)
    assert output["record"]["source"] == "arsip_example"
    assert output["parser"] == "GenericSite('arsip_example', zero config)"
    assert output["record"]["region"] is None


def test_an_antara_page_gets_antaras_parser() -> None:
    meta = json.loads((FIXTURES / "antara_kalteng/meta.json").read_text(encoding="utf-8"))
    entry = next(e for e in meta["files"] if e["kind"] == "article")
    result = run(str(FIXTURES / "antara_kalteng" / entry["path"]), "--url", entry["url"], "--json")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    expected = json.loads((FIXTURES / "antara_kalteng" / entry["expected"]).read_text("utf-8"))
    assert output["parser"] == "AntaraSite('antara_kalteng')"
    assert {k: v for k, v in output["record"].items() if k != "crawled_at"} == expected


def test_human_output_shows_fields_layers_and_a_shortened_body() -> None:
    result = run(str(ZERO_CONFIG_PAGE))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "parser           GenericSite('kabarbarito', zero config)"
    assert (
        "title            Jembatan Gantung Desa Lemo Putus, Warga Seberangi Sungai Pakai Perahu"
        "  [jsonld]"
    ) in lines
    assert "published_at     2026-01-30T00:45:00Z  (raw: 2026-01-30T07:45:00+07:00)  [jsonld]" in (
        lines
    )
    assert "authors          Yohanes Dwi  [jsonld]" in lines
    assert "body [generic], 4 paragraphs, 121 words:" in lines
    assert result.stdout.rstrip().endswith("[…]")


def test_stdin_and_gzip(tmp_path: Path) -> None:
    page = ZERO_CONFIG_PAGE.read_bytes()
    from_stdin = run("-", "--json", stdin=page)
    assert from_stdin.exit_code == 0, from_stdin.output
    packed = tmp_path / "page.html.gz"
    packed.write_bytes(gzip.compress(page))
    from_gzip = run(str(packed), "--json")
    assert from_gzip.exit_code == 0, from_gzip.output
    assert json.loads(from_gzip.stdout) == json.loads(from_stdin.stdout)
    gzip_on_stdin = run("-", "--json", stdin=gzip.compress(page))
    assert json.loads(gzip_on_stdin.stdout) == json.loads(from_stdin.stdout)


def test_a_windows_1252_page_is_decoded(tmp_path: Path) -> None:
    page = (
        '<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body>'
        "<h1>Kafe \u201cLawas\u201d</h1><article><p>Isi.</p></article></body></html>"
    ).encode("cp1252")
    path = tmp_path / "page.html"
    path.write_bytes(page)
    result = run(str(path), "--url", "https://kabar.example.org/kafe-lawas-dibuka-lagi", "--json")
    assert json.loads(result.stdout)["record"]["title"] == "Kafe \u201cLawas\u201d"


def test_bad_input_is_one_line_and_an_exit_code(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"  \n")
    not_html = tmp_path / "record.json"
    not_html.write_text('{"title": "x"}', encoding="utf-8")
    binary = tmp_path / "image.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 400)
    fake_gzip = tmp_path / "page.html.gz"
    fake_gzip.write_bytes(b"<html></html>")
    broken_gzip = tmp_path / "broken.gz"
    broken_gzip.write_bytes(gzip.compress(ZERO_CONFIG_PAGE.read_bytes())[:200])
    no_url = tmp_path / "no-url.html"
    no_url.write_text("<html><body><p>Isi.</p></body></html>", encoding="utf-8")
    cases = [
        ((str(tmp_path / "missing.html"),), 2, "no such file"),
        ((str(tmp_path),), 2, "is a directory"),
        ((str(empty),), 65, "is empty"),
        ((str(not_html),), 65, "is not an HTML page"),
        ((str(binary),), 65, "is binary"),
        ((str(fake_gzip),), 2, "is named .gz but is not gzip"),
        ((str(broken_gzip),), 65, "is not a readable gzip file"),
        ((str(no_url),), 2, "names no canonical URL or og:url: give --url URL"),
        ((str(no_url), "--url", "javascript:alert(1)"), 2, "is not an http(s) URL"),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.html"
    path.write_text("<html></html>", encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # Root reads a file of mode 000 anyway, so the refusal is simulated.
    monkeypatch.setattr(Path, "open", refuse)
    result = run(str(path))
    assert result.exit_code == 74
    assert "cannot read" in result.output and "Permission denied" in result.output


def test_a_saved_rest_api_response_gives_one_record_per_post() -> None:
    root = FIXTURES / "tabengan"
    result = run(str(root / "wp-json-posts.json"), "--json")
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)
    meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
    entry = next(e for e in meta["files"] if e["kind"] == "wp-posts")
    assert len(outputs) == len(entry["expected"]) == 2
    for output, expected_path in zip(outputs, entry["expected"], strict=True):
        expected = json.loads((root / expected_path).read_text(encoding="utf-8"))
        assert {k: v for k, v in output["record"].items() if k != "crawled_at"} == expected
        assert output["parser"].startswith("GenericSite('tabengan', config ")
    assert "byline/authors" in outputs[1]["fallbacks"]
    human = run(str(root / "wp-json-posts.json"))
    assert human.exit_code == 0 and human.stdout.count("\nparser ") == 1


def test_a_rest_api_post_of_a_site_without_one(tmp_path: Path) -> None:
    path = tmp_path / "post.json"
    path.write_text(
        json.dumps({"title": {"rendered": "x"}, "content": {"rendered": "<p>x</p>"}}),
        encoding="utf-8",
    )
    assert "has no link: give --url URL" in run(str(path)).output
    result = run(str(path), "--url", "https://kalteng.antaranews.com/berita/1/x")
    assert result.exit_code == 2 and "has no WordPress REST API parser" in result.output
    result = run(str(path), "--url", "https://www.kabarbarito.id/a-b-c", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["record"]["title"] == "x"
