"""Running crawls from outside, as cron does: the runner, run records, alerts, the stats
hand-back. No Scrapy components here: the crawl runs as a ``scrapy crawl`` subprocess."""
