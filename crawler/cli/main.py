"""``python -m crawler``: the archive's command line, a thin layer over :class:`Archive`.

Adding a command from another module: define it with ``@click.command(cls=ArchiveCommand)``
there (errors become one line and an exit code, see :mod:`crawler.cli.options`), take the
archive options from ``ctx.find_object(ArchiveOptions)`` (``with options.open() as archive``),
and add it to :data:`COMMANDS` (it is imported only when it runs).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from crawler.cli.options import (
    EXIT_CODES_HELP,
    ArchiveOptions,
    Text,
    database_name,
    finite,
)

logger = logging.getLogger(__name__)

#: Command name -> (module, attribute), in the order ``--help`` lists them. Imported only when
#: run: ``search`` does not pay for Scrapy (``run``), the parsers (``reparse``) or pyarrow.
COMMANDS = {
    "search": ("crawler.cli.search", "search"),
    "show": ("crawler.cli.show", "show"),
    "export": ("crawler.cli.export", "export"),
    "import": ("crawler.cli.import_", "import_command"),
    "stats": ("crawler.cli.stats", "stats"),
    "report": ("crawler.cli.report", "report"),
    "serve": ("crawler.cli.serve", "serve"),
    "reparse": ("crawler.cli.reparse", "reparse"),
    "restory": ("crawler.cli.restory", "restory_command"),
    "reindex": ("crawler.cli.reindex", "reindex_command"),
    "recount": ("crawler.cli.recount", "recount_command"),
    "run": ("crawler.cli.run", "run"),
    "frontier": ("crawler.cli.frontier", "frontier"),
    "probe": ("crawler.cli.probe", "probe_command"),
    "extract": ("crawler.cli.extract", "extract"),
}


class LazyGroup(click.Group):
    """A group whose commands (:data:`COMMANDS`) are imported when they are run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--mongo-uri",
    envvar="MONGO_URI",
    default=None,
    type=Text("--mongo-uri", max_length=10_000),
    metavar="URI",
    help="MongoDB server [env MONGO_URI]; unset: the embedded server under DATA_DIR.",
)
@click.option(
    "--data-dir",
    envvar="DATA_DIR",
    default="./data",
    show_default=True,
    # UTF-8 only: SecantusDB cannot start on a path that is not (it only timed out, exit 3).
    type=Text("--data-dir", max_length=4096),
    help="Embedded server data directory [env DATA_DIR].",
)
@click.option(
    "--database",
    envvar="MONGO_DATABASE",
    default="news_archive",
    show_default=True,
    callback=database_name,
    help="Database name [env MONGO_DATABASE].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=86_400),
    callback=finite,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the server before giving up (exit 3).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) to stderr.")
@click.version_option(package_name=None, version="0.1.0", prog_name="news-archive")
@click.pass_context
def cli(
    ctx: click.Context,
    mongo_uri: str | None,
    data_dir: str,
    database: str,
    timeout: float,
    verbose: int,
) -> None:
    """Search, export and summarise the news archive.

    The archive is chosen as the crawler chooses it: --mongo-uri / MONGO_URI, else the
    embedded SecantusDB server for --data-dir / DATA_DIR (started if none runs).
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = ArchiveOptions(mongo_uri or None, data_dir, database, timeout, verbose)
