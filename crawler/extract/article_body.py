"""A body element's text blocks to article paragraphs: boilerplate out, byline and dateline
kept apart.

ANTARA's rules (:data:`crawler.extract.normalize.BOILERPLATE_PATTERNS`: "Baca juga", bylines,
copyright, legal notice) hold on every Indonesian news site; other publishers add their own
furniture inside the body: share prompts, "ADVERTISEMENT" markers, "follow us on Google News"
lines, reporter initials closing the text ("(ant)", "(gus/ens)", "(*)"), and datelines written
in capitals ("PALANGKA RAYA –", "TRIBUNKALTENG.COM, PALANGKA RAYA -", "BORNEONEWS, Pangkalan
Bun -"). :func:`split_body` applies ANTARA's rules alone (ANTARA's records must not change);
:func:`split_publisher_body` adds the others, and :func:`split_any_dateline` reads every
dateline form.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crawler.extract.normalize import boilerplate_kind, parse_byline, split_dateline
from crawler.extract.text import clean_text

#: Lines of other publishers' bodies that are never article text (on top of ANTARA's).
PUBLISHER_BOILERPLATE: dict[str, re.Pattern[str]] = {
    "read_also": re.compile(
        r"^\s*(baca (juga|selengkapnya|berita lainnya)|berita terkait|artikel terkait)\b",
        re.IGNORECASE,
    ),
    "ad": re.compile(
        r"^\s*(advertisement|advertisment|iklan|scroll (to|untuk) (continue|lanjut)\w*.*"
        r"|konten sponsor|sponsored)\s*$",
        re.IGNORECASE,
    ),
    "share": re.compile(
        r"^\s*(bagikan|share)(\s+(artikel|berita) ini)?\s*:?\s*$"
        r"|^\s*((facebook|twitter|x|whatsapp|telegram|line|linkedin|pinterest|email|copy link)"
        r"\s*)+$",
        re.IGNORECASE,
    ),
    "follow": re.compile(
        r"^\s*(ikuti|simak|dapatkan|follow|gabung)\b.{0,120}"
        r"(google news|whatsapp channel|saluran whatsapp|telegram|instagram|tiktok)",
        re.IGNORECASE,
    ),
    "copyright": re.compile(r"^\s*(©|\(c\)\s*\d{4})|all rights reserved", re.IGNORECASE),
    "initials": re.compile(r"^\s*\(\s*(\*|[a-z]{2,6}(\s*[/,]\s*[a-z*]{1,6}){0,3})\s*\)\.?\s*$"),
}
#: Reporter initials closing the last paragraph: "... kata dia. (ens)" or "... (*/gus)".
_TRAILING_INITIALS = re.compile(r"\s*\(\s*(\*|[a-z*]{2,6})(\s*/\s*[a-z*]{1,6}){0,3}\s*\)\.?$")


def publisher_boilerplate_kind(line: str) -> str | None:
    """The kind of boilerplate a line is: ANTARA's kinds, then :data:`PUBLISHER_BOILERPLATE`."""
    kind = boilerplate_kind(line)
    if kind is not None:
        return kind
    for name, pattern in PUBLISHER_BOILERPLATE.items():
        if pattern.search(line):
            return name
    return None


def split_body(blocks: list[list[str]]) -> tuple[list[str], dict[str, str]]:
    """Body paragraphs and byline fields (label -> value, e.g. ``{"pewarta": "A dan B"}``)
    from a body element's text blocks (:func:`crawler.extract.html_text.element_blocks`):
    byline and copyright lines are read, then dropped with the other boilerplate lines; the
    remaining lines of a block make one paragraph. ANTARA's rules only."""
    return _split(blocks, boilerplate_kind, "")


