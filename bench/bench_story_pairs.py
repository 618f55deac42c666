"""Near-duplicate story linking: precision/recall on the labelled pairs, and per-article cost.

Usage (from the repository root, in the project's virtualenv)::

    python bench/bench_story_pairs.py [--rounds N]

On ``tests/fixtures/story_pairs/pairs.json`` a pair is *linked* when the two signatures share a
band key (the candidate query) and ``is_same_story`` holds (the decision). Prints precision and
recall of the chosen parameters (``crawler.extract.similarity``), split by edit kind, then of a
small grid of alternatives (num_perm, bands x rows, threshold); then the cost per article of
``signature()`` + ``band_keys()`` against a SHA-256 content hash of the same bodies, same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from crawler.extract import similarity  # noqa: E402

PAIRS = REPO_ROOT / "tests" / "fixtures" / "story_pairs" / "pairs.json"


def load_pairs() -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = json.loads(PAIRS.read_text(encoding="utf-8"))["pairs"]
    return pairs


def linked(
    sig_a: list[int], sig_b: list[int], bands: int, rows: int, threshold: float
) -> tuple[bool, bool]:
    """(shares a band key, linked = shares a band key and is_same_story)."""
    candidate = bool(
        set(similarity.band_keys(sig_a, bands, rows))
        & set(similarity.band_keys(sig_b, bands, rows))
    )
    return candidate, candidate and similarity.is_same_story(sig_a, sig_b, threshold)


def evaluate(
    pairs: list[dict[str, Any]], num_perm: int, bands: int, rows: int, threshold: float
) -> dict[str, Any]:
    tp = fp = fn = candidates = 0
    by_edit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair in pairs:
        sig_a = similarity.signature(pair["a"], num_perm)
        sig_b = similarity.signature(pair["b"], num_perm)
        cand, link = linked(sig_a, sig_b, bands, rows, threshold)
        candidates += cand
        same = pair["label"] == "same_story"
        tp += link and same
        fp += link and not same
        fn += same and not link
        by_edit[pair["edit"]][0] += link
        by_edit[pair["edit"]][1] += 1
    high = [p for p in pairs if p["label"] == "same_story" and p["jaccard_5"] >= 0.7]
    high_linked = sum(
        linked(
            similarity.signature(p["a"], num_perm),
            similarity.signature(p["b"], num_perm),
            bands,
            rows,
            threshold,
        )[1]
        for p in high
    )
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "fp": fp,
        "fn": fn,
        "candidates": candidates,
        "recall_j07": f"{high_linked}/{len(high)}",
        "by_edit": dict(by_edit),
    }


def s_curve(s: float, bands: int, rows: int) -> float:
    return 1 - (1 - s**rows) ** bands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    pairs = load_pairs()
    n_same = sum(p["label"] == "same_story" for p in pairs)
    print(f"pairs: {len(pairs)} ({n_same} same story, {len(pairs) - n_same} different)")
    s = similarity
    chosen = evaluate(pairs, s.NUM_PERM, s.BANDS, s.ROWS, s.THRESHOLD)
    print(
        f"\nchosen: num_perm={s.NUM_PERM} bands={s.BANDS}x{s.ROWS} threshold={s.THRESHOLD}"
        f"  precision={chosen['precision']:.3f} recall={chosen['recall']:.3f}"
        f"  (fp={chosen['fp']} fn={chosen['fn']}; pairs with Jaccard>=0.7 linked:"
        f" {chosen['recall_j07']})"
    )
    for edit, (n_linked, total) in sorted(chosen["by_edit"].items()):
        print(f"  {edit:28s} linked {n_linked}/{total}")
    print("\nS-curve P(share a band | Jaccard s):")
    print("  s      " + "  ".join(f"{x:5.2f}" for x in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)))
    for bands, rows in ((32, 4), (42, 3), (24, 3), (20, 3), (16, 8), (20, 5)):
        curve = "  ".join(
            f"{s_curve(x, bands, rows):5.3f}" for x in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
        )
        print(f"  {bands:2d}x{rows}   {curve}")
    print("\ngrid: num_perm bands x rows threshold -> precision recall fp fn candidates J>=0.7")
    for num_perm, bands, rows in (
        (64, 16, 4),
        (128, 32, 4),
        (128, 42, 3),
        (128, 24, 3),
        (128, 20, 3),
        (128, 16, 8),
        (256, 64, 4),
    ):
        for threshold in (0.4, 0.5, 0.6, 0.7):
            r = evaluate(pairs, num_perm, bands, rows, threshold)
            print(
                f"  {num_perm:4d} {bands:3d}x{rows} {threshold:.1f} -> {r['precision']:.3f}"
                f" {r['recall']:.3f} {r['fp']:2d} {r['fn']:2d} {r['candidates']:2d}"
                f" {r['recall_j07']}"
            )
    bodies = [p[k] for p in pairs for k in ("a", "b")]
    words = sum(len(b.split()) for b in bodies) / len(bodies)
    for body in bodies:  # warm-up
        similarity.band_keys(similarity.signature(body))
    start = time.perf_counter()
    for _ in range(args.rounds):
        for body in bodies:
            similarity.band_keys(similarity.signature(body))
    ours = (time.perf_counter() - start) / (args.rounds * len(bodies)) * 1e6
    start = time.perf_counter()
    for _ in range(args.rounds):
        for body in bodies:
            hashlib.sha256(body.encode("utf-8")).hexdigest()
    base = (time.perf_counter() - start) / (args.rounds * len(bodies)) * 1e6
    print(
        f"\ncost per article ({len(bodies)} bodies, {words:.0f} words on average,"
        f" {args.rounds} rounds): signature()+band_keys() {ours:.0f} µs,"
        f" sha256 content hash {base:.2f} µs (x{ours / base:.0f})"
    )


if __name__ == "__main__":
    main()
