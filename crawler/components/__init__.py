"""Scrapy components (built with ``from_crawler``): middlewares and extensions.

``incremental`` (skip archived articles), ``page_archive`` (keep raw pages), ``jobdir``
(resume after a kill), ``robots``, ``redirects``, ``retry_after``, ``drops`` (counted request
drops), ``monitors`` (run-end checks), ``stats_dump`` (stats back to the runner),
``crawl_scope`` (which crawler a log record is from, for several crawlers in one process).
"""
