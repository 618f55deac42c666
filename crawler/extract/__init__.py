"""Pure text work, no Scrapy, no database: page bytes to text, text to clean values.

``text`` (control characters) → ``decode`` (bytes → str) → ``dates`` → ``normalize`` (names,
URLs, boilerplate, hashing, the whole-record normaliser) → ``html_tree`` / ``html_text`` (parse,
body element → paragraphs) → ``layers`` (JSON-LD / OpenGraph / generic-extractor fallbacks).
Site parsers (:mod:`crawler.sites`), the pipelines and ``reparse`` all call these.
"""
