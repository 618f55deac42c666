"""Running crawls from outside, as cron does: the runner (``runner``: one spider; ``run_all``:
several in one crawl), the crawl subprocess (``crawl_process``), run records, alerts, the stats
hand-back. No Scrapy components here: the crawl runs as a ``scrapy crawl`` (or ``scrapy
crawlall``) subprocess."""
