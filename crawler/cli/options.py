"""What the ``python -m crawler`` commands share: exit codes, option types, the archive.

Bad input is refused while click parses it (exit 2, before any connection), with the same
checks the Python API applies (:mod:`crawler.archive.query_filter`). Anything that still goes wrong
inside a command is turned by :class:`ArchiveCommand` into one line on stderr and an exit code;
the traceback is logged only with ``-vv``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import click
from pymongo.database import Database
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from crawler.archive.export import csv_cell
from crawler.archive.query import Archive, ArchiveUnavailableError
from crawler.archive.query_filter import (
    MAX_LIMIT,
    MAX_TEXT_LENGTH,
    ArchiveQueryError,
    check_text,
    parse_when,
    url_candidates,
)

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
#: sysexits.h codes, as ``run`` uses EX_TEMPFAIL (75): bad input data / internal error / I/O.
EXIT_DATAERR = 65
EXIT_SOFTWARE = 70
EXIT_IO_ERROR = 74
EXIT_TEMPFAIL = 75
#: The group's epilog; ``\b`` keeps click from re-wrapping it into one paragraph.
EXIT_CODES_HELP = f"""\b
Exit codes:
{EXIT_OK} ok
{EXIT_NOT_FOUND} nothing found (search with no match, show of an unknown URL)
{EXIT_USAGE} usage error: a bad option, date or URL, text over {MAX_TEXT_LENGTH} characters,
  an argument that is not UTF-8, an output directory that does not exist, an input
  file that does not exist or is named .gz but is not gzip
{EXIT_UNAVAILABLE} archive unreachable or failing (or the embedded server cannot start)
{EXIT_DATAERR} import: some lines were rejected (the good ones were imported)
{EXIT_SOFTWARE} internal error (a bug)
{EXIT_IO_ERROR} a file could not be written or read (disk full, I/O error)
{EXIT_TEMPFAIL} recount: other writers wrote meanwhile (run it again when nothing writes)
Errors are a message on stderr, never a traceback (-vv adds it). `run` has its own codes.
"""
F = TypeVar("F", bound=Callable[..., Any])
#: MongoDB database names: no empty name, none of these characters, at most 63 UTF-8 bytes.
_DATABASE_FORBIDDEN = ' ./\\$"\x00'
_DATABASE_MAX_BYTES = 63


def fail(code: int, message: str) -> NoReturn:
    """Print ``error: message`` (its first line) to stderr and exit with ``code``."""
    click.echo(f"error: {message.splitlines()[0] if message else code}", err=True)
    raise SystemExit(code)


@dataclass
class ArchiveOptions:
    """Which archive to open, from the group's options (each falls back to its env var)."""

    mongo_uri: str | None
    data_dir: str
    database: str
    timeout: float
    verbose: int = 0

    @contextlib.contextmanager
    def open(self) -> Iterator[Archive]:
        """The archive; exit 3 when its server is unreachable, 2 when the URI is malformed."""
        try:
            archive = Archive.connect(
                self.mongo_uri, self.database, self.data_dir, int(self.timeout * 1000)
            )
        except (ArchiveUnavailableError, ConnectionFailure) as exc:
            fail(EXIT_UNAVAILABLE, f"archive unreachable: {exc}")
        except (ConfigurationError, ValueError) as exc:
            if not self.mongo_uri:  # then no URI was parsed: not the user's mistake
                raise
            # pymongo's URI parser: a bad scheme or option, a port out of range, ...
            raise click.UsageError(f"invalid --mongo-uri / MONGO_URI: {exc}") from exc
        with archive:
            try:
                yield archive
            except ConnectionFailure as exc:
                fail(EXIT_UNAVAILABLE, f"archive unreachable: {exc}")


