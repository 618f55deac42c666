"""``python -m crawler frontier [status|clear]``: the shared crawl frontier on Redis."""

from __future__ import annotations

import sys

import click

from crawler.cli.options import EXIT_UNAVAILABLE, EXIT_USAGE
from crawler.ops.frontier_status import clear_crawl, crawl_status, spiders_in
from crawler.ops.redis_client import RedisUnreachable, open_redis


def _client(url: str | None) -> object:
    if not url:
        click.echo(
            "REDIS_URL is not set (env or --redis-url): there is no shared frontier", err=True
        )
        raise SystemExit(EXIT_USAGE)
    try:
        return open_redis(url)
    except RedisUnreachable as exc:
        click.echo(f"The shared frontier at {exc}", err=True)
        raise SystemExit(EXIT_UNAVAILABLE) from None


@click.command()
@click.argument("action", type=click.Choice(["status", "clear"]), default="status")
@click.argument("spiders", nargs=-1)
@click.option("--redis-url", envvar="REDIS_URL", metavar="URL", help="[env REDIS_URL]")
@click.option("--force", is_flag=True, help="clear: even while workers are alive.")
def frontier(action: str, spiders: tuple[str, ...], redis_url: str | None, force: bool) -> None:
    """Show the shared frontier (queue length, seen-set size, workers) of SPIDERS (default:
    every spider with something in it), or clear it. Clearing a crawl that live workers
    share is refused without --force: they would crawl on from nothing."""
    client = _client(redis_url)
    names = list(spiders) or spiders_in(client)
    if action == "status":
        if not names:
            click.echo("the shared frontier is empty")
        for name in names:
            status = crawl_status(client, name)
            click.echo(
                f"{name}: {status.queued} queued, {status.seen} seen, "
                f"{len(status.workers)} worker(s)"
            )
            for worker in status.workers:
                state = "alive" if worker.alive else "silent"
                click.echo(
                    f"  {worker.worker}  {state}  {worker.taken} taken, {worker.settling} "
                    f"settling, started {worker.started_at}"
                )
        return
    if not spiders:
        click.echo("clear needs the SPIDER(s) to clear", err=True)
        raise SystemExit(EXIT_USAGE)
    for name in names:
        alive = [w.worker for w in crawl_status(client, name).workers if w.alive]
        if alive and not force:
            click.echo(
                f"{name}: {len(alive)} live worker(s) ({', '.join(alive)}); "
                "not cleared (--force to clear anyway)",
                err=True,
            )
            sys.exit(EXIT_USAGE)
        click.echo(f"{name}: cleared ({clear_crawl(client, name)} key(s) deleted)")