def split_publisher_body(blocks: list[list[str]]) -> tuple[list[str], dict[str, str]]:
    """:func:`split_body` with every publisher's boilerplate rules, and the reporter initials
    that close the last paragraph removed."""
    # Bylines elsewhere run on with separators: "Penulis: A | Editor: B".
    paragraphs, byline = _split(blocks, publisher_boilerplate_kind, " |/-\u2013\u2014")
    if paragraphs:
        last = _TRAILING_INITIALS.sub("", paragraphs[-1]).strip()
        if last:
            paragraphs[-1] = last
        else:
            paragraphs.pop()
    return paragraphs, byline


def _split(
    blocks: list[list[str]], kind_of: Callable[[str], str | None], separators: str
) -> tuple[list[str], dict[str, str]]:
    paragraphs: list[str] = []
    byline: dict[str, str] = {}
    for lines in blocks:
        kept: list[str] = []
        for line in lines:
            kind = kind_of(line)
            if kind in ("byline", "copyright"):
                for label, value in parse_byline(line).items():
                    byline.setdefault(label, value.strip(separators) if separators else value)
            elif kind is None:
                kept.append(line)
        if kept:
            paragraphs.append(clean_text(" ".join(kept)))
    return paragraphs, byline


# --- Datelines -----------------------------------------------------------------------------

_DASH = r"\s*[-\u2013\u2014]+\s+"
#: A place in capitals: "PALANGKA RAYA", "KUALA KURUN", "SAMPIT".
_UPPER_PLACE = r"[A-Z][A-Z'\u2019]+(?:[ -][A-Z][A-Z'\u2019]+){0,3}"
#: A place as a name: "Palangka Raya", "Pangkalan Bun".
_NAMED_PLACE = r"[A-Z][a-z'\u2019]+(?:[ -][A-Z][a-z'\u2019]+){0,3}"
#: A medium in capitals: "KOMPAS", "TRIBUNKALTENG.COM", "PROKALTENG.CO", "BORNEONEWS".
_MEDIUM = r"[A-Z][A-Za-z0-9]*[A-Z0-9](?:\.[A-Za-z]{2,3}){0,2}"
_DATELINES = (
    # "TRIBUNKALTENG.COM, PALANGKA RAYA -", "BORNEONEWS, Pangkalan Bun -"
    re.compile(rf"^(?P<medium>{_MEDIUM})\s*,\s*(?P<place>{_UPPER_PLACE}|{_NAMED_PLACE}){_DASH}"),
    # "PALANGKA RAYA –", "PALANGKA RAYA, KOMPAS -", "PALANGKA RAYA/TABENGAN.COM –"
    re.compile(rf"^(?P<place>{_UPPER_PLACE})(?:\s*[,/]\s*(?P<medium>{_MEDIUM}))?{_DASH}"),
    # "Palangka Raya (KOMPAS) -", as ANTARA's "(ANTARA) -" for other agencies.
    re.compile(rf"^(?P<place>{_NAMED_PLACE}|{_UPPER_PLACE})\s*\((?P<medium>{_MEDIUM})\){_DASH}"),
)
#: A medium's name alone opening the text ("PROKALTENG.CO -"): no place, but not text either.
_MEDIUM_ONLY = re.compile(rf"^[A-Z][A-Za-z0-9]*\.(?:[A-Za-z]{{2,3}})(?:\.[A-Za-z]{{2}})?{_DASH}")


def split_any_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split a first paragraph into (place, text) for every dateline form: ANTARA's
    ("Palangka Raya (ANTARA) - text") and those of other publishers (module docstring).
    A place written in capitals comes back as a name ("PALANGKA RAYA" -> "Palangka Raya");
    (None, paragraph) when the paragraph opens with no dateline."""
    place, text = split_dateline(paragraph)
    if place:
        return place, text
    for pattern in _DATELINES:
        match = pattern.match(paragraph)
        if match and paragraph[match.end() :].strip():
            place = clean_text(match.group("place"))
            if place.isupper():
                place = place.title()
            return place or None, paragraph[match.end() :].strip()
    medium = _MEDIUM_ONLY.match(paragraph)
    if medium and paragraph[medium.end() :].strip():
        return None, paragraph[medium.end() :].strip()
    return None, paragraph
