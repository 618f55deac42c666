"""``python -m crawler``: the archive's command line (see :mod:`crawler.cli.main`)."""

from crawler.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="python -m crawler")
