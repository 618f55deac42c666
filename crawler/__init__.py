"""News archive crawler: Scrapy spiders, item pipelines and a MongoDB archive."""

__version__ = "0.1.0"
