"""Show (and with --write, store) what the parsers now make of every saved article page.

    python -m tests.regenerate_expected            # diff per page and field, exit 1 if any
    python -m tests.regenerate_expected --write    # rewrite expected/<id>.json

Run it after a parser change so a reviewer sees, field by field, what the change does to the
records; commit the rewritten expected JSON with the change that caused it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from crawler.extract.normalize import iso_utc, normalize_article
from crawler.sites import SITES

FIXTURES = Path(__file__).parent / "fixtures"
DATETIME_FIELDS = ("published_at", "modified_at")


def fixture_sources() -> list[str]:
    """Every source with a fixture directory (``tests/fixtures/<source>/meta.json``)."""
    return sorted(
        path.parent.name for path in FIXTURES.glob("*/meta.json") if path.parent.name in SITES
    )


def current_record(source: str, html: str, url: str) -> dict[str, object]:
    article = normalize_article(SITES[source].parse_article(html, url).article)
    record = {k: v for k, v in vars(article).items() if k != "crawled_at"}
    for name in DATETIME_FIELDS:
        record[name] = iso_utc(record[name])  # type: ignore[arg-type]
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the expected JSON files")
    args = parser.parse_args()
    changed = 0
    for source in fixture_sources():
        root = FIXTURES / source
        meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
        for entry in meta["files"]:
            if entry["kind"] != "article":
                continue
            html = (root / entry["path"]).read_text(encoding="utf-8")
            record = current_record(source, html, entry["url"])
            expected_path = root / entry["expected"]
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
