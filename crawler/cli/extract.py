"""``python -m crawler extract FILE``: run the extraction offline on one page file.

For a user checking why a page came out as it did, and for evaluating the generic extractor on
any corpus of downloaded pages. The page is parsed as the crawl would parse it: by the site's own
parser when its URL belongs to a known site (an ANTARA desk, a shipped publisher config), else
by the generic layers (:func:`crawler.sites.site_for_url`), then normalised as the pipeline
does. Nothing is fetched and nothing is written to the archive.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import zlib
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from lxml import etree
from w3lib.encoding import html_body_declared_encoding

from crawler.archive.export import csv_cell, to_jsonable
from crawler.cli.options import EXIT_DATAERR, EXIT_IO_ERROR, EXIT_USAGE, ArchiveCommand, fail
from crawler.extract.decode import decode_html
from crawler.extract.html_tree import parse_html
from crawler.extract.layers import ParsedArticle
from crawler.extract.normalize import normalize_article
from crawler.items import REQUIRED_FIELDS, Article, missing_required
from crawler.sites import site_for_url
from crawler.sites.generic import GenericSite

#: Pages bigger than this are no article page (the archive's pages are ~50-300 KB).
MAX_PAGE_BYTES = 50 * 1024 * 1024
#: How much of the body the human-readable output shows.
BODY_PREVIEW_CHARS = 600
_GZIP_MAGIC = b"\x1f\x8b"
#: Some element an HTML page has; a JSON, CSS or plain-text file has none.
_HTML_TAG = re.compile(
    r"<\s*(html|head|body|title|meta|div|p|article|main|section|h1|span|a|script|link)\b",
    re.IGNORECASE,
)
_CANONICAL = etree.XPath(
    "//link[translate(@rel, 'CANOICL', 'canoicl')='canonical']/@href"
    " | //meta[@property='og:url']/@content"
)
#: Fields shown without a layer: the parser's context or derived from other fields.
_CONTEXT_FIELDS = ("url", "source", "site_name", "region", "language", "word_count")
_DERIVED = {
    "published_at": "published_at_raw",
    "content_hash": "body",
    "dateline": "body",
    "image_credit": "image_caption",
}


def read_page(file: str) -> bytes:
    """The bytes of ``file`` (``-``: stdin), gunzipped when they are gzip; exits 2 for a file
    that does not exist or a ``.gz`` that is not gzip, 74 when it cannot be read, 65 when it
    is too big or a broken gzip stream."""
    if file == "-":
        data = sys.stdin.buffer.read(MAX_PAGE_BYTES + 1)
        name = "stdin"
    else:
        path = Path(file)
        if not path.exists():
            fail(EXIT_USAGE, f"no such file: {file}")
        if path.is_dir():
            fail(EXIT_USAGE, f"{file} is a directory, not a page file")
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PAGE_BYTES + 1)
        except OSError as exc:
            fail(EXIT_IO_ERROR, f"cannot read {file}: {exc.strerror or exc}")
        name = file
    if data.startswith(_GZIP_MAGIC):
        try:
            # Bounded: a gzip bomb must not fill the memory.
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = decompressor.decompress(data, MAX_PAGE_BYTES + 1)
            if not decompressor.eof and len(data) <= MAX_PAGE_BYTES:
                raise EOFError("truncated")
        except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
            fail(EXIT_DATAERR, f"{name} is not a readable gzip file: {exc}")
    elif name.endswith(".gz"):
        fail(EXIT_USAGE, f"{name} is named .gz but is not gzip")
    if len(data) > MAX_PAGE_BYTES:
        fail(EXIT_DATAERR, f"{name} is over {MAX_PAGE_BYTES // (1024 * 1024)} MB: not a page")
    return data


def page_text(data: bytes, name: str) -> str:
    """The page's text (the crawl's decoder, the page's ``<meta charset>`` as its declared
    encoding); exits 65 for an empty file or one that is not HTML."""
    if not data.strip():
        fail(EXIT_DATAERR, f"{name} is empty")
    if data.count(b"\x00") > len(data) // 100:
        fail(EXIT_DATAERR, f"{name} is binary, not an HTML page")
    text = decode_html(data, html_body_declared_encoding(data))
    if not _HTML_TAG.search(text[:200_000]):
        fail(EXIT_DATAERR, f"{name} is not an HTML page (no HTML element in it)")
    return text


def page_url(text: str) -> str | None:
    """The page's own URL: its canonical link, else its ``og:url``."""
    for value in _CANONICAL(parse_html(text)):
        url = str(value).strip()
        if urlsplit(url).scheme in ("http", "https"):
            return url
    return None


def field_layers(parsed: ParsedArticle, article: Article) -> dict[str, str]:
    """Field -> the layer its value came from: ``site`` (the parser's own selectors), a
    fallback layer (``jsonld``, ``meta``, ``page``, ``byline``, ``generic``...), or ``-``."""
    layers: dict[str, str] = {}
    for fallback in parsed.fallbacks:
        layer, _, name = fallback.partition("/")
        if name:
            layers.setdefault(name, layer)
    result: dict[str, str] = {}
    for item in fields(Article):
        name = item.name
        if name in _CONTEXT_FIELDS or name == "crawled_at":
            continue
        value = getattr(article, name)
        source = _DERIVED.get(name, name)
        if value in (None, "", [], 0):
            result[name] = "-"
        else:
            result[name] = layers.get(name) or layers.get(source) or "site"
    return result


