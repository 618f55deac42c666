"""Parser throughput: our ANTARA Kalteng parser + normaliser against trafilatura, same pages.

Usage (from the repository root, in the project's virtualenv)::

    python bench/bench_parser.py [--rounds N]

Loads every article page of ``tests/fixtures/antara_kalteng/meta.json`` and, in one process,
times (a) ``parse_article(html, url)`` followed by ``normalize_article(article)`` and (b)
``trafilatura.extract(html, url=url, output_format="json", with_metadata=True)``, each on all
pages for N rounds after one warm-up round. Prints pages/s for both, the ratio, peak RSS, and for
each page whether byline/copyright/legal-notice boilerplate is left in the extracted body.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rss import vmhwm_kib

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "antara_kalteng"
#: Text that belongs to the byline, the copyright line or the crawling notice, never the body.
BOILERPLATE_MARKERS = ("pewarta", "copyright", "dilarang keras")


@dataclass(frozen=True)
class Page:
    page_id: str
    url: str
    html: str


def load_pages() -> list[Page]:
    meta = json.loads((FIXTURES / "meta.json").read_text(encoding="utf-8"))
    return [
        Page(
            page_id=str(entry.get("id") or Path(entry["path"]).parent.name),
            url=entry["url"],
            html=(FIXTURES / entry["path"]).read_text(encoding="utf-8"),
        )
        for entry in meta["files"]
        if entry.get("kind") == "article"
    ]


def peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: that includes the peak of whatever started this bench (rss.py).
    return vmhwm_kib() / 1024


def boilerplate_in(body: str | None) -> list[str]:
    text = (body or "").lower()
    return [marker for marker in BOILERPLATE_MARKERS if marker in text]


def load_our_parser() -> Callable[[str, str], str | None]:
    """Return ``html, url -> body`` running our parser and normaliser, or exit explaining why."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from crawler.extract.normalize import normalize_article
        from crawler.sites import site_for

        parse_article = site_for("antara_kalteng").parse_article
    except ImportError as exc:
        sys.exit(f"bench_parser: cannot import our parser or normaliser ({exc}).")

    def ours(html: str, url: str) -> str | None:
        article = parse_article(html, url).article
        normalized = normalize_article(article)
        # Accept a normaliser that returns the article as well as one that edits it in place.
        return (normalized if normalized is not None else article).body

    return ours


def load_trafilatura() -> Callable[[str, str], str | None]:
    import trafilatura

    def baseline(html: str, url: str) -> str | None:
        result = trafilatura.extract(html, url=url, output_format="json", with_metadata=True)
        if result is None:
            return None
        text: Any = json.loads(result).get("text")
        return text if isinstance(text, str) else None

    return baseline


def run(extract: Callable[[str, str], str | None], pages: list[Page]) -> list[str | None]:
    return [extract(page.html, page.url) for page in pages]


def pages_per_second(
    extract: Callable[[str, str], str | None], pages: list[Page], rounds: int
) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        run(extract, pages)
    elapsed = time.perf_counter() - start
    return len(pages) * rounds / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over all pages")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    pages = load_pages()
    if not pages:
        sys.exit(f"bench_parser: no article pages listed in {FIXTURES / 'meta.json'}")

    ours = load_our_parser()
    try:
        our_bodies = run(ours, pages)  # warm-up, and the bodies for the quality check
    except NotImplementedError as exc:
        sys.exit(f"bench_parser: our parser is not implemented yet ({exc!r}).")
    ours_rate = pages_per_second(ours, pages, args.rounds)
    ours_rss = peak_rss_mib()

    # Imported only now, so the first RSS reading is not inflated by trafilatura itself
    # (unless our own extraction layers already import it).
    baseline = load_trafilatura()
    baseline_bodies = run(baseline, pages)  # warm-up
    baseline_rate = pages_per_second(baseline, pages, args.rounds)

    print(f"pages: {len(pages)} articles x {args.rounds} rounds (after 1 warm-up round)")
    print(f"ours (parse_article + normalize_article): {ours_rate:8.1f} pages/s")
    print(f"trafilatura.extract (json, metadata):     {baseline_rate:8.1f} pages/s")
    print(f"ratio ours/trafilatura:                   {ours_rate / baseline_rate:8.2f}x")
    print(f"peak RSS after ours:        {ours_rss:7.1f} MiB")
    print(f"peak RSS after trafilatura: {peak_rss_mib():7.1f} MiB (whole process)")

    print("\nboilerplate (byline, copyright, crawling notice) left in the body:")
    ours_dirty = baseline_dirty = 0
    for page, our_body, baseline_body in zip(pages, our_bodies, baseline_bodies, strict=True):
        ours_found = boilerplate_in(our_body)
        baseline_found = boilerplate_in(baseline_body)
        ours_dirty += bool(ours_found)
        baseline_dirty += bool(baseline_found)
        missing = " (trafilatura returned no text)" if baseline_body is None else ""
        print(
            f"  {page.page_id:>7}  ours: {', '.join(ours_found) or '-':<36}"
            f"trafilatura: {', '.join(baseline_found) or '-'}{missing}"
        )
    total = len(pages)
    print(f"boilerplate left in body: ours {ours_dirty}/{total}, ", end="")
    print(f"trafilatura {baseline_dirty}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
