"""``python -m crawler show URL``: one article and its versions."""

from __future__ import annotations

import json
from typing import Any

import click

from crawler.archive.export import RECORD_FIELDS, csv_cell, to_jsonable
from crawler.archive.store import ARTICLES
from crawler.archive.stories import story_members
from crawler.cli.options import (
    EXIT_NOT_FOUND,
    ArchiveCommand,
    ArchiveOptions,
    Url,
    pass_options,
    short_date,
)


@click.command(cls=ArchiveCommand)
@click.argument("url", type=Url())
@click.option(
    "--json", "as_json", is_flag=True, help='One JSON object: {"record", "history", "story"}.'
)
@pass_options
def show(options: ArchiveOptions, url: str, as_json: bool) -> None:
    """Show one article (any URL variant), its versions and the other articles of its story.
    Exits 1 if it is not archived."""
    with options.open() as archive:
        record = archive.get(url)
        history = archive.history(url) if record is not None else []
        others: list[dict[str, Any]] = []
        if record is not None and record.get("story_id"):
            others = story_members(archive.db[ARTICLES], record["story_id"], record["url"])
    if record is None:
        click.echo(f"not in the archive: {url}", err=True)
        raise SystemExit(EXIT_NOT_FOUND)
    if as_json:
        versions = [to_jsonable(version) for version in history]
        click.echo(
            json.dumps(
                {
                    "record": to_jsonable(record),
                    "history": versions,
                    "story": [to_jsonable(other) for other in others],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    names = [*RECORD_FIELDS, *(key for key in record if key not in RECORD_FIELDS)]
    for name in names:
        if name != "body":
            click.echo(f"{name:16} {csv_cell(name, record.get(name)) or '-'}")
    click.echo(f"\n{record.get('body') or ''}\n")
    click.echo(f"History ({len(history)} version{'s' if len(history) != 1 else ''}, oldest first):")
    for version in history:
        when = version.get("archived_at")
        state = f"replaced {short_date(when)}" if when else "current"
        digest = str(version.get("content_hash") or "")[:12]
        click.echo(
            f"  v{version.get('version')}  first seen {short_date(version.get('first_seen_at'))}"
            f"  {state:26}  {digest}  {version.get('title')}"
        )
    click.echo(f"Same story elsewhere ({len(others)}):")
    for other in others:
        when = short_date(other.get("published_at"))
        click.echo(f"  {other.get('source') or '-':20} {when}  {other.get('url')}")