class ArchiveCommand(click.Command):
    """A command whose failures end as one stderr line and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click reports these itself (BrokenPipe: stdout closed, e.g. by `head`)
        except ArchiveQueryError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        except ArchiveUnavailableError as exc:  # an OSError, but about the archive
            fail(EXIT_UNAVAILABLE, f"archive unreachable: {exc}")
        except PyMongoError as exc:
            _traceback_if_verbose(ctx)
            details = exc.details if isinstance(exc, OperationFailure) else None
            fail(EXIT_UNAVAILABLE, f"archive error: {(details or {}).get('errmsg') or exc}")
        except OSError as exc:
            _traceback_if_verbose(ctx)
            fail(EXIT_IO_ERROR, str(exc))
        except Exception as exc:
            _traceback_if_verbose(ctx)
            fail(EXIT_SOFTWARE, f"internal error: {type(exc).__name__}: {exc} (-vv: traceback)")


def _traceback_if_verbose(ctx: click.Context | None = None) -> None:
    """With ``-vv``, the traceback of the exception being handled, to stderr.

    Printed, not logged: logging may already be configured (notebooks, tests) elsewhere.
    """
    ctx = ctx or click.get_current_context(silent=True)
    options = ctx.find_object(ArchiveOptions) if ctx is not None else None
    if options is not None and options.verbose >= 2:
        click.echo(traceback.format_exc().rstrip(), err=True)


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """Exit 74 with the reason when ``out`` cannot be written (disk full, I/O error, ...)."""
    try:
        yield
    except OSError as exc:
        _traceback_if_verbose()
        fail(EXIT_IO_ERROR, f"cannot write {out}: {exc.strerror or exc}")


class Text(click.ParamType):
    """A string the archive can take: valid UTF-8, at most ``max_length`` characters."""

    name = "TEXT"

    def __init__(self, what: str, max_length: int = MAX_TEXT_LENGTH) -> None:
        self.what = what
        self.max_length = max_length

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return check_text(value, self.what, self.max_length)
        except ArchiveQueryError as exc:
            self.fail(str(exc), param, ctx)


class Url(click.ParamType):
    """An article URL that can be parsed (``http://[::1`` cannot)."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            url_candidates(value)
        except ArchiveQueryError as exc:
            self.fail(str(exc), param, ctx)
        return value


class When(click.ParamType):
    """A date (``YYYY-MM-DD``, a whole UTC day) or an ISO 8601 datetime; naive means UTC."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            parse_when(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not YYYY-MM-DD or an ISO 8601 datetime", param, ctx)
        return value


class OutputFile(click.Path):
    """A file to write, in a directory that exists (a missing one is a usage error)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not os.fsdecode(value).strip():  # Path("") is ".", the current directory
            self.fail("an empty path is no file name", param, ctx)
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        parent = path.parent
        if not parent.exists():
            self.fail(f"directory does not exist: {parent}", param, ctx)
        if not parent.is_dir():
            self.fail(f"not a directory: {parent}", param, ctx)
        return path


WHEN = When()


def database_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--database``: a name MongoDB and SecantusDB accept."""
    try:
        name = check_text(value, "database name")
    except ArchiveQueryError as exc:
        raise click.BadParameter(str(exc)) from None
    bad = sorted({char for char in name if char in _DATABASE_FORBIDDEN})
    if not name or bad or len(name.encode("utf-8")) > _DATABASE_MAX_BYTES:
        raise click.BadParameter(
            f"{name!r} is not a database name (1 to {_DATABASE_MAX_BYTES} bytes, "
            f"none of {_DATABASE_FORBIDDEN[:-1]!r} or NUL)"
        )
    return name


def finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Rejects NaN, which every range check lets through."""
    if math.isnan(value):
        raise click.BadParameter("must be a number of seconds, not nan")
    return value


def check_window(since: str | None, until: str | None) -> None:
    """Usage error when ``--until`` ends before ``--since`` starts (nothing could match)."""
    if since is None or until is None:
        return
    start, _ = parse_when(since)
    end, inclusive = parse_when(until, end=True)
    if end < start or (end == start and not inclusive):
        raise click.UsageError(f"--until {until} is before --since {since}")


def filter_options(command: F) -> F:
    """The search filters shared by ``search`` and ``export``."""
    options = [
        click.argument("text", required=False, type=Text("search text")),
        click.option(
            "--source", type=Text("source"), help="Spider name, exact (e.g. antara_kalteng)."
        ),
        click.option("--since", type=WHEN, help="Published on/after (YYYY-MM-DD or ISO 8601)."),
        click.option("--until", type=WHEN, help="Published on/before (a date includes the day)."),
        click.option("--tag", type=Text("tag"), help="Exact tag."),
        click.option(
            "--author",
            type=Text("author"),
            help="Author name contains this (case/accent-insensitive).",
        ),
        click.option(
            "--unique", is_flag=True, help="One record per story (its first-archived article)."
        ),
        click.option(
            "--limit", type=click.IntRange(min=0, max=MAX_LIMIT), help="At most N records."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filters(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The :meth:`Archive.search` arguments among a command's parameters, checked together."""
    names = ("text", "source", "since", "until", "tag", "author", "unique", "limit")
    check_window(kwargs["since"], kwargs["until"])
    return {name: kwargs[name] for name in names}


pass_options = click.make_pass_decorator(ArchiveOptions)


def short_date(value: Any) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM`` (UTC) for tables; ``-`` when empty."""
    return csv_cell("", value)[:16].replace("T", " ") if value else "-"


class _Lines(Protocol):
    def lines(self) -> list[str]: ...


def run_batched_job(
    ctx: click.Context,
    name: str,
    label: str,
    pending: Callable[[Database[Any]], int],
    work: Callable[[Database[Any], Callable[[int], None]], _Lines],
) -> None:
    """An archive maintenance command (``restory``, ``reindex``): ``work(db, progress)`` under
    a progress bar on stderr sized by ``pending(db)``, then its result's lines on stdout."""
    options = ctx.find_object(ArchiveOptions)
    if options is None:
        raise click.UsageError(f"{name} runs as a subcommand: python -m crawler {name}")
    with options.open() as archive:
        total = pending(archive.db)
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            result = work(archive.db, bar.update)
    for line in result.lines():
        click.echo(line)
