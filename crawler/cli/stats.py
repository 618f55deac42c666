"""``python -m crawler stats``: counts per group and field coverage."""

from __future__ import annotations

import json

import click

from crawler.archive.query import STATS_GROUPS
from crawler.cli.options import (
    WHEN,
    ArchiveCommand,
    ArchiveOptions,
    check_window,
    pass_options,
)


@click.command(cls=ArchiveCommand)
@click.option("--by", type=click.Choice(STATS_GROUPS), default="source", show_default=True)
@click.option("--since", type=WHEN, help="Only articles published on/after this date.")
@click.option("--until", type=WHEN, help="Only articles published on/before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@pass_options
def stats(
    options: ArchiveOptions, by: str, since: str | None, until: str | None, as_json: bool
) -> None:
    """Counts per group, field coverage (share non-empty), duplicate share and the number of
    stories carried by more than one desk."""
    check_window(since, until)
    with options.open() as archive:
        result = archive.stats(by=by, since=since, until=until)
    if as_json:
        payload = {
            "total": result.total,
            "duplicates": result.duplicates,
            "duplicate_share": result.duplicate_share,
            "by": by,
            "groups": [{"key": key, "count": count} for key, count in result.groups],
            "coverage": result.coverage,
            "multi_desk_stories": result.multi_desk_stories,
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"records: {result.total}   duplicates: {result.duplicates} "
        f"({result.duplicate_share:.1%})   stories on several desks: "
        f"{result.multi_desk_stories}\n"
    )
    click.echo(f"{by.upper():40} {'COUNT':>8}")
    for key, count in result.groups:
        click.echo(f"{str(key if key is not None else '(none)')[:40]:40} {count:>8}")
    click.echo(f"\n{'FIELD':40} {'COVERAGE':>8}")
    for name, share in result.coverage.items():
        click.echo(f"{name:40} {share:>8.1%}")
