"""Extraction quality and speed on the publisher fixtures: ours against general extractors.

Usage (from the repository root, in the project's virtualenv)::

    python bench/bench_extraction.py [--rounds N]

Two page sets, each page with its expected record (``kind == "article"`` in ``meta.json``):
the shipped publishers' fixtures (``tests/fixtures/<name>/`` for each
``crawler/sites/publishers/<name>.toml``), and the ANTARA desks' fixtures, on which the generic
layers were never tuned (a held-out check). On each page, in one process:

- **ours**: ``crawler.sites.site_for(name).parse_article(html, url)`` + ``normalize_article``,
  the publisher's config selectors first, then the generic layers (the record the archive gets);
  on the ANTARA pages, ANTARA's own parser;
- **ours, zero config**: the same parser with no config (``GenericSite(zero_config(url))``):
  JSON-LD, meta, CMS body containers and trafilatura only, as for a site nobody described;
- **trafilatura**: ``trafilatura.extract(html, url=url, output_format="json",
  with_metadata=True)``;
- **news-please** ``NewsPlease.from_html(html, url=url, fetch_images=False)``, with
  ``--news-please-python PYTHON``: an interpreter of a separate virtualenv with news-please
  (installing it into the project's would downgrade the pinned lxml/cssselect), run as a worker
  process on the same pages. Fundus is left out: it extracts only publishers it has a parser
  for, and has none for these.

Quality: body token-F1 against the expected body (bag of lower-case word tokens), how many
pages keep boilerplate in the body (:data:`BOILERPLATE_MARKERS`), and how many of
:data:`FIELDS` are exactly right (``date``: the local publication day in the site's zone, as
the other extractors give no time; "UTC minute": the publication instant to the
minute, ours only; lists compared
as case-insensitive sets). Speed: pages/s over N rounds (default 20) after one warm-up round.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent


def news_please_worker(rounds: int) -> None:
    """Run news-please on the pages given on stdin (``[{"url", "html"}]``), in an interpreter
    that has it (its own virtualenv: it would downgrade the project's pinned lxml/cssselect);
    print ``{"results": [...], "pages_per_second": x}``."""
    from newsplease import NewsPlease

    pages = json.load(sys.stdin)

    def run(page: dict[str, str]) -> dict[str, Any]:
        article = NewsPlease.from_html(page["html"], url=page["url"], fetch_images=False)
        published = article.date_publish
        return {
            "body": article.maintext,
            "title": article.title,
            "date": published.isoformat() if published else None,
            "authors": list(article.authors or []),
            "image_url": article.image_url,
        }

    results = [run(page) for page in pages]  # also the warm-up round
    started = time.perf_counter()
    for _ in range(rounds):
        for page in pages:
            run(page)
    speed = rounds * len(pages) / (time.perf_counter() - started)
    json.dump({"results": results, "pages_per_second": speed}, sys.stdout)


if __name__ == "__main__" and "--news-please-worker" in sys.argv:
    news_please_worker(int(sys.argv[sys.argv.index("--news-please-worker") + 1]))
    sys.exit(0)

sys.path.insert(0, str(REPO_ROOT))

from crawler.extract.normalize import iso_utc, normalize_article  # noqa: E402
from crawler.sites import PUBLISHERS, site_for  # noqa: E402
from crawler.sites.generic import GenericSite  # noqa: E402
from crawler.sites.publisher_config import zero_config  # noqa: E402

FIXTURES = REPO_ROOT / "tests" / "fixtures"
FIELDS = ("title", "date", "authors", "category", "tags", "image_url")
#: Text that is never article text on these pages: read-also links, ads, bylines, share bars,
#: datelines left in, reporter initials.
BOILERPLATE_MARKERS = (
    "baca juga",
    "advertisement",
    "penulis:",
    "editor:",
    "bagikan:",
    "share on",
    "tribunkalteng.com,",
    "/tabengan.com",
    "borneonews,",
    "(dha/ens)",
    "(agp/rz)",
    "ikuti saluran",
)
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Page:
    source: str
    url: str
    html: str
    expected: dict[str, Any]
    timezone: str


@dataclass
class Extracted:
    body: str | None
    values: dict[str, Any]


def load_pages(sources: list[str]) -> list[Page]:
    pages = []
    for source in sources:
        root = FIXTURES / source
        meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
        for entry in meta["files"]:
            if entry["kind"] == "article":
                pages.append(
                    Page(
                        source,
                        entry["url"],
                        (root / entry["path"]).read_text(encoding="utf-8"),
                        json.loads((root / entry["expected"]).read_text(encoding="utf-8")),
                        site_for(source).timezone,
                    )
                )
    return pages


def local_day(value: datetime | str | None, zone: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.date().isoformat()
    return value.astimezone(ZoneInfo(zone)).date().isoformat()


def names(value: Any) -> set[str]:
    if not value:
        return set()
    items = value if isinstance(value, list) else re.split(r"\s*[;,]\s*", str(value))
    return {str(item).strip().casefold() for item in items if str(item).strip()}


# --- the extractors ----------------------------------------------------------------------------


def ours(page: Page) -> Extracted:
    article = normalize_article(site_for(page.source).parse_article(page.html, page.url).article)
    return _from_article(article, page)


def ours_zero_config(page: Page) -> Extracted:
    site = GenericSite(zero_config(page.url))
    article = normalize_article(site.parse_article(page.html, page.url).article)
    return _from_article(article, page)


def _from_article(article: Any, page: Page) -> Extracted:
    return Extracted(
        article.body,
        {
            "title": article.title,
            "date": local_day(article.published_at, page.timezone),
            "published_at": iso_utc(article.published_at),
            "authors": names(article.authors),
            "category": article.category,
            "tags": names(article.tags),
            "image_url": article.image_url,
        },
    )


def trafilatura_extract(page: Page) -> Extracted:
    import trafilatura

    raw = trafilatura.extract(page.html, url=page.url, output_format="json", with_metadata=True)
    data = json.loads(raw) if raw else {}
    categories = [c for c in re.split(r"\s*[;,]\s*", data.get("categories") or "") if c]
    return Extracted(
        data.get("text"),
        {
            "title": data.get("title"),
            "date": local_day(data.get("date"), page.timezone),
            "authors": names(data.get("author")),
            "category": categories[0] if categories else None,
            "tags": names(data.get("tags")),
            "image_url": data.get("image"),
        },
    )


def news_please_results(
    python: str, pages: list[Page], rounds: int
) -> tuple[list[Extracted], float]:
    """news-please's extraction of ``pages`` and its pages/s, run by ``python`` (an
    interpreter with news-please installed) in a worker process."""
    payload = json.dumps([{"url": page.url, "html": page.html} for page in pages])
    done = subprocess.run(
        [python, __file__, "--news-please-worker", str(rounds)],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    output = json.loads(done.stdout)
    extracted = [
        Extracted(
            result["body"],
            {
                "title": result["title"],
                # news-please gives a naive local time (the page's own zone).
                "date": local_day(result["date"][:10] if result["date"] else None, page.timezone),
                "authors": names(result["authors"]),
                "category": None,
                "tags": set(),
                "image_url": result["image_url"],
            },
        )
        for page, result in zip(pages, output["results"], strict=True)
    ]
    return extracted, float(output["pages_per_second"])


# --- scoring -----------------------------------------------------------------------------------


def token_f1(predicted: str | None, expected: str | None) -> float:
    got = Counter(_TOKEN.findall((predicted or "").casefold()))
    want = Counter(_TOKEN.findall((expected or "").casefold()))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def expected_values(page: Page) -> dict[str, Any]:
    expected = page.expected
    return {
        "title": expected["title"],
        "date": local_day(expected["published_at"], page.timezone),
        "published_at": expected["published_at"],
        "authors": names(expected["authors"]),
        "category": expected["category"],
        "tags": names(expected["tags"]),
        "image_url": expected["image_url"],
    }


@dataclass
class Score:
    f1: float
    exact: int
    total: int
    leaks: int
    published_exact: int | None
    pages_per_second: float
    wrong: Counter[str]


def score(extract: Callable[[Page], Extracted], pages: list[Page], rounds: int) -> Score:
    results = [extract(page) for page in pages]  # also the warm-up round
    started = time.perf_counter()
    for _ in range(rounds):
        for page in pages:
            extract(page)
    return score_results(pages, results, rounds * len(pages) / (time.perf_counter() - started))


def score_results(pages: list[Page], results: list[Extracted], pages_per_second: float) -> Score:
    f1s, exact, leaks, published, wrong = [], 0, 0, 0, Counter[str]()
    for page, result in zip(pages, results, strict=True):
        want = expected_values(page)
        f1s.append(token_f1(result.body, page.expected["body"]))
        body = (result.body or "").casefold()
        leaks += any(marker in body for marker in BOILERPLATE_MARKERS)
        for name in FIELDS:
            if result.values.get(name) == want[name]:
                exact += 1
            else:
                wrong[name] += 1
        # To the minute: a page's visible time has none, its JSON-LD often has seconds.
        published += _minute(result.values.get("published_at")) == _minute(want["published_at"])
    has_instant = any("published_at" in r.values for r in results)
    return Score(
        f1=sum(f1s) / len(f1s),
        exact=exact,
        total=len(pages) * len(FIELDS),
        leaks=leaks,
        published_exact=published if has_instant else None,
        pages_per_second=pages_per_second,
        wrong=wrong,
    )


def _minute(value: str | None) -> str | None:
    return value[:16] if value else None


def antara_sources() -> list[str]:
    return sorted(path.parent.name for path in FIXTURES.glob("antara_*/meta.json"))


def run_set(title: str, pages: list[Page], rounds: int, news_please: str | None) -> None:
    sources = sorted({page.source for page in pages})
    print(f"\n== {title}: {len(pages)} article pages of {', '.join(sources)}")
    extractors: dict[str, Callable[[Page], Extracted]] = {
        "ours": ours,
        "ours, zero config": ours_zero_config,
        "trafilatura": trafilatura_extract,
    }
    scores = {name: score(extract, pages, rounds) for name, extract in extractors.items()}
    if news_please:
        scores["news-please"] = score_results(
            pages, *news_please_results(news_please, pages, rounds)
        )
    print(
        f"{'extractor':20} {'body F1':>8} {'fields exact':>13} {'boilerplate':>12}"
        f" {'UTC minute':>11} {'pages/s':>8}  wrong fields"
    )
    for name, result in scores.items():
        instant = (
            f"{result.published_exact}/{len(pages)}" if result.published_exact is not None else "-"
        )
        wrong = ", ".join(f"{field} {count}" for field, count in result.wrong.most_common()) or "-"
        leaks = f"{result.leaks}/{len(pages)}"
        print(
            f"{name:20} {result.f1:8.3f} {result.exact:>6}/{result.total:<6} {leaks:>12}"
            f" {instant:>11} {result.pages_per_second:8.1f}  {wrong}"
        )
    for other in ("trafilatura", "news-please"):
        if other not in scores:
            continue
        base = scores[other]
        for name in ("ours", "ours, zero config"):
            mine = scores[name]
            print(
                f"{name} / {other}: body F1 x{mine.f1 / base.f1:.2f}, fields exact"
                f" {mine.exact}/{mine.total} vs {base.exact}/{base.total},"
                f" speed x{mine.pages_per_second / base.pages_per_second:.2f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (default 20)")
    parser.add_argument(
        "--news-please-python",
        metavar="PYTHON",
        help="an interpreter with news-please installed (e.g. /tmp/np-venv/bin/python)",
    )
    args = parser.parse_args()
    if not args.news_please_python:
        print("news-please: left out (--news-please-python PYTHON to include it)")
    print("Fundus: left out (it has no parser for these publishers, nor a generic one)")
    pages = load_pages(sorted(PUBLISHERS))
    run_set("publishers (configs shipped)", pages, args.rounds, args.news_please_python)
    # The generic layers were written on the publisher fixtures, not these (see bench/README.md).
    pages = load_pages(antara_sources())
    run_set("ANTARA desks", pages, args.rounds, args.news_please_python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
