"""``python -m crawler restory``: signatures and story links for an archive built before them.

See :mod:`crawler.archive.restory`. Idempotent; prints what it did, with a progress bar on a
terminal.
"""

from __future__ import annotations

import sys

import click

from crawler.archive.restory import DEFAULT_BATCH_SIZE, pending, restory
from crawler.cli.options import ArchiveCommand, ArchiveOptions


@click.command(cls=ArchiveCommand)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Records read and signed per batch.",
)
@click.pass_context
def restory_command(ctx: click.Context, batch_size: int) -> None:
    """Compute story signatures and story_id for records that have none (idempotent)."""
    options = ctx.find_object(ArchiveOptions)
    if options is None:
        raise click.UsageError("restory runs as a subcommand: python -m crawler restory")
    with options.open() as archive:
        total = pending(archive.db)
        with click.progressbar(length=total, label="Linking stories", file=sys.stderr) as bar:
            result = restory(archive.db, batch_size=batch_size, progress=bar.update)
    for line in result.lines():
        click.echo(line)
