"""``python -m crawler import``: load JSON lines into the archive (see
:mod:`crawler.archive.importer`). Progress bars on a terminal, a summary on stdout."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from crawler.archive import importer
from crawler.archive.store import ensure_indexes
from crawler.cli.options import (
    EXIT_DATAERR,
    EXIT_USAGE,
    ArchiveCommand,
    ArchiveOptions,
    fail,
    pass_options,
)


@click.command(name="import", cls=ArchiveCommand)
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=str)
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=10_000),
    default=importer.DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Records per write to the archive.",
)
@click.option(
    "--temp-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Where the file is sorted (about its uncompressed size) [default: TMPDIR or /tmp].",
)
@pass_options
def import_command(
    options: ArchiveOptions, file: str, batch_size: int, temp_dir: Path | None
) -> None:
    """Load records from FILE, JSON lines as `export --format jsonl` writes them.

    FILE may be gzip-compressed (recognised by its first bytes); `-` reads stdin. Records go
    through the archive's own write path, as a crawl's do: a new URL is inserted, a changed
    body makes a new version, an unchanged one is left alone, so importing a file twice changes
    nothing the second time. Only the Article fields are taken, and `first_seen_at` for a URL
    new to the archive (oldest first, so originals and story founders stay those of the source
    archive). What the archive computes itself (content_hash, version, duplicate_of, story_id,
    signatures) is recomputed, never taken from the file; history (older versions) is not in
    an export, so an imported record starts at version 1.

    The file is read to its end and sorted (in a temporary directory, with constant memory)
    before anything is written: a file that cannot be read whole changes nothing. Bad lines
    (not JSON, no url, a bad date, text the archive cannot store) are skipped and listed by
    reason with their line numbers; blank lines are ignored. Exit 0 when every record was
    imported, 65 when some lines were rejected (the others are imported).
    """
    summary = importer.ImportSummary()
    with contextlib.ExitStack() as stack:
        try:
            source = stack.enter_context(importer.opened(file, sys.stdin.buffer))
        except importer.NotGzipError as exc:
            fail(EXIT_USAGE, str(exc))
        archive = stack.enter_context(options.open())
        ensure_indexes(archive.db)
        with _bar(source.size, "Reading") as read:  # closed before the next bar starts
            good = stack.enter_context(
                importer.ordered(source, summary, progress=read, temp_dir=temp_dir)
            )
        wrote = stack.enter_context(_bar(good.count, "Importing"))
        importer.write_ordered(
            archive.db, good.records(), summary, batch_size=batch_size, progress=wrote
        )
    for line in summary.report():
        click.echo(line)
    if summary.rejected:
        raise SystemExit(EXIT_DATAERR)


@contextlib.contextmanager
def _bar(length: int | None, label: str) -> Iterator[importer.ProgressCallback | None]:
    """A progress bar's ``update`` on a terminal when the length is known, else None."""
    if length is None or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update
