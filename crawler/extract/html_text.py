"""Turn an article's body element into paragraphs of plain text.

News CMSs mix ``<p>`` paragraphs with runs of text separated by ``<br /><br />``, and bylines
joined by single ``<br>``. Reading ``text()`` nodes loses those boundaries (the lines "run
together"), so the element is serialised with explicit breaks first and split afterwards.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from crawler.extract.text import clean_text, scrub_text

#: Elements that start and end a block of text.
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "table",
        "tr",
        "figure",
        "figcaption",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "pre",
        "hr",
    ]
)
# Source newlines are plain whitespace in HTML; only <br> and block tags break text, so they
# are written as control characters, which page text never holds (it is scrubbed of them:
# crawler.extract.text.scrub_text), and split on afterwards.
_LINE_BREAK = "\x00"
_BLOCK_BREAK = "\x01"
_BLOCK_SPLIT = re.compile(rf"\s*(?:{_BLOCK_BREAK}|{_LINE_BREAK}\s*{_LINE_BREAK})[\s\x00\x01]*")

#: Elements whose content is never article text.
NOISE_TAGS = frozenset(
    ["script", "style", "ins", "noscript", "iframe", "form", "button", "svg", "template"]
)


def remove_keeping_tail(node: etree._Element) -> None:
    """Remove ``node`` but keep the text that follows it (lxml stores it on the node)."""
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)


def _serialise(element: etree._Element) -> str:
    """The text under ``element`` (not its tail) with break markers, walked with an explicit
    stack: a page nesting thousands of elements must not exhaust Python's recursion limit."""
    out: list[str] = [_scrub(element.text)]
    # (node, True) closes a node: its closing block marker, then its tail.
    stack: list[tuple[etree._Element, bool]] = [(child, False) for child in reversed(element)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if closing:
            if tag in BLOCK_TAGS:
                out.append(_BLOCK_BREAK)
            out.append(_scrub(node.tail))
            continue
        if tag in NOISE_TAGS or not tag:  # comments and processing instructions have no str tag
            out.append(_scrub(node.tail))
            continue
        if tag == "br":
            out.append(_LINE_BREAK)
        elif tag in BLOCK_TAGS:
            out.append(_BLOCK_BREAK)
        out.append(_scrub(node.text))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(out)


def _scrub(text: str | None) -> str:
    # Page text must never hold the break markers; parse_html scrubs pages already, this
    # covers trees built elsewhere.
    return scrub_text(text) if text else ""


def element_blocks(element: etree._Element, drop_xpath: str | None = None) -> list[list[str]]:
    """The element's text as blocks (split at blank lines / block tags) of lines (split at
    single ``<br>``); ``drop_xpath`` (relative to the element) names nodes to leave out."""
    element = copy.deepcopy(element)
    if drop_xpath:
        for node in element.xpath(drop_xpath):
            remove_keeping_tail(node)
    text = _serialise(element)
    blocks: list[list[str]] = []
    for raw_block in _BLOCK_SPLIT.split(text):
        lines = [clean_text(line) for line in raw_block.split(_LINE_BREAK)]
        lines = [line for line in lines if line]
        if lines:
            blocks.append(lines)
    return blocks
