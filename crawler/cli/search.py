"""``python -m crawler search``: find articles, newest first."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import click

from crawler.archive.export import to_jsonable
from crawler.cli.options import (
    EXIT_NOT_FOUND,
    ArchiveCommand,
    ArchiveOptions,
    filter_options,
    filters,
    pass_options,
    short_date,
)


@click.command(cls=ArchiveCommand)
@filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines (ISO 8601 UTC datetimes).")
@pass_options
def search(options: ArchiveOptions, as_json: bool, **kwargs: Any) -> None:
    """Find articles, newest first. TEXT is words and "quoted phrases", matched as whole
    words in the title or body, ignoring case and accents ("kafe" finds "Kafé", not
    "kafetaria").

    TEXT and --author take up to 1000 characters. Exits 1 when nothing matched (like grep).
    """
    found = 0
    with options.open() as archive:
        for record in archive.search(**filters(kwargs)):
            if as_json:
                click.echo(json.dumps(to_jsonable(record), ensure_ascii=False))
            else:
                if not found:
                    click.echo(f"{'PUBLISHED (UTC)':16}  {'SOURCE':16}  {'TITLE':60}  URL")
                title = textwrap.shorten(str(record.get("title") or ""), 60, placeholder="…")
                source = str(record.get("source") or "-")[:16]
                published = short_date(record.get("published_at"))
                click.echo(f"{published:16}  {source:16}  {title:60}  {record.get('url')}")
            found += 1
    if not found:
        click.echo("no matching articles", err=True)
        raise SystemExit(EXIT_NOT_FOUND)
