"""Near-duplicate story linking (issue 9): the MinHash/LSH method on the labelled pairs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import similarity

REPO_ROOT = Path(__file__).resolve().parent.parent
PAIRS: list[dict[str, Any]] = json.loads(
    (REPO_ROOT / "tests" / "fixtures" / "story_pairs" / "pairs.json").read_text(encoding="utf-8")
)["pairs"]
BY_ID = {p["id"]: p for p in PAIRS}


def linked(a: str, b: str) -> bool:
    sig_a, sig_b = similarity.signature(a), similarity.signature(b)
    shares_band = bool(set(similarity.band_keys(sig_a)) & set(similarity.band_keys(sig_b)))
    return shares_band and similarity.is_same_story(sig_a, sig_b)


def test_the_set_is_big_enough_and_labelled() -> None:
    assert len(PAIRS) >= 40
    assert len(BY_ID) == len(PAIRS)
    assert {p["label"] for p in PAIRS} == {"same_story", "different_story"}
    for pair in PAIRS:  # the stored reference Jaccard is the one of today's shingles
        exact = similarity.jaccard(similarity.shingles(pair["a"]), similarity.shingles(pair["b"]))
        assert round(exact, 3) == pair["jaccard_5"], pair["id"]


def test_precision_is_one_on_every_negative() -> None:
    false_links = [
        p["id"] for p in PAIRS if p["label"] == "different_story" and linked(p["a"], p["b"])
    ]
    assert false_links == []


def test_recall() -> None:
    # Every copy with true Jaccard >= 0.7 (dateline, one sentence, one paragraph) is linked; of
    # all copies, including those reworded throughout (Jaccard down to 0.09), at least 70 %.
    same = [p for p in PAIRS if p["label"] == "same_story"]
    missed_high = [p["id"] for p in same if p["jaccard_5"] >= 0.7 and not linked(p["a"], p["b"])]
    assert missed_high == []
    recall = sum(linked(p["a"], p["b"]) for p in same) / len(same)
    assert recall >= 0.7


def test_the_issues_example_is_linked_and_the_weather_warnings_are_not() -> None:
    example = BY_ID["pos-antara_kalteng-812460-issue_example"]
    assert 0.75 <= example["jaccard_5"] <= 0.8
    assert linked(example["a"], example["b"])
    warnings = BY_ID["neg-bmkg-warning-offices"]
    assert not linked(warnings["a"], warnings["b"])


def test_band_keys_of_a_linked_pair_intersect() -> None:
    pair = BY_ID["pos-antara_kalteng-812460-issue_example"]
    keys_a = similarity.band_keys(similarity.signature(pair["a"]))
    keys_b = similarity.band_keys(similarity.signature(pair["b"]))
    assert len(keys_a) == similarity.BANDS
    assert set(keys_a) & set(keys_b)
    assert all(k.startswith("b") and ":" in k and len(k) <= 24 for k in keys_a)


def test_dateline_accents_and_case_do_not_matter() -> None:
    body = BY_ID["pos-antara_kalteng-812460-issue_example"]["a"]
    assert similarity.signature("Sampit (ANTARA) - " + body) == similarity.signature(body)
    assert similarity.shingles("Kafé Ibu Siti buka lagi hari ini") == similarity.shingles(
        "KAFE ibu siti buka lagi HARI INI"
    )


def test_too_short_bodies_get_no_signature() -> None:
    assert similarity.signature("") == []
    assert similarity.signature("Harga emas Antam naik hari ini.") == []
    assert similarity.band_keys([]) == []
    assert not similarity.is_same_story([], [])


@pytest.mark.timeout(120)
def test_signature_is_the_same_in_another_process() -> None:
    body = BY_ID["neg-bmkg-warning-offices"]["a"]
    code = (
        "import json, sys; from crawler.extract import similarity; "
        "print(json.dumps(similarity.signature(sys.stdin.read())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=body,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert json.loads(out) == similarity.signature(body)
