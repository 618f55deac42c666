"""Show (and with --write, store) what the parsers now make of every saved article page.

    python -m tests.regenerate_expected            # diff per page and field, exit 1 if any
    python -m tests.regenerate_expected --write    # rewrite expected/<id>.json

Every source of ``crawler.sites.SITES`` with a ``tests/fixtures/<source>/meta.json`` is read:
the ANTARA desks and the publishers of the shipped configs. Entries of kind ``article`` are
pages (``expected`` names their record); entries of kind ``wp-posts`` are WordPress REST API
responses (a JSON list of posts; ``expected`` lists one record per post, in order).

Run it after a parser change so a reviewer sees, field by field, what the change does to the
records; commit the rewritten expected JSON with the change that caused it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from crawler.extract.normalize import iso_utc, normalize_article
from crawler.items import Article
from crawler.sites import SITES
from crawler.sites.generic import GenericSite

FIXTURES = Path(__file__).parent / "fixtures"
DATETIME_FIELDS = ("published_at", "modified_at")


def fixture_sources() -> list[str]:
    """Every source with a fixture directory (``tests/fixtures/<source>/meta.json``)."""
    return sorted(
        path.parent.name for path in FIXTURES.glob("*/meta.json") if path.parent.name in SITES
    )


def record_of(article: Article) -> dict[str, object]:
    """The normalised record of ``article`` as expected JSON holds it (no ``crawled_at``,
    datetimes as ISO 8601 UTC text)."""
    article = normalize_article(article)
    record = {k: v for k, v in vars(article).items() if k != "crawled_at"}
    for name in DATETIME_FIELDS:
        record[name] = iso_utc(record[name])  # type: ignore[arg-type]
    return record


def current_record(source: str, html: str, url: str) -> dict[str, object]:
    return record_of(SITES[source].parse_article(html, url).article)


def current_wp_records(source: str, posts: list[dict[str, Any]]) -> list[dict[str, object]]:
    """The records of the posts of a WordPress REST API response of ``source``."""
    site = SITES[source]
    assert isinstance(site, GenericSite), f"{source} has no REST API parser"
    return [record_of(site.parse_wp_post(post).article) for post in posts]


def entry_records(source: str, entry: dict[str, Any]) -> list[tuple[Path, dict[str, object]]]:
    """(expected path, current record) of every record a meta.json entry yields."""
    root = FIXTURES / source
    if entry["kind"] == "article":
        html = (root / entry["path"]).read_text(encoding="utf-8")
        return [(root / entry["expected"], current_record(source, html, entry["url"]))]
    if entry["kind"] == "wp-posts":
        posts = json.loads((root / entry["path"]).read_text(encoding="utf-8"))
        records = current_wp_records(source, posts)
        assert len(records) == len(entry["expected"]), f"{entry['path']}: one record per post"
        return [
            (root / path, record) for path, record in zip(entry["expected"], records, strict=True)
        ]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the expected JSON files")
    args = parser.parse_args()
    changed = 0
    for source in fixture_sources():
        root = FIXTURES / source
        meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
        for expected_path, record in (
            pair for entry in meta["files"] for pair in entry_records(source, entry)
        ):
            old = expected_path.read_text(encoding="utf-8") if expected_path.exists() else ""
            new = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
            if old == new or (old and json.loads(old) == record):
                continue
            changed += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    str(expected_path),
                    "parser output",
                )
            )
            if args.write:
                expected_path.write_text(new, encoding="utf-8")
    print(f"{changed} expected record(s) {'rewritten' if args.write else 'differ'}")
    return 1 if changed and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
