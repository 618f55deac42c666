"""``python -m crawler restory``: signatures and story links for an archive built before them.

See :mod:`crawler.archive.restory`. Idempotent; prints what it did, with a progress bar on a
terminal.
"""

from __future__ import annotations

import click

from crawler.archive.restory import DEFAULT_BATCH_SIZE, pending, restory
from crawler.cli.options import ArchiveCommand, run_batched_job


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
    run_batched_job(
        ctx,
        "restory",
        "Linking stories",
        pending,
        lambda db, progress: restory(db, batch_size=batch_size, progress=progress),
    )
