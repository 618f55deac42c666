"""Project ``scrapy`` commands (``COMMANDS_MODULE``); each module is one command, named after it."""
