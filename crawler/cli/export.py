"""``python -m crawler export``: stream matching articles to a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from crawler.archive.export import FORMATS
from crawler.cli.options import (
    ArchiveCommand,
    ArchiveOptions,
    OutputFile,
    filter_options,
    filters,
    pass_options,
    writing,
)


@click.command(cls=ArchiveCommand)
@filter_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "-o",
    "--out",
    type=OutputFile(),
    required=True,
    help="Output file in an existing directory (a missing one is a usage error). Written as "
    "FILE.part, renamed when complete; a device or FIFO (/dev/stdout) is written directly.",
)
@pass_options
def export(options: ArchiveOptions, fmt: str, out: Path, **kwargs: Any) -> None:
    """Stream matching articles to a file with constant memory.

    Datetimes are ISO 8601 UTC in jsonl/csv (typed timestamps in parquet). CSV lists are
    joined with " | " (a literal | or \\ in an item is backslash-escaped).
    """
    chosen = filters(kwargs)
    with options.open() as archive, writing(out):
        if sys.stderr.isatty():
            total = archive.count(**{k: v for k, v in chosen.items() if k != "limit"})
            if chosen["limit"] is not None:
                total = min(total, chosen["limit"])
            with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
                count = archive.export(out, fmt, progress=bar.update, **chosen)
        else:
            count = archive.export(out, fmt, **chosen)
    click.echo(f"exported {count} record(s) to {out}", err=True)
