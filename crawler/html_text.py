"""Turn an article's body element into paragraphs of plain text.

News CMSs mix ``<p>`` paragraphs with runs of text separated by ``<br /><br />``, and bylines
joined by single ``<br>``. Reading ``text()`` nodes loses those boundaries (the lines "run
together"), so the element is serialised with explicit breaks first and split afterwards.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from crawler.normalize import clean_text

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
# are written as marker characters that cannot occur in text, and split on afterwards.
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


def _serialise(node: etree._Element, out: list[str]) -> None:
    tag = node.tag if isinstance(node.tag, str) else ""
    tag = tag.lower()
    if tag in NOISE_TAGS or not tag:  # comments and processing instructions have no str tag
        if node.tail:
            out.append(node.tail)
        return
    if tag == "br":
        out.append(_LINE_BREAK)
    elif tag in BLOCK_TAGS:
        out.append(_BLOCK_BREAK)
    if node.text:
        out.append(node.text)
    for child in node:
        _serialise(child, out)
    if tag in BLOCK_TAGS:
        out.append(_BLOCK_BREAK)
    if node.tail:
        out.append(node.tail)


def element_blocks(element: etree._Element, drop_xpath: str | None = None) -> list[list[str]]:
    """The element's text as blocks (split at blank lines / block tags) of lines (split at
    single ``<br>``); ``drop_xpath`` (relative to the element) names nodes to leave out."""
    element = copy.deepcopy(element)
    if drop_xpath:
        for node in element.xpath(drop_xpath):
            remove_keeping_tail(node)
    out: list[str] = []
    if element.text:
        out.append(element.text)
    for child in element:
        _serialise(child, out)
    text = "".join(out)
    blocks: list[list[str]] = []
    for raw_block in _BLOCK_SPLIT.split(text):
        lines = [clean_text(line) for line in raw_block.split(_LINE_BREAK)]
        lines = [line for line in lines if line]
        if lines:
            blocks.append(lines)
    return blocks
