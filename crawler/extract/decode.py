"""Page bytes to text: the one decoder the spider, the page archive and re-parsing share.

Declared encodings are often wrong in both directions: UTF-8 pages served as ``iso-8859-1``,
Windows-1252 pages served as UTF-8, and UTF-8 pages with a stray Windows-1252 byte pasted in
from an old editor. A decoder that trusts the declaration, or replaces what it cannot read,
archives mojibake or U+FFFD. :func:`decode_html` instead picks the reading that yields valid
text, in this order:

1. a byte order mark (w3lib) names the encoding;
2. strict UTF-8, which almost never succeeds on text that is not UTF-8;
3. UTF-8 with a few stray bytes: when the bytes hold more valid multi-byte UTF-8 characters
   than invalid bytes, the page is UTF-8 and only the invalid bytes are read as Windows-1252;
4. the declared encoding (label resolved as browsers do, so ``iso-8859-1`` means
   Windows-1252), if it decodes strictly;
5. Windows-1252 as the WHATWG Encoding Standard defines it, which decodes any byte.

So no U+FFFD is produced when some reading decodes cleanly. The text is then scrubbed of
control characters (:func:`crawler.extract.text.scrub_text`): lxml silently deletes a NUL,
gluing the
words around it together, and the body serialiser uses control characters as markers.
"""

from __future__ import annotations

import codecs
import re

from w3lib.encoding import read_bom, resolve_encoding

from crawler.extract.text import scrub_text

# surrogateescape maps an undecodable byte 0xXY to U+DCXY.
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
# The WHATWG windows-1252 decoder: Python's cp1252 plus the five bytes it leaves undefined
# (0x81, 0x8D, 0x8F, 0x90, 0x9D), which map to the C1 code points as in latin-1.
_WINDOWS_1252 = {
    byte: bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(0x80, 0xA0)
}


def decode_windows_1252(data: bytes) -> str:
    """Decode any bytes as a browser decodes windows-1252 (never fails, never U+FFFD)."""
    return data.decode("latin-1").translate(_WINDOWS_1252)


def _mostly_utf8(data: bytes) -> str | None:
    """The text of UTF-8 ``data`` with a few stray non-UTF-8 bytes, or None if the bytes are
    not mostly UTF-8 (then they are in some single-byte encoding)."""
    escaped = data.decode("utf-8", errors="surrogateescape")
    strays = _ESCAPED_BYTES.findall(escaped)
    stray_bytes = sum(len(run) for run in strays)
    non_ascii = len(escaped) - len(escaped.encode("ascii", errors="ignore"))
    multibyte_chars = non_ascii - stray_bytes
    if multibyte_chars <= stray_bytes:
        return None
    return _ESCAPED_BYTES.sub(
        lambda run: decode_windows_1252(bytes(ord(c) - 0xDC00 for c in run.group())), escaped
    )


def _declared(declared_encoding: str | None) -> str | None:
    """The codec a declared label means (browsers' aliases), or None if unknown."""
    if not declared_encoding:
        return None
    try:
        encoding = resolve_encoding(declared_encoding.strip())
        return codecs.lookup(encoding).name if encoding else None
    except LookupError:
        return None


def _decode(body: bytes, declared_encoding: str | None) -> str:
    bom_encoding, bom = read_bom(body)
    data = body[len(bom) :] if bom else body
    if bom_encoding and codecs.lookup(bom_encoding).name != "utf-8":
        # A UTF-16/32 byte order mark is unambiguous; nothing else would read these bytes.
        return data.decode(bom_encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _mostly_utf8(data)
    if text is not None:
        return text
    declared = _declared(declared_encoding)
    # UTF-8 failed already, and windows-1252 is the last resort below. Without a byte order
    # mark a UTF-16/32 label is wrong (browsers ignore it too): any even-length ASCII page
    # "decodes" as UTF-16 into CJK nonsense.
    if declared and not declared.startswith(("cp1252", "utf-8", "utf-16", "utf-32")):
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass
    return decode_windows_1252(data)


def decode_html(body: bytes, declared_encoding: str | None) -> str:
    """The page's text: the reading of ``body`` that yields valid text (see the module
    docstring), with control characters scrubbed. ``declared_encoding`` is what the server or
    the page's ``<meta>`` said (Scrapy's ``response.encoding``), or None."""
    return scrub_text(_decode(body, declared_encoding))
