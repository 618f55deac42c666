"""``python -m crawler serve``: hold the embedded server up for mongosh, Compass, BI tools."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import click

from crawler.archive import server as embedded
from crawler.cli.options import (
    EXIT_OK,
    EXIT_UNAVAILABLE,
    ArchiveOptions,
    pass_options,
)


@click.command()
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

    It follows :mod:`crawler.archive.server`'s protocol like every other client: find or start
    the server (on ``host``:``port`` if it has to start it), hold a lease while serving, release
    it on Ctrl-C or SIGTERM. The server stops then only if no other client holds a lease.
    """
    root = data_dir.resolve()
    try:
        running = embedded.find_or_start_server(root, host=host, port=port)
    except (embedded.EmbeddedServerError, OSError) as exc:
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
            f"Serving the archive in {root / embedded.DB_SUBDIR}; Ctrl-C stops serving "
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
