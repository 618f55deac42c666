"""``python -m crawler run SPIDER``: one scheduled crawl (see :mod:`crawler.ops.runner`)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from crawler.ops import runner

#: Group options that, given on the command line, override the project settings.
_GROUP_OPTIONS = {"mongo_uri": "MONGO_URI", "data_dir": "DATA_DIR", "database": "MONGO_DATABASE"}


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint=what)
        pairs.append((name, rest))
    return pairs


@click.command(
    epilog=f"""Exit codes: 0 the run succeeded; 1 it failed (finish reason, errors, a
    monitor, a crash); 2 usage error; {runner.EX_TEMPFAIL} another run of SPIDER is active.""",
)
@click.argument("spider")
@click.argument("extra_args", nargs=-1, metavar="[NAME=VALUE]...")
@click.option("-a", "spider_args", multiple=True, metavar="NAME=VALUE", help="Spider argument.")
@click.option("-s", "settings", multiple=True, metavar="NAME=VALUE", help="Setting override.")
@click.pass_context
def run(
    ctx: click.Context,
    spider: str,
    extra_args: tuple[str, ...],
    spider_args: tuple[str, ...],
    settings: tuple[str, ...],
) -> None:
    """Crawl SPIDER once, as cron does: under a lock, logging to LOG_DIR/SPIDER/, recording
    the run in crawl_runs, exiting non-zero when it failed.

    Spider arguments go as -a NAME=VALUE or bare NAME=VALUE, e.g.
    `python -m crawler run antara_kalteng since=2026-01-01 -s LOG_KEEP=24`.
    """
    overrides = _pairs(settings, "-s")
    group = ctx.parent
    if group is not None:
        for param, setting in _GROUP_OPTIONS.items():
            value = group.params.get(param)
            source = group.get_parameter_source(param)
            if value and source is ParameterSource.COMMANDLINE:
                overrides.insert(0, (setting, str(value)))
    arguments = _pairs(extra_args, "NAME=VALUE") + _pairs(spider_args, "-a")
    ctx.exit(runner.run(spider, arguments, overrides))
