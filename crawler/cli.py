"""``python -m crawler``: the archive's command line, a thin layer over :class:`Archive`.

Adding a command from another module: define it with ``@click.command()`` there, take the
archive options from ``ctx.find_object(ArchiveOptions)`` (``with options.open() as archive``),
and register it at the bottom of this file with ``cli.add_command(...)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from pymongo.errors import ConnectionFailure

from crawler import mongo_server
from crawler.export import FORMATS, RECORD_FIELDS, csv_cell, to_jsonable
from crawler.query import STATS_GROUPS, Archive, ArchiveUnavailableError, parse_when

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class ArchiveOptions:
    """Which archive to open, from the group's options (each falls back to its env var)."""

    mongo_uri: str | None
    data_dir: str
    database: str
    timeout: float

    @contextlib.contextmanager
    def open(self) -> Iterator[Archive]:
        """The archive, or exit 3 with a message when its server is unreachable."""
        try:
            with Archive.connect(
                self.mongo_uri, self.database, self.data_dir, int(self.timeout * 1000)
            ) as archive:
                yield archive
        except (ArchiveUnavailableError, ConnectionFailure) as exc:
            click.echo(f"error: archive unreachable: {exc}", err=True)
            raise SystemExit(EXIT_UNAVAILABLE) from exc