def parser_name(site: Any) -> str:
    if isinstance(site, GenericSite):
        config = site.config
        where = f"config {config.source_file}" if config.source_file else "zero config"
        return f"{type(site).__name__}({site.source!r}, {where})"
    return repr(site)


def wp_posts(text: str) -> list[dict[str, Any]] | None:
    """The posts of a saved WordPress REST API response (``/wp-json/wp/v2/posts``: a list of
    post objects, or one post), or None if ``text`` is not one."""
    if not text.lstrip().startswith(("[", "{")):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    posts = data if isinstance(data, list) else [data]
    if posts and all(isinstance(p, dict) and "content" in p and "title" in p for p in posts):
        return posts
    return None


def report(site: Any, parsed: ParsedArticle) -> dict[str, Any]:
    """The normalised record of ``parsed`` and how it was made, as ``--json`` prints it."""
    problems = list(parsed.problems)
    article = normalize_article(parsed.article, default_tz=site.timezone, problems=problems)
    record = to_jsonable(vars(article))
    return {
        "parser": parser_name(site),
        "record": record,
        "layers": field_layers(parsed, article),
        "fallbacks": parsed.fallbacks,
        "problems": problems,
        "missing_required": missing_required(record),
    }


def print_report(output: dict[str, Any]) -> None:
    """``output`` (:func:`report`) for people: one field a line with its layer, body shortened."""
    record, layers = output["record"], output["layers"]
    click.echo(f"{'parser':16} {output['parser']}")
    for item in fields(Article):
        key = item.name
        if key in ("body", "crawled_at"):
            continue
        value = csv_cell(key, record.get(key)) or "-"
        if key == "published_at" and record.get("published_at_raw"):
            value = f"{value}  (raw: {record['published_at_raw']})"
        layer = f"  [{layers[key]}]" if key in layers and layers[key] != "-" else ""
        click.echo(f"{key:16} {value}{layer}")
    click.echo(f"{'problems':16} {', '.join(output['problems']) or '-'}")
    if output["missing_required"]:
        required = ", ".join(REQUIRED_FIELDS)
        missing = ", ".join(output["missing_required"])
        click.echo(f"{'missing':16} {missing} (the archive requires {required})")
    body = record.get("body") or ""
    preview = body if len(body) <= BODY_PREVIEW_CHARS else body[:BODY_PREVIEW_CHARS] + " […]"
    paragraphs = len(body.split("\n\n")) if body else 0
    words = record.get("word_count")
    click.echo(f"\nbody [{layers['body']}], {paragraphs} paragraphs, {words} words:")
    click.echo(preview or "-")


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--url {url!r} is not an http(s) URL")
    return url.strip()


def extract_posts(posts: list[dict[str, Any]], url: str | None, name: str) -> list[dict[str, Any]]:
    """The reports of the posts of a REST API response; the site is the one of ``url`` (or
    of each post's ``link``), which must be a generic publisher (ANTARA has no REST API)."""
    outputs = []
    for number, post in enumerate(posts, start=1):
        link = url or (post.get("link") if isinstance(post.get("link"), str) else None)
        if not link:
            raise click.UsageError(f"{name}: post {number} has no link: give --url URL")
        site = site_for_url(_checked_url(link))
        if not isinstance(site, GenericSite):
            raise click.UsageError(f"{name}: {site.host} has no WordPress REST API parser")
        outputs.append(report(site, site.parse_wp_post(post)))
    return outputs


@click.command(cls=ArchiveCommand)
@click.argument("file", metavar="FILE")
@click.option(
    "--url",
    metavar="URL",
    help="The page's live URL (picks the parser); default: its canonical link or og:url.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object: {"parser", "record", "layers", "fallbacks", "problems",'
    ' "missing_required"} (a list of them for a REST API response).',
)
def extract(file: str, url: str | None, as_json: bool) -> None:
    """Extract the article record from one page file FILE (`-`: stdin; gzip accepted),
    offline, with the known site's parser or else the generic layers, and show which layer
    each field came from. FILE may also be a saved WordPress REST API response
    (/wp-json/wp/v2/posts?_embed=1): each post is extracted.

    Exit codes: 0 parsed (even if fields are missing), 2 usage error (no URL, no such file),
    65 not a page (empty, binary, not HTML), 74 the file cannot be read.
    """
    data = read_page(file)
    name = "stdin" if file == "-" else file
    if not data.strip():
        fail(EXIT_DATAERR, f"{name} is empty")
    posts = wp_posts(decode_html(data, "utf-8"))
    if posts is not None:
        outputs = extract_posts(posts, url, name)
        if as_json:
            click.echo(json.dumps(outputs, ensure_ascii=False, indent=2))
            return
        for number, output in enumerate(outputs):
            if number:
                click.echo("")
            print_report(output)
        return
    text = page_text(data, name)
    if url is None:
        url = page_url(text)
        if url is None:
            raise click.UsageError(f"{name} names no canonical URL or og:url: give --url URL")
    site = site_for_url(_checked_url(url))
    output = report(site, site.parse_article(text, url))
    if as_json:
        click.echo(json.dumps(output, ensure_ascii=False, indent=2))
    else:
        print_report(output)
