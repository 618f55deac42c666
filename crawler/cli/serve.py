"""``python -m crawler serve``: hold the embedded server up for mongosh, Compass, BI tools, or
as a service that CLI calls and notebooks find; ``serve --stop`` stops a lingering one."""

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

#: ``serve --stop`` of a server that clients still use (EX_TEMPFAIL, as ``run`` when locked).
EXIT_IN_USE = 75
#: Signals that stop serving (Ctrl-C, systemd's or kill's stop).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=27017, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; 0.0.0.0 exposes the archive (no auth) to the network.",
)
@click.option(
    "--stop",
    is_flag=True,
    help="Stop the server of DATA_DIR now if no client uses it (a lingering one), then exit.",
)
@pass_options
def serve(options: ArchiveOptions, port: int, host: str, stop: bool) -> None:
    """Run the embedded archive server in the foreground for mongosh, Compass, BI tools.

    Prints the connection URI and keeps the server up until Ctrl-C or SIGTERM; every CLI call
    and notebook meanwhile finds it running (run it under systemd, or `nohup ... &`, to keep
    the archive up as a service). If a server already runs for DATA_DIR (a crawl or an earlier
    command started it), serves that one instead of starting a second. Ctrl-C stops the server
    unless a crawl or another client still uses it.

    Without `serve`, the server stays up EMBEDDED_SERVER_LINGER_SECONDS (default 600) after
    its last client. `serve --stop` stops such a lingering server at once; it exits 0 when
    no server runs any more, 75 when clients still use it (their pids are printed).
    """
    root = Path(options.data_dir)
    raise SystemExit(stop_lingering(root) if stop else serve_foreground(root, host, port))


def stop_lingering(data_dir: Path) -> int:
    """Stop the server of ``data_dir`` if no client holds a lease on it; the exit code."""
    root = data_dir.resolve()
    try:
        result = embedded.stop_if_unused(root)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_UNAVAILABLE
    if result.holders:
        pids = ", ".join(str(pid) for pid in sorted(set(result.holders)))
        click.echo(
            f"The server for {root} (pid {result.pid}) is in use by {len(result.holders)} "
            f"client(s) (pid {pids}); left running for them.",
            err=True,
        )
        return EXIT_IN_USE
    if result.stopped:
        click.echo(f"Stopped the server for {root} (pid {result.pid}).", err=True)
    else:
        click.echo(f"No server runs for {root}.", err=True)
    return EXIT_OK


def serve_foreground(data_dir: Path, host: str, port: int) -> int:
    """Hold a lease on the embedded server of ``data_dir`` until interrupted; the exit code.

    It follows :mod:`crawler.archive.server`'s protocol like every other client: find or start
    the server (on ``host``:``port`` if it has to start it), hold a lease while serving, release
    it on Ctrl-C or SIGTERM. Then the server is stopped unless another client holds a lease:
    whoever stops ``serve`` means the server to stop, not to linger.
    """
    root = data_dir.resolve()
    try:
        running = embedded.find_or_start_server(root, host=host, port=port, linger=0)
    except (embedded.EmbeddedServerError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_UNAVAILABLE
    # SIGINT too: started from a script in the background, serve inherits SIGINT ignored,
    # and Python then leaves it so (no KeyboardInterrupt): Ctrl-C or kill -INT did nothing.
    previous = {number: signal.signal(number, _interrupt) for number in _STOP_SIGNALS}
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
        for number, handler in previous.items():
            signal.signal(number, handler)
        running.release()
    if running.alive():  # a client uses it, or asked it to linger: stopped unless in use
        stop_lingering(root)
    return EXIT_OK


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