class When(click.ParamType):
    """A date (``YYYY-MM-DD``, a whole UTC day) or an ISO 8601 datetime; naive means UTC."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            parse_when(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not YYYY-MM-DD or an ISO 8601 datetime", param, ctx)
        return value


WHEN = When()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""Exit codes: 0 ok; 1 nothing found (search with no match, show of an unknown URL);
    2 usage error; 3 archive unreachable (or the embedded server cannot start).""",
)
@click.option(
    "--mongo-uri",
    envvar="MONGO_URI",
    default=None,
    metavar="URI",
    help="MongoDB server [env MONGO_URI]; unset: the embedded server under DATA_DIR.",
)
@click.option(
    "--data-dir",
    envvar="DATA_DIR",
    default="./data",
    show_default=True,
    help="Embedded server data directory [env DATA_DIR].",
)
@click.option(
    "--database",
    envvar="MONGO_DATABASE",
    default="news_archive",
    show_default=True,
    help="Database name [env MONGO_DATABASE].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
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
    ctx.obj = ArchiveOptions(mongo_uri or None, data_dir, database, timeout)


pass_options = click.make_pass_decorator(ArchiveOptions)


def filter_options(command: F) -> F:
    """The search filters shared by ``search`` and ``export``."""
    options = [
        click.argument("text", required=False),
        click.option("--source", help="Spider name, exact (e.g. antara_kalteng)."),
        click.option("--since", type=WHEN, help="Published on/after (YYYY-MM-DD or ISO 8601)."),
        click.option("--until", type=WHEN, help="Published on/before (a date includes the day)."),
        click.option("--tag", help="Exact tag."),
        click.option("--author", help="Author name contains this (case/accent-insensitive)."),
        click.option(
            "--unique", is_flag=True, help="Skip duplicates (keep first-archived copies)."
        ),
        click.option("--limit", type=click.IntRange(min=0), help="At most N records."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("text", "source", "since", "until", "tag", "author", "unique", "limit")
    return {name: kwargs[name] for name in names}


def _short_date(value: Any) -> str:
    return csv_cell("", value)[:16].replace("T", " ") if value else "-"


@cli.command()
@filter_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines (ISO 8601 UTC datetimes).")
@pass_options
def search(options: ArchiveOptions, as_json: bool, **kwargs: Any) -> None:
    """Find articles, newest first. TEXT matches title and body, ignoring case and accents.

    Exits 1 when nothing matched (like grep).
    """
    found = 0
    with options.open() as archive:
        for record in archive.search(**_filters(kwargs)):
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


@cli.command()
@click.argument("url")
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


@cli.command()
@filter_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file (written as FILE.part, renamed when complete).",
)
@pass_options
def export(options: ArchiveOptions, fmt: str, out: Path, **kwargs: Any) -> None:
    """Stream matching articles to a file with constant memory.

    Datetimes are ISO 8601 UTC in jsonl/csv (typed timestamps in parquet). CSV lists are
    joined with " | " (a literal | or \\ in an item is backslash-escaped).
    """
    filters = _filters(kwargs)
    with options.open() as archive:
        if sys.stderr.isatty():
            total = archive.count(**{k: v for k, v in filters.items() if k != "limit"})
            if filters["limit"] is not None:
                total = min(total, filters["limit"])
            with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
                count = archive.export(out, fmt, progress=bar.update, **filters)
        else:
            count = archive.export(out, fmt, **filters)
    click.echo(f"exported {count} record(s) to {out}", err=True)


@cli.command()
@click.option("--by", type=click.Choice(STATS_GROUPS), default="source", show_default=True)
@click.option("--since", type=WHEN, help="Only articles published on/after this date.")
@click.option("--until", type=WHEN, help="Only articles published on/before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@pass_options
def stats(
    options: ArchiveOptions, by: str, since: str | None, until: str | None, as_json: bool
) -> None:
    """Counts per group, field coverage (share non-empty) and duplicate share."""
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


@cli.command()
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
@click.option("--since", type=WHEN, help="Only articles published on/after this date.")
@click.option("--top-tags", type=click.IntRange(min=1), default=20, show_default=True)
@pass_options
def report(options: ArchiveOptions, out: Path, since: str | None, top_tags: int) -> None:
    """Write one self-contained HTML page with charts (opens offline, no external resources)."""
    from crawler.report import write_report

    with options.open() as archive:
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

    Prints the connection URI; Ctrl-C stops it. If a server already runs for DATA_DIR (a
    crawl started it), prints that one's URI instead of starting a second.
    """
    raise SystemExit(serve_foreground(Path(options.data_dir), host, port))


def serve_foreground(data_dir: Path, host: str, port: int) -> int:
    """Run SecantusDB on ``data_dir`` until interrupted; return the exit code.

    It follows :mod:`crawler.mongo_server`'s protocol (the lock, the state file naming this
    process as the owner) so a crawl started meanwhile reuses this server instead of fighting
    over WiredTiger's lock. The server runs in its own session and is stopped with SIGTERM, so
    it always shuts WiredTiger down cleanly.
    """
    root = data_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    uri = mongo_server.server_uri(port)
    try:
        with mongo_server._locked(root):
            running = mongo_server._find_running(root)
            if running is not None and not running.owner:
                click.echo(
                    f"A server already runs for {root} (pid {running.pid}); "
                    "not starting a second one.",
                    err=True,
                )
                click.echo(running.uri)
                return EXIT_OK
            if running is None:
                process = _start_server(root, host, port)
                if not mongo_server._wait_ready(uri, process, mongo_server.START_TIMEOUT_SECONDS):
                    mongo_server._stop_process(process.pid, process)
                    click.echo(
                        f"error: no server started on {host}:{port} (port in use?)", err=True
                    )
                    return EXIT_UNAVAILABLE
                state = {
                    "pid": process.pid,
                    "port": port,
                    "uri": uri,
                    "storage_path": str(root / mongo_server.DB_SUBDIR),
                    "started_at": datetime.now(UTC).isoformat(),
                    "owner_pid": os.getpid(),
                }
                partial = root / f"{mongo_server.STATE_FILE}.serve"
                partial.write_text(json.dumps(state, indent=2), "utf-8")
                partial.replace(root / mongo_server.STATE_FILE)  # atomic for readers
                running = mongo_server.EmbeddedServer(uri, port, process.pid, root, True, process)
            else:  # its starter died without stopping it: we adopted it, serve that one
                click.echo(f"Adopted the server left running for {root}.", err=True)
    except mongo_server.EmbeddedServerError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_UNAVAILABLE
    click.echo(
        f"Serving the archive in {root / mongo_server.DB_SUBDIR}; Ctrl-C stops it.", err=True
    )
    click.echo(f'Connect with: mongosh "{running.uri}"', err=True)
    click.echo(running.uri)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while (
            running.process.poll() is None
            if running.process
            else mongo_server._pid_alive(running.pid)
        ):
            time.sleep(0.2)
        click.echo("The server exited.", err=True)
    except KeyboardInterrupt:
        click.echo("Stopping the server ...", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.release()
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _start_server(root: Path, host: str, port: int) -> subprocess.Popen[bytes]:
    """The same command line as :mod:`crawler.mongo_server` uses, on a port of our choosing."""
    config = root / mongo_server.CONFIG_FILE
    if not config.exists():
        config.write_text("# Settings for the embedded archive server; flags override.\n")
    cmd = [
        sys.executable, "-m", "secantus",
        "--config", str(config),
        "--host", host,
        "--port", str(port),
        "--storage-path", str(root / mongo_server.DB_SUBDIR),
        "--cache-size", mongo_server.CACHE_SIZE,
        "--log-level", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)


# Commands defined in other modules are registered here, e.g.:
#   from crawler.run import run
#   cli.add_command(run)

from crawler.cli_reparse import reparse  # noqa: E402

cli.add_command(reparse)

from crawler.cli_run import run  # noqa: E402

cli.add_command(run)
