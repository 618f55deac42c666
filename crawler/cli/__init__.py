"""``python -m crawler``: one module per command, the group and its registration in ``main``."""

from crawler.cli.main import cli

__all__ = ["cli"]
