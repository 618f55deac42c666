"""``python -m crawler report``: one self-contained HTML page with charts."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.options import (
    WHEN,
    ArchiveCommand,
    ArchiveOptions,
    OutputFile,
    pass_options,
    writing,
)


@click.command(cls=ArchiveCommand)
@click.option(
    "-o",
    "--out",
    type=OutputFile(),
    default=Path("report.html"),
    show_default=True,
    help="Output file in an existing directory (a missing one is a usage error).",
)
@click.option("--since", type=WHEN, help="Only articles published on/after this date.")
@click.option("--top-tags", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@pass_options
def report(options: ArchiveOptions, out: Path, since: str | None, top_tags: int) -> None:
    """Write one self-contained HTML page with charts (opens offline, no external resources)."""
    from crawler.archive.report import write_report

    with options.open() as archive, writing(out):
        write_report(archive, out, since=since, top_tags=top_tags)
    click.echo(f"report written to {out}", err=True)
