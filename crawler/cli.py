"""``python -m crawler``: the archive's command line, a thin layer over :class:`Archive`.

Adding a command from another module: define it with ``@click.command(cls=ArchiveCommand)``
there (errors become one line and an exit code, see :mod:`crawler.cli_options`), take the
archive options from ``ctx.find_object(ArchiveOptions)`` (``with options.open() as archive``),
and register it at the bottom of this file with ``cli.add_command(...)``.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import click

from crawler import mongo_server
from crawler.cli_options import (
    EXIT_CODES_HELP,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    WHEN,
    ArchiveCommand,
    ArchiveOptions,
    OutputFile,
    Text,
    Url,
    check_window,
    database_name,
    filter_options,
    filters,
    finite,
    writing,
)
from crawler.export import FORMATS, RECORD_FIELDS, csv_cell, to_jsonable
from crawler.query import STATS_GROUPS

logger = logging.getLogger(__name__)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--mongo-uri",
    envvar="MONGO_URI",
    default=None,
    type=Text("--mongo-uri", max_length=10_000),
    metavar="URI",
    help="MongoDB server [env MONGO_URI]; unset: the embedded server under DATA_DIR.",
)
@click.option(
    "--data-dir",
    envvar="DATA_DIR",
    default="./data",
    show_default=True,
    # UTF-8 only: SecantusDB cannot start on a path that is not (it only timed out, exit 3).
    type=Text("--data-dir", max_length=4096),
    help="Embedded server data directory [env DATA_DIR].",
)
@click.option(
    "--database",
    envvar="MONGO_DATABASE",
    default="news_archive",
    show_default=True,
    callback=database_name,
    help="Database name [env MONGO_DATABASE].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=86_400),
    callback=finite,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the server before giving up (exit 3).",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) to stderr.")
@click.version_option(package_name=None, version="0.1.0", prog_name="news-archive")
@click.pass_context
def cli(
    ctx: click.Context,
    mongo_uri: str | None,
    data_dir: str,
    database: str,
    timeout: float,
    verbose: int,
) -> None:
    """Search, export and summarise the news archive.

    The archive is chosen as the crawler chooses it: --mongo-uri / MONGO_URI, else the
    embedded SecantusDB server for --data-dir / DATA_DIR (started if none runs).
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = ArchiveOptions(mongo_uri or None, data_dir, database, timeout, verbose)


pass_options = click.make_pass_decorator(ArchiveOptions)


def _short_date(value: Any) -> str:
    return csv_cell("", value)[:16].replace("T", " ") if value else "-"


@cli.command(cls=ArchiveCommand)
@filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines (ISO 8601 UTC datetimes).")
@pass_options
def search(options: ArchiveOptions, as_json: bool, **kwargs: Any) -> None:
    """Find articles, newest first. TEXT matches title and body, ignoring case and accents.

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
                published = _short_date(record.get("published_at"))
                click.echo(f"{published:16}  {source:16}  {title:60}  {record.get('url')}")
            found += 1
    if not found:
        click.echo("no matching articles", err=True)
        raise SystemExit(EXIT_NOT_FOUND)


@cli.command(cls=ArchiveCommand)
@click.argument("url", type=Url())
@click.option("--json", "as_json", is_flag=True, help='One JSON object: {"record", "history"}.')
@pass_options
def show(options: ArchiveOptions, url: str, as_json: bool) -> None:
    """Show one article (any URL variant) and its versions. Exits 1 if it is not archived."""
    with options.open() as archive:
        record = archive.get(url)
        history = archive.history(url) if record is not None else []
    if record is None:
        click.echo(f"not in the archive: {url}", err=True)
        raise SystemExit(EXIT_NOT_FOUND)
    if as_json:
        versions = [to_jsonable(version) for version in history]
        click.echo(
            json.dumps(
                {"record": to_jsonable(record), "history": versions}, ensure_ascii=False, indent=2
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
        state = f"replaced {_short_date(when)}" if when else "current"
        digest = str(version.get("content_hash") or "")[:12]
        click.echo(
            f"  v{version.get('version')}  first seen {_short_date(version.get('first_seen_at'))}"
            f"  {state:26}  {digest}  {version.get('title')}"
        )


@cli.command(cls=ArchiveCommand)
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


@cli.command(cls=ArchiveCommand)
@click.option("--by", type=click.Choice(STATS_GROUPS), default="source", show_default=True)
@click.option("--since", type=WHEN, help="Only articles published on/after this date.")
@click.option("--until", type=WHEN, help="Only articles published on/before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@pass_options
def stats(
    options: ArchiveOptions, by: str, since: str | None, until: str | None, as_json: bool
) -> None:
    """Counts per group, field coverage (share non-empty) and duplicate share."""
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
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"records: {result.total}   duplicates: {result.duplicates} "
        f"({result.duplicate_share:.1%})\n"
    )
    click.echo(f"{by.upper():40} {'COUNT':>8}")
    for key, count in result.groups:
        click.echo(f"{str(key if key is not None else '(none)')[:40]:40} {count:>8}")
    click.echo(f"\n{'FIELD':40} {'COVERAGE':>8}")
    for name, share in result.coverage.items():
        click.echo(f"{name:40} {share:>8.1%}")


@cli.command(cls=ArchiveCommand)
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
    from crawler.report import write_report

    with options.open() as archive, writing(out):
        write_report(archive, out, since=since, top_tags=top_tags)
    click.echo(f"report written to {out}", err=True)


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=27017, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; 0.0.0.0 exposes the archive (no auth) to the network.",
)
@pass_options
def serve(options: ArchiveOptions, port: int, host: str) -> None:
    """Run the embedded archive server in the foreground for mongosh, Compass, BI tools.

    Prints the connection URI and keeps the server up until Ctrl-C. If a server already runs
    for DATA_DIR (a crawl started it), prints that one's URI and keeps it up instead of
    starting a second. Ctrl-C stops the server only if no crawl or other client still uses it.
    """
    raise SystemExit(serve_foreground(Path(options.data_dir), host, port))


def serve_foreground(data_dir: Path, host: str, port: int) -> int:
    """Hold a lease on the embedded server of ``data_dir`` until interrupted; the exit code.

    It follows :mod:`crawler.mongo_server`'s protocol like every other client: find or start
    the server (on ``host``:``port`` if it has to start it), hold a lease while serving, release
    it on Ctrl-C or SIGTERM. The server stops then only if no other client holds a lease.
    """
    root = data_dir.resolve()
    try:
        running = mongo_server.find_or_start_server(root, host=host, port=port)
    except (mongo_server.EmbeddedServerError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_UNAVAILABLE
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not running.owner:
            click.echo(
                f"A server already runs for {root} (pid {running.pid}); "
                "not starting a second one: serving that one.",
                err=True,
            )
        click.echo(
            f"Serving the archive in {root / mongo_server.DB_SUBDIR}; Ctrl-C stops serving "
            "(the server stops if no crawl or other client uses it).",
            err=True,
        )
        click.echo(f'Connect with: mongosh "{running.uri}"', err=True)
        click.echo(running.uri)
        while running.alive():
            time.sleep(0.2)
        click.echo("The server exited.", err=True)
    except KeyboardInterrupt:
        click.echo("Releasing the server ...", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.release()
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# Commands defined in other modules are registered here, e.g.:
#   from crawler.run import run
#   cli.add_command(run)

from crawler.cli_reparse import reparse  # noqa: E402

cli.add_command(reparse)

from crawler.cli_run import run  # noqa: E402

cli.add_command(run)
