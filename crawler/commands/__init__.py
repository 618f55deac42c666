"""Project ``scrapy`` commands (``COMMANDS_MODULE``); each module is one command, named after it:
``crawl`` (Scrapy's, exiting 1 on lost data), ``crawlall`` (several spiders in one process)."""
