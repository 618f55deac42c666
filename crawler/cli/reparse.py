"""``python -m crawler reparse``: rebuild records from stored pages after a parser fix.

No network: pages come from the ``pages`` collection (:mod:`crawler.components.page_archive`); see
:mod:`crawler.archive.reparse` for which parser reads each page (a desk's, a publisher
config's, the zero-config generic site's), what is archived and how versions change.
"""

from __future__ import annotations

from datetime import datetime

import click

from crawler.archive.query_filter import parse_when
from crawler.archive.reparse import DEFAULT_BATCH_SIZE, reparse_pages
from crawler.cli.options import ArchiveCommand, ArchiveOptions
from crawler.sites.host_names import NAME_PATTERN


def _source(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not NAME_PATTERN.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a source name ([a-z][a-z0-9_]*)")
    return value


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)[0]
    except (TypeError, ValueError):
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD or an ISO 8601 datetime") from None


@click.command(cls=ArchiveCommand)
@click.option(
    "--source",
    callback=_source,
    metavar="SOURCE",
    help="Only pages of this source, e.g. antara_kalsel, tabengan, or a zero-config crawl's "
    "(named after its host: kabar_sampit_example). Default: every stored page.",
)
@click.option(
    "--since",
    callback=_since,
    metavar="DATE",
    help="Only pages fetched on/after this (YYYY-MM-DD is 00:00 UTC, or ISO 8601).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Records per archive write.",
)
@click.pass_context
def reparse(
    ctx: click.Context, source: str | None, since: datetime | None, batch_size: int
) -> None:
    """Re-parse stored article pages and update the archive (versions as in a crawl)."""
    options = ctx.find_object(ArchiveOptions)
    if options is None:
        raise click.UsageError("reparse runs as a subcommand: python -m crawler reparse")
    with options.open() as archive:
        result = reparse_pages(archive.db, source=source, since=since, batch_size=batch_size)
    for line in result.lines():
        click.echo(line)
    if result.pages == 0:
        click.echo("no stored pages matched", err=True)
