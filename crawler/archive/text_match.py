"""Safe, accent-insensitive literal text matching, on the server and in Python.

User text reaches ``$regex`` only through :func:`literal_pattern`, which escapes every
character that is not a letter or digit, so no user character acts as a metacharacter.

Accent-insensitivity makes patterns long: every letter becomes a class of its accented
variants (``e`` -> ``[eEÈÉÊËèéêë...]``, up to 70 characters for ``o``). SecantusDB refuses a
``$regex`` longer than :data:`SERVER_PATTERN_LIMIT` characters (``_MAX_REGEX_PATTERN_LEN`` in
``secantus/query.py``, a ReDoS guard, since it evaluates ``$regex`` with Python's ``re``), so a
text of about 35 letters already failed there. :class:`LiteralMatch` therefore sends the server
the pattern of the longest prefix of the text that fits, which every real match also
contains, and checks the whole text in Python (:meth:`LiteralMatch.matches`, the same pattern
and flags the server applies) on the records the server returns.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

#: SecantusDB's cap on a ``$regex`` pattern, in characters (a real MongoDB allows ~32 KB).
SERVER_PATTERN_LIMIT = 1000


def _accent_variants() -> dict[str, str]:
    """ASCII letter -> every precomposed Latin letter that decomposes to it, both cases.

    Built from Unicode data once, so "e" also matches "é", "È", "ê", "ë", "ẽ" ...
    """
    variants: dict[str, set[str]] = {}
    for code in itertools.chain(range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if base != char and base.isascii() and base.isalpha():
            forms = {char, char.lower(), char.upper(), base.lower(), base.upper()}
            variants.setdefault(base.lower(), set()).update(f for f in forms if len(f) == 1)
    return {base: "".join(sorted(forms)) for base, forms in variants.items()}


_VARIANTS = _accent_variants()


class _FoldTable(dict[int, int | None]):
    """``str.translate`` table dropping combining marks and control characters (whitespace
    kept), filled one code point at a time as texts meet them: a per-character Python loop
    made folding half the time of a common word's search (5.6M characters for 4,000 hits)."""

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        dropped = unicodedata.combining(char) or (
            unicodedata.category(char) == "Cc" and not char.isspace()
        )
        self[code] = kept = None if dropped else code
        return kept


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Lower-case text without accents or control characters ("Kafé" -> "kafe")."""
    return unicodedata.normalize("NFD", text).translate(_FOLD_TABLE).lower()


def _pattern_parts(text: str) -> list[str]:
    """One regex piece per character of the folded text (one ``\\s+`` per whitespace run)."""
    parts: list[str] = []
    for is_space, run in itertools.groupby(fold(text).strip(), key=str.isspace):
        if is_space:
            parts.append(r"\s+")
            continue
        for char in run:
            if char in _VARIANTS:
                parts.append(f"[{_VARIANTS[char]}]")
            elif char.isascii() and not char.isalnum():
                parts.append("\\" + char)
            elif char.isascii():
                parts.append(f"[{char}{char.upper()}]" if char.isalpha() else char)
            else:
                parts.append(char)
    return parts


def literal_pattern(text: str) -> str:
    """A regex that matches ``text`` literally, ignoring case and accents.

    Letters become a class of their accented variants (both cases, so it does not rely on the
    server's Unicode case folding), runs of whitespace become ``\\s+``, every other ASCII
    character is backslash-escaped (literal in both PCRE and Python ``re``) and other
    characters are literal as they are: no user character can act as a metacharacter.
    """
    return "".join(_pattern_parts(text))


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class LiteralMatch:
    """``text`` as a server condition (:attr:`server_pattern`) and an exact Python check."""

    pattern: str
    server_pattern: str
    _regex: re.Pattern[str] = field(repr=False, compare=False)

    @classmethod
    def of(cls, text: str, limit: int = SERVER_PATTERN_LIMIT) -> LiteralMatch | None:
        """The match for ``text``; None when it folds to nothing (no condition at all)."""
        parts = _pattern_parts(text)
        if not parts:
            return None
        kept, size = 0, 0
        for part in parts:
            if size + len(part) > limit:
                break
            kept, size = kept + 1, size + len(part)
        # A trailing \s+ adds nothing to a prefix condition; a lone one cannot occur (stripped).
        prefix = parts[:kept]
        while prefix and prefix[-1] == r"\s+":
            prefix.pop()
        pattern = "".join(parts)
        return cls(pattern, "".join(prefix), _compiled(pattern))

    @property
    def exact(self) -> bool:
        """Whether the server's condition is the whole match (no Python check needed)."""
        return self.server_pattern == self.pattern

    def server_condition(self) -> dict[str, str]:
        """The ``$regex`` condition for one field (``i``: as :meth:`matches` does)."""
        return {"$regex": self.server_pattern, "$options": "i"}

    def matches(self, value: object) -> bool:
        """Whether ``value`` (a string, or a list of them as ``authors``) contains the text."""
        if isinstance(value, str):
            return self._regex.search(value) is not None
        if isinstance(value, list):
            return any(isinstance(item, str) and self._regex.search(item) for item in value)
        return False
