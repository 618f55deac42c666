"""Near-duplicate bodies: MinHash signatures and LSH band keys for linking articles into stories.

A desk republishes a national story with another dateline, a reworded sentence or an added local
paragraph; the body's ``content_hash`` then differs, but most of its word 5-shingles survive. The
Jaccard similarity of two bodies' shingle sets is estimated from their MinHash signatures
(:mod:`datasketch`, pinned in requirements.txt: its 2.0 hashing scheme ``affine32`` with the fixed
seed 1 and SHA-1 based shingle hashes, so one body has one signature in every process, on every
machine). Pure: no Scrapy, no database.

The method and its parameters, chosen on ``tests/fixtures/story_pairs/pairs.json`` (bench:
``python bench/bench_story_pairs.py``):

- **Shingles**: the body's words, accent-folded (NFKD, combining marks dropped) and case-folded,
  as overlapping 5-word tuples (``SHINGLE_WORDS``). A leading dateline ("Sampit (ANTARA) - ") is
  dropped, as the parser drops it into the ``dateline`` field: a desk copy differs there by
  construction. Boilerplate lines ("Baca juga", "Pewarta: ...") are not searched for again: the
  normaliser has dropped them from every archived body (searching costs ~250 µs a body). The
  first sentence is *kept*: it carries the story's who/what/where (dropping it
  brings two template-sharing stories, e.g. two weather warnings, closer together), and a desk's
  edit of it ("Senin" for "Senin (12/1)") costs at most a few shingles.
- **Signature**: ``NUM_PERM`` = 128 MinHash values (uint32), ~1.5 KB in BSON. The estimate of a
  Jaccard ``s`` has a standard deviation of sqrt(s(1-s)/128): 0.044 at s = 0.5, 0.04 at 0.7.
  256 values gave no better recall at the chosen threshold (0.69), at twice the bytes (bench).
- **Bands**: ``BANDS`` = 42 bands of ``ROWS`` = 3 values (126 of the 128). Two bodies of Jaccard
  ``s`` share at least one band key with probability ``1 - (1 - s**3)**42`` (the LSH S-curve):
  0.29 at s = 0.2, 0.68 at 0.3, 0.94 at 0.4, 0.996 at 0.5, ~1 from 0.6. The bands are only the
  candidate search (one indexed ``$in`` query on the stored keys), so the curve is put well left
  of the threshold: a pair at the threshold is almost never missed, and the extra candidates it
  brings (unrelated same-topic stories) cost one signature comparison each, not precision.
  32 x 4 misses 13 % of pairs at s = 0.5; 16 x 8 misses 39 % at 0.7.
- **Decision**: same story when the estimated Jaccard is at least ``THRESHOLD`` = 0.5. On the set
  (54 pairs): precision 1.0, recall 0.71, every pair of true Jaccard >= 0.7 linked, the issue's
  example (0.77) linked. The hard negatives reach at most 0.36 (two mobile driving-licence
  schedules; two days' gold-price reports 0.28, two BMKG offices' warnings 0.08): 0.5 is three
  deviations above the worst. Copies reworded throughout (true Jaccard < 0.45) are not linked:
  shingles cannot tell them from a same-topic story, and a missed link costs a duplicate count,
  a false one merges two stories.

Band keys look like ``"b03:9f2c4e0a17d3b6c1"``: the band number (so equal values in different
bands never match) and 64 bits of BLAKE2b over the band's values. They depend on ``NUM_PERM``,
``ROWS``, the seed and the datasketch scheme: store ``SIGNATURE_VERSION`` with them and recompute
all on a change (keys of two versions must never be compared).
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence

from crawler.extract.normalize import split_dateline

SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS = 42
ROWS = 3
THRESHOLD = 0.5
#: Fewer shingles than this (a body under ~14 words) give no signature: too little text to call
#: two items one story (exact copies are still linked by ``content_hash``).
MIN_SHINGLES = 10
#: The datasketch scheme and seed; part of what a stored signature means.
SCHEME = "affine32"
SEED = 1
#: Stored with signatures and band keys; bump when any parameter above changes.
SIGNATURE_VERSION = f"minhash-{SCHEME}-s{SEED}-w{SHINGLE_WORDS}-p{NUM_PERM}-b{BANDS}x{ROWS}"

_WORD = re.compile(r"\w+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
#: The permutations of the fixed seed, drawn once (drawing them costs ~180 µs per MinHash).
_PERMUTATIONS: dict[int, object] = {}

assert BANDS * ROWS <= NUM_PERM


def fold(text: str) -> str:
    """``text`` accent-folded and case-folded: "Pérusahaan" -> "perusahaan"."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()


def words(body: str | None) -> list[str]:
    """The folded words of a body, a leading dateline left out."""
    if not body:
        return []
    return _WORD.findall(fold(split_dateline(body.lstrip())[1]))


def shingles(body: str | None, size: int = SHINGLE_WORDS) -> set[str]:
    """The set of overlapping ``size``-word shingles of a body (words joined by one space)."""
    tokens = words(body)
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """The exact Jaccard similarity of two shingle sets (for tests and the bench)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def signature(body: str | None, num_perm: int = NUM_PERM) -> list[int]:
    """The body's MinHash values (``num_perm`` ints below 2**32), or ``[]`` if too short."""
    # Imported here, not with the module: datasketch imports scipy, about a second that every
    # CLI call (which reads stories but computes no signature) would pay at start-up.
    from datasketch import MinHash

    grams = shingles(body)
    if len(grams) < MIN_SHINGLES:
        return []
    if num_perm not in _PERMUTATIONS:
        _PERMUTATIONS[num_perm] = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
    minhash = MinHash(
        num_perm=num_perm, seed=SEED, scheme=SCHEME, permutations=_PERMUTATIONS[num_perm]
    )
    minhash.update_batch([g.encode("utf-8") for g in sorted(grams)])
    return [int(v) for v in minhash.hashvalues]


def band_keys(sig: Sequence[int], bands: int = BANDS, rows: int = ROWS) -> list[str]:
    """One key per LSH band, ``"bNN:<16 hex>"``; two signatures sharing one are candidates."""
    if not sig:
        return []
    if bands * rows > len(sig):
        raise ValueError(f"{bands} bands of {rows} rows need {bands * rows} values, not {len(sig)}")
    keys = []
    for band in range(bands):
        # Each value as 4 little-endian bytes: the keys numpy's "<u4" gave, without numpy
        # (a quarter of a second at every CLI start).
        chunk = struct.pack(f"<{rows}I", *sig[band * rows : (band + 1) * rows])
        keys.append(f"b{band:02d}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def estimated_jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """The share of equal MinHash values: the estimate of the bodies' Jaccard similarity
    (what ``MinHash.jaccard`` computes). 0.0 if either is empty or their lengths differ."""
    if not sig_a or not sig_b or len(sig_a) != len(sig_b):
        return 0.0
    return sum(a == b for a, b in zip(sig_a, sig_b, strict=True)) / len(sig_a)


def is_same_story(sig_a: Sequence[int], sig_b: Sequence[int], threshold: float = THRESHOLD) -> bool:
    """Whether two signatures are of one story: estimated Jaccard at least ``threshold``."""
    return estimated_jaccard(sig_a, sig_b) >= threshold
