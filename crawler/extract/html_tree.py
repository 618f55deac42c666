"""Page text to an lxml tree that holds the whole page, however hostile the markup.

libxml2 stops parsing at a nesting depth of 2048 (256 without ``huge_tree``) and silently
drops the rest of the page, article included. Browsers do not: past a depth of 512 Blink
attaches further elements to the deepest allowed ancestor. :func:`parse_html` does the same when
libxml2 reports the limit: it re-tokenises the page with the standard library's HTML tokenizer,
leaves out the tags nested deeper than :data:`MAX_DEPTH` (keeping their content), and parses
again.
"""

from __future__ import annotations

import logging
from html.parser import HTMLParser

from lxml import etree

from crawler.extract.text import scrub_text

logger = logging.getLogger(__name__)

#: Nesting kept when a page exceeds libxml2's limit (Blink's limit: deeper tags are flattened).
MAX_DEPTH = 512
#: Elements that never have content, so never nest.
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
#: Elements a start tag of the same name implicitly closes (so they do not nest).
_SELF_CLOSING_SIBLINGS = frozenset(["p", "li", "dt", "dd", "option", "tr", "td", "th"])


def _parse(data: bytes) -> tuple[etree._Element | None, bool]:
    """The tree of ``data`` and whether libxml2 hit its depth limit."""
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        root = None
    too_deep = any("Excessive depth" in error.message for error in parser.error_log)
    return root, too_deep


def parse_html(html: str) -> etree._Element:
    """The document element of ``html`` (an empty ``<html/>`` for a blank page).

    The text is scrubbed first (:func:`crawler.extract.text.scrub_text`): lxml cannot take lone
    surrogates and deletes NULs, gluing words together.
    """
    data = scrub_text(html).strip().encode("utf-8") or b"<html/>"
    root, too_deep = _parse(data)
    if too_deep:
        logger.info("Page nests deeper than the HTML parser allows; flattening past %s", MAX_DEPTH)
        root, _ = _parse(flatten_nesting(data.decode("utf-8")).encode("utf-8"))
    if root is None:
        root = etree.fromstring(b"<html/>", parser=etree.HTMLParser())
    return root


class _Flattener(HTMLParser):
    """Re-emits a page token by token, leaving out tags nested deeper than ``max_depth``."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(convert_charrefs=False)
        self.max_depth = max_depth
        self.out: list[str] = []
        #: Open elements: (tag, emitted).
        self.open: list[tuple[str, bool]] = []
        self.emitted_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text() or f"<{tag}>"
        if tag in _VOID:
            self.out.append(text)
            return
        if tag in _SELF_CLOSING_SIBLINGS and self.open and self.open[-1][0] == tag:
            self._close_to(len(self.open) - 1)
        emit = self.emitted_depth < self.max_depth
        if emit:
            self.out.append(text)
            self.emitted_depth += 1
        self.open.append((tag, emit))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                self._close_to(index)
                return
        self.out.append(f"</{tag}>")  # a stray end tag: the HTML parser ignores it as well

    def _close_to(self, index: int) -> None:
        """Close the open elements from the innermost down to ``open[index]``."""
        while len(self.open) > index:
            tag, emitted = self.open.pop()
            if emitted:
                self.out.append(f"</{tag}>")
                self.emitted_depth -= 1

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")


def flatten_nesting(html: str, max_depth: int = MAX_DEPTH) -> str:
    """``html`` with every element nested deeper than ``max_depth`` replaced by its content."""
    flattener = _Flattener(max_depth)
    flattener.feed(html)
    flattener.close()
    return "".join(flattener.out)
