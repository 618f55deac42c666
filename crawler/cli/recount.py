"""``python -m crawler recount``: build the counters ``stats`` and ``report`` read.

See :mod:`crawler.archive.recount`. Idempotent; prints what it did, with a progress bar on a
terminal. Exit 75 when other writers wrote meanwhile (the counters are then not marked valid).
"""

from __future__ import annotations

import sys

import click

from crawler.archive.recount import DEFAULT_CHUNK, recount
from crawler.archive.store import ARTICLES
from crawler.cli.options import EXIT_TEMPFAIL, ArchiveCommand, ArchiveOptions


@click.command(cls=ArchiveCommand)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK,
    show_default=True,
    help="Records counted in memory between two counter writes.",
)
@click.pass_context
def recount_command(ctx: click.Context, chunk: int) -> None:
    """Rebuild the archive's counters from its records (idempotent; run while nothing writes)."""
    options = ctx.find_object(ArchiveOptions)
    if options is None:
        raise click.UsageError("recount runs as a subcommand: python -m crawler recount")
    with options.open() as archive:
        if sys.stderr.isatty():
            # Counting the records costs a pass of its own on SecantusDB: only for a bar.
            total = archive.db[ARTICLES].estimated_document_count()
            with click.progressbar(length=total, label="Counting", file=sys.stderr) as bar:
                result = recount(archive.db, chunk=chunk, progress=bar.update)
        else:
            result = recount(archive.db, chunk=chunk)
    for line in result.lines():
        click.echo(line)
    if not result.valid:
        raise SystemExit(EXIT_TEMPFAIL)
