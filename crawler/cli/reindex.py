"""``python -m crawler reindex``: the word index for an archive built before it.

See :mod:`crawler.archive.reindex`. Idempotent; prints what it did, with a progress bar on a
terminal.
"""

from __future__ import annotations

import click

from crawler.archive.reindex import DEFAULT_BATCH_SIZE, pending, reindex
from crawler.cli.options import ArchiveCommand, run_batched_job


@click.command(cls=ArchiveCommand)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Records read and indexed per batch.",
)
@click.pass_context
def reindex_command(ctx: click.Context, batch_size: int) -> None:
    """Build the word index searches use, for records that have none (idempotent)."""
    run_batched_job(
        ctx,
        "reindex",
        "Indexing words",
        pending,
        lambda db, progress: reindex(db, batch_size=batch_size, progress=progress),
    )
